"""Results of record: the equal-budget comparison on every environment that exists -> benchmarks/results.md.

For each env (Pendulum-v1 and every registered ``zg/`` env that can be built here) it runs ``zg-compare`` with
every algorithm and >= 3 seeds on the budgets of ``configs/`` (scaled by ``--budget-scale``, or per env by
``--env-scale ENV=FACTOR``), keeps the run folders under ``--out`` (re-running resumes unfinished runs and skips
finished ones), copies each ``comparison.png`` next to the report, and writes ``benchmarks/results.md`` with the
command at the top, one section per env (its budget, the scale, the env steps each algorithm actually used, the
table) and a "Reading" section.

Re-running updates the sections of the envs it runs and keeps everything else of the existing file: the
sections of envs not run this time (so ``--envs zg/CharacterMimic-v0 --env-scale zg/CharacterMimic-v0=0.05``
refreshes one env) and the "Reading" section, which a person writes after looking at the numbers (any
``## Reading...`` heading, kept with its text and subsections).

    python scripts/run_results.py                                   # the full thing (hours; a quiet machine)
    python scripts/run_results.py --budget-scale 0.2 --env-scale zg/CharacterMimic-v0=0.05 \
        --env-scale zg/CharacterLocomotion-v0=0.05                  # design envs at 0.2x, characters at 0.05x
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

from zg_agent.compare import BUDGET_RULE, run_comparison  # noqa: E402
from zg_agent.config import ALGOS, load_config  # noqa: E402
from zg_agent.training import env_tag  # noqa: E402

READING_HEADING = "## Reading"
READING_PLACEHOLDER = (
    "_To be written after looking at the tables and curves: where ZeroGrads wins, where it loses, and why "
    "(dimension of theta, plateaus, episode length, noise). Re-running the script keeps this section._")


def available_envs(ids: list[str] | None = None) -> list[tuple[str, str]]:
    """``[(env_id, "" or why it cannot be built)]`` for ``ids`` (default Pendulum-v1 and every ``zg/`` id)."""
    from zg_agent.envs import make_env

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


def parse_env_scales(items: list[str], env_ids: list[str]) -> dict[str, float]:
    """``["ENV=FACTOR", ...]`` -> ``{env: factor}``; each env must be one of ``env_ids``, each factor > 0."""
    scales: dict[str, float] = {}
    for item in items:
        env_id, sep, factor = item.rpartition("=")
        if not sep or not env_id:
            raise ValueError(f"--env-scale {item!r} must look like ENV=FACTOR, e.g. zg/CharacterMimic-v0=0.05")
        try:
            value = float(factor)
        except ValueError:
            raise ValueError(f"--env-scale {item!r}: FACTOR must be a number, got {factor!r}") from None
        if not value > 0:
            raise ValueError(f"--env-scale {item!r}: FACTOR must be > 0, got {value}")
        if env_id not in env_ids:
            raise ValueError(f"--env-scale {item!r}: {env_id!r} is not among the envs of this run {env_ids}")
        scales[env_id] = value
    return scales


def old_sections(md: Path) -> tuple[list[tuple[str, str]], str | None]:
    """The ``## `` sections of an existing report as ``[(title, text)]`` (text includes the heading line) and
    the Reading section's text (None when there is none)."""
    if not md.is_file():
        return [], None
    sections, title, lines = [], None, []
    for line in md.read_text().splitlines():
        if line.startswith("## "):
            if title is not None:
                sections.append((title, "\n".join(lines).rstrip("\n")))
            title, lines = line[3:].strip(), [line]
        elif title is not None:
            lines.append(line)
    if title is not None:
        sections.append((title, "\n".join(lines).rstrip("\n")))
    reading = next((text for t, text in sections if t.startswith("Reading")), None)
    return [(t, text) for t, text in sections if not t.startswith("Reading")], reading


def old_reading(md: Path) -> str:
    """The Reading section of an existing report (heading included), or the placeholder."""
    return old_sections(md)[1] or f"{READING_HEADING}\n\n{READING_PLACEHOLDER}"


def steps_used(runs, algos: list[str]) -> str:
    """``zerograds 19200, ..., ppo 16384`` (a range when the seeds differ)."""
    parts = []
    for algo in algos:
        used = sorted(int(r.steps[-1]) for r in runs if r.algo == algo and r.steps.size)
        if used:
            parts.append(f"{algo} {used[0]}" if used[0] == used[-1] else f"{algo} {used[0]}-{used[-1]}")
    return ", ".join(parts) or "-"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--envs", default=None, help="comma-separated env ids (default: every env that exists)")
    p.add_argument("--algos", default=",".join(ALGOS), help="comma-separated algorithms (default: all)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per algorithm (default 3)")
    p.add_argument("--budget-scale", type=float, default=1.0,
                   help="multiply the configured budgets and eval_every by this (default 1)")
    p.add_argument("--env-scale", dest="env_scales", action="append", default=[], metavar="ENV=FACTOR",
                   help="use FACTOR instead of --budget-scale for one env, e.g. zg/CharacterMimic-v0=0.05 "
                        "(repeatable)")
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
    if not args.budget_scale > 0:
        p.error(f"--budget-scale must be > 0, got {args.budget_scale}")
    envs = available_envs(args.envs.split(",") if args.envs else None)
    try:
        scales = parse_env_scales(args.env_scales, [e for e, _ in envs])
    except ValueError as exc:
        p.error(str(exc))
    md = Path(args.md)
    md.parent.mkdir(parents=True, exist_ok=True)
    fig_dir = md.parent / "results"
    fig_dir.mkdir(exist_ok=True)
    kept, reading = old_sections(md)
    new: dict[str, str] = {}
    missing, t0 = [], time.time()
    interrupted = False
    for env_id, why in envs:
        if why:
            missing.append(f"- `{env_id}`: not run ({why})")
            continue
        scale = scales.get(env_id, args.budget_scale)
        budget, extra = scaled_overrides(env_id, algos, scale)
        configured = max(load_config(a, env_id).budget for a in algos)
        out_dir = Path(args.out) / env_tag(env_id)
        print(f"== {env_id}: {', '.join(algos)} x {args.seeds} seeds, budget {budget} env steps (scale {scale:g}) "
              f"-> {out_dir}", flush=True)
        res = run_comparison(env_id, algos, seeds=range(args.seeds), budget=budget, out_dir=out_dir,
                             overrides=extra + args.overrides, backend=args.backend, progress=not args.no_progress,
                             command=command)
        if not res.table:
            missing.append(f"- `{env_id}`: no run produced an evaluation")
            continue
        png = fig_dir / f"{env_tag(env_id)}.png"
        shutil.copyfile(out_dir / "comparison.png", png)
        first = load_config(algos[0], env_id)
        ours = [r for r in res.runs if r.algo in algos]
        lines = [f"## {env_id}", "",
                 f"Budget {budget} env steps per run ({scale:g} x the configured {configured}), {args.seeds} "
                 f"seeds, evaluation every {extra[0].split('=')[1]} env steps; black-box policy `{first.policy}`. "
                 f"Env steps actually used per run: {steps_used(ours, algos)}. Run folders: `{out_dir}`. "
                 f"Produced by `{command}`.", "",
                 res.table, "", f"![{env_id}](results/{png.name})", ""]
        if res.failed:
            lines += ["Failed runs:", "", *[f"- {f}" for f in res.failed], ""]
        new[env_id] = "\n".join(lines).rstrip("\n")
        if res.interrupted:
            interrupted = True
            break
    # the sections of this run in env order, then those of earlier runs for envs not run now
    sections = [new[e] for e, _ in envs if e in new]
    sections += [text for title, text in kept if title not in new]
    header = [
        "# Results: equal-budget comparison", "",
        "Latest command:", "", "```", command, "```", "",
        f"Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs; "
        f"wall time of the latest command {time.time() - t0:.0f} s. Each table: evaluation return of the current "
        f"solution (theta mean / PPO's deterministic policy) on fixed evaluation seeds, mean over seeds with a 95% "
        f"bootstrap interval; env steps and wall time to reach 90% of the way from the initial to the best return. "
        f"Configs: `configs/<algo>.yaml`; each section names its budget, its scale of the configured budget and "
        f"the command that produced it.", "", BUDGET_RULE, ""]
    if missing:
        header += ["Environments not run by the latest command:", "", *missing, ""]
    body = "\n\n".join(sections + [reading or f"{READING_HEADING}\n\n{READING_PLACEHOLDER}"])
    md.write_text("\n".join(header) + "\n" + body + "\n")
    print(f"wrote {md}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
