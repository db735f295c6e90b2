"""Results of record: the equal-budget comparison on every environment that exists -> benchmarks/results.md.

For each env (Pendulum-v1 and every registered ``zg/`` env that can be built here) it runs ``zg-compare`` with
every algorithm and >= 3 seeds on the budgets of ``configs/`` (scaled by ``--budget-scale``), keeps the run
folders under ``--out`` (re-running resumes unfinished runs and skips finished ones), copies each
``comparison.png`` next to the report, and writes ``benchmarks/results.md`` with the command at the top, one
table per env and a "Reading" section. The reading is written by a person after looking at the numbers; the
script keeps an existing reading when it rewrites the file.

    python scripts/run_results.py                                   # the full thing (hours; a quiet machine)
    python scripts/run_results.py --budget-scale 0.05 --seeds 1 --envs Pendulum-v1 --md /tmp/r.md   # a smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zg_agent.compare import run_comparison  # noqa: E402
from zg_agent.config import ALGOS, load_config  # noqa: E402
from zg_agent.trainers import env_tag  # noqa: E402

READING_HEADING = "## Reading"
READING_PLACEHOLDER = (
    "_To be written after looking at the tables and curves: where ZeroGrads wins, where it loses, and why "
    "(dimension of theta, plateaus, episode length, noise). Re-running the script keeps this section._")


def available_envs(ids: list[str] | None = None) -> list[tuple[str, str]]:
    """``[(env_id, "" or why it cannot be built)]`` for ``ids`` (default Pendulum-v1 and every ``zg/`` id)."""
    from zg_agent.objective import make_env

    if ids is None:
        try:
            import zg_envs

            ids = ["Pendulum-v1", *zg_envs.ENV_IDS]
        except ImportError:
            ids = ["Pendulum-v1"]
    out = []
    for env_id in ids:
        try:
            make_env(env_id).close()
            out.append((env_id, ""))
        except Exception as exc:  # noqa: BLE001 - a missing env is reported, not fatal
            out.append((env_id, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"))
    return out


def scaled_overrides(env_id: str, algos: list[str], scale: float) -> tuple[int, list[str]]:
    """One budget for every algorithm (the largest configured, scaled) and a matching eval_every."""
    cfgs = [load_config(a, env_id) for a in algos]
    budget = max(1, int(round(max(c.budget for c in cfgs) * scale)))
    eval_every = max(1, int(round(min(c.eval_every for c in cfgs) * scale)))
    return budget, [f"eval_every={eval_every}"]


def old_reading(md: Path) -> str:
    if md.is_file():
        text = md.read_text()
        if READING_HEADING in text:
            return text.split(READING_HEADING, 1)[1].strip("\n")
    return READING_PLACEHOLDER


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", default=None, help="comma-separated env ids (default: every env that exists)")
    p.add_argument("--algos", default=",".join(ALGOS), help="comma-separated algorithms (default: all)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per algorithm (default 3)")
    p.add_argument("--budget-scale", type=float, default=1.0,
                   help="multiply the configured budgets and eval_every by this (default 1)")
    p.add_argument("--backend", default=None, help="evaluation backend of the black-box algorithms")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="[ALGO:]KEY=VALUE",
                   help="extra config overrides for every env (repeatable)")
    p.add_argument("--out", default="runs/results", help="folder of the comparison runs (default runs/results)")
    p.add_argument("--md", default="benchmarks/results.md", help="the report (default benchmarks/results.md)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)

    command = "python " + " ".join(shlex.quote(a) for a in [f"scripts/{Path(__file__).name}", *(
        sys.argv[1:] if argv is None else argv)])
    algos = [a for a in args.algos.split(",") if a]
    envs = available_envs(args.envs.split(",") if args.envs else None)
    md = Path(args.md)
    md.parent.mkdir(parents=True, exist_ok=True)
    fig_dir = md.parent / "results"
    fig_dir.mkdir(exist_ok=True)
    sections, missing, t0 = [], [], time.time()
    interrupted = False
    for env_id, why in envs:
        if why:
            missing.append(f"- `{env_id}`: not run ({why})")
            continue
        budget, extra = scaled_overrides(env_id, algos, args.budget_scale)
        out_dir = Path(args.out) / env_tag(env_id)
        print(f"== {env_id}: {', '.join(algos)} x {args.seeds} seeds, budget {budget} env steps -> {out_dir}",
              flush=True)
        res = run_comparison(env_id, algos, seeds=range(args.seeds), budget=budget, out_dir=out_dir,
                             overrides=extra + args.overrides, backend=args.backend, progress=not args.no_progress,
                             command=command)
        png = fig_dir / f"{env_tag(env_id)}.png"
        shutil.copyfile(out_dir / "comparison.png", png)
        first = load_config(algos[0], env_id)
        sections += [f"## {env_id}", "",
                     f"Budget {budget} env steps per run, {args.seeds} seeds, evaluation every {extra[0].split('=')[1]} "
                     f"env steps; black-box policy `{first.policy}`. Run folders: `{out_dir}`.", "",
                     res.table, "", f"![{env_id}](results/{png.name})", ""]
        if res.failed:
            sections += ["Failed runs:", "", *[f"- {f}" for f in res.failed], ""]
        if res.interrupted:
            interrupted = True
            break
    header = [
        "# Results: equal-budget comparison", "",
        "Produced by:", "", "```", command, "```", "",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs; "
        f"total wall time {time.time() - t0:.0f} s. Each table: evaluation return of the current solution "
        f"(theta mean / PPO's deterministic policy) on fixed evaluation seeds, mean over seeds with a 95% bootstrap "
        f"interval; env steps and wall time to reach 90% of the way from the initial to the best return. "
        f"Configs: `configs/<algo>.yaml`.", ""]
    if missing:
        header += ["Environments not run:", "", *missing, ""]
    md.write_text("\n".join(header + sections + [READING_HEADING, "", old_reading(md), ""]))
    print(f"wrote {md}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
