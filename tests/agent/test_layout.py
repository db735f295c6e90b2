"""The package layout: no import cycles inside zg_agent, every module imports on its own, and the old module
names keep re-exporting the new ones."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import zg_agent

ROOT = Path(zg_agent.__file__).resolve().parent


def _module_names() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        rel = p.relative_to(ROOT.parent).with_suffix("")
        out[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = p
    return out


def _imports(name: str, path: Path, modules) -> set[str]:
    """zg_agent modules that ``name`` imports anywhere (functions included), ``TYPE_CHECKING`` blocks aside."""
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for i in ast.walk(tree)
                   if isinstance(i, ast.If) and getattr(i.test, "id", "") == "TYPE_CHECKING"
                   for b in i.body for n in ast.walk(b)}
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    deps = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else [])) if node.level else node.module
            for a in node.names:
                sub = f"{target}.{a.name}"
                deps.add(sub if sub in modules else target)
        elif isinstance(node, ast.Import):
            deps |= {a.name for a in node.names}
    return {d for d in deps if d in modules and d != name}


def test_every_import_inside_zg_agent_names_a_module():
    """Also the imports inside functions, which importing a module does not run."""
    modules = _module_names()
    missing = []
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = package[:len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                if target not in modules:
                    missing.append(f"{name}: from {'.' * node.level}{node.module or ''} ({target})")
    assert not missing, missing


def test_no_import_cycles():
    modules = _module_names()
    graph = {m: _imports(m, p, modules) for m, p in modules.items()}

    def related(a, b):  # a package and its own submodules
        return a.startswith(b + ".") or b.startswith(a + ".")

    cycles = []

    def visit(node, stack):
        for dep in graph[node]:
            if dep in stack:
                cycle = stack[stack.index(dep):] + [dep]
                if not all(related(a, b) for a, b in zip(cycle, cycle[1:])):
                    cycles.append(" -> ".join(cycle))
            elif len(stack) < len(graph):
                visit(dep, stack + [dep])

    for m in graph:
        visit(m, [m])
    assert not cycles, sorted(set(cycles))[:5]


def test_every_module_imports_on_its_own():
    names = ["zg_agent.cli"] + [m.name for m in pkgutil.walk_packages(zg_agent.__path__, "zg_agent.")
                                if not m.name.endswith("_forkserver_init")]
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    for name in names:  # each in a fresh interpreter: an import that works only after another one fails here
        proc = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"{name}: {proc.stderr[-2000:]}"


def test_old_module_names_reexport_the_new_ones():
    from zg_agent import objective, rollout, trainers, training

    assert trainers.train is training.train and trainers.load_solution is training.load_solution
    assert trainers.Trainer is training.Trainer and trainers.TrainResult is training.TrainResult
    assert objective.EpisodeObjective is rollout.EpisodeObjective and objective.BACKENDS is rollout.BACKENDS
