"""ShadowArt at scale: every black-box method on K = 16 (4,096 voxels) and K = 32 (32,768) with its shipped settings.

Writes ``benchmarks/shadow_art_scale.md`` (the command at the top) and a curve of loss against evaluations,
``benchmarks/results/shadow_art_scale.png``. Each row is one (grid, method, budget, seed) run, kept in
``benchmarks/results/shadow_art_scale.json`` as soon as it ends, so a stopped benchmark run again skips the
rows it has and the report can be rebuilt from them (``--report-only``).

    python scripts/bench_shadow_art.py --grid 32 --budget 100000 --methods zerograds,es,cma --seeds 2
    python scripts/bench_shadow_art.py --grid 16 --budget 1000000 --methods zerograds --seeds 1

The settings are the shipped configs' (``sigma``, ``popsize``, the empty start ``initial_action = -0.5``), with
``env_kwargs.grid`` changed, as a user would run ``zg-train --set env_kwargs.grid=32``. CMA-ES is the separable
variant above 1,000 dimensions (full covariance needs d^2 memory). Every design is evaluated through
``EpisodeObjective`` on the serial backend, which evaluates a whole population in one vectorised call.
References beside every row: the empty start, and the visual hull of the targets (the classical construction).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zg_agent.config import load_config  # noqa: E402
from zg_agent.optim import make_optimizer  # noqa: E402
from zg_agent.rollout.objective import EpisodeObjective  # noqa: E402
from zg_agent.tables import kept_reading  # noqa: E402
from zg_envs.references import reference_scores  # noqa: E402

ENV_ID = "zg/ShadowArt-v0"
METHODS = ("zerograds", "es", "cma", "random")
CURVE_POINTS = 60


def shipped(method: str, grid: int) -> tuple[dict, dict]:
    """(optimizer options, policy options) of the shipped config for ShadowArt."""
    cfg = load_config(method, ENV_ID)
    options = cfg.options.kwargs()
    if method == "cma":
        options["separable"] = grid ** 3 > 1000
    return options, dict(cfg.policy_options or {})


def run_row(grid: int, method: str, budget: int, seed: int) -> dict:
    options, policy_options = shipped(method, grid)
    with EpisodeObjective(ENV_ID, {"grid": grid}, "open_loop", policy_options, max_episode_steps=1,
                          seed=seed) as obj:
        seeds = obj.episode_seeds(0)
        x0 = obj.initial_params()
        opt = make_optimizer(method, x0, seed=seed, **options)
        every = max(budget // CURVE_POINTS, opt.popsize)
        curve, next_point = [(0, obj(x0, seeds))], every
        t_opt = t_eval = 0.0
        while opt.num_evaluations + opt.popsize <= budget:
            t0 = time.perf_counter()
            x = opt.ask()
            t1 = time.perf_counter()
            losses = obj.evaluate(x, seeds).losses
            t2 = time.perf_counter()
            opt.tell(x, losses)
            t_opt += (t1 - t0) + (time.perf_counter() - t2)
            t_eval += t2 - t1
            if opt.num_evaluations >= next_point:
                curve.append((opt.num_evaluations, obj(opt.mean, seeds)))
                next_point += every
        final = obj(opt.mean, seeds)
        curve.append((opt.num_evaluations, final))
    return {"grid": grid, "method": method, "budget": budget, "seed": seed, "final": final,
            "evals": opt.num_evaluations, "iterations": opt.num_iterations, "t_opt": t_opt, "t_eval": t_eval,
            "curve": curve, "options": {k: v for k, v in options.items() if not isinstance(v, np.ndarray)}}


def references(grid: int) -> dict:
    """Losses of the empty start, of uniformly random designs and of the targets' visual hull
    (:func:`zg_envs.references.reference_scores`, whose returns are minus these losses)."""
    env = gym.make(ENV_ID, grid=grid)
    try:
        refs = reference_scores(env)
    finally:
        env.close()
    return {"start": -refs.start, "random": -refs.random, "hull": -refs.upper}


def key(row) -> str:
    return f"{row['grid']}/{row['method']}/{row['budget']}/{row['seed']}"


def load_rows(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def save_rows(path: Path, rows: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, indent=1))
    tmp.replace(path)


def report(rows: dict, out: Path, png: Path, command: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grids = sorted({r["grid"] for r in rows.values()})
    refs = {g: references(g) for g in grids}
    lines = ["# ShadowArt at scale: loss of the final design against evaluations", "",
             f"Commands: {command}", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs, Python "
             f"{platform.python_version()}, torch {torch.__version__}. Loss = mean over the 3 screens of the "
             "fraction of wrong pixels (lower is better) of the method's final mean design. Every method uses "
             "its shipped ShadowArt settings with only the grid changed. Overhead = the optimizer's own time "
             "(ask + tell) / the time of evaluating its candidates, a ratio measured inside the same run.", ""]
    fig, axes = plt.subplots(1, len(grids), figsize=(6.5 * len(grids), 4.2), squeeze=False)
    for ax, g in zip(axes[0], grids):
        ref = refs[g]
        lines += [f"## K = {g} ({g ** 3:,} voxels)", "",
                  f"References: empty start {ref['start']:.4f}, uniformly random designs {ref['random']:.4f}, "
                  f"visual hull {ref['hull']:.4f}.", "",
                  "| Method | Evaluations | Seeds | Final loss (mean +- std) | Excess over the hull | "
                  "x hull | vs start | Overhead / eval time |",
                  "|---|---:|---:|---:|---:|---:|---|---:|"]
        groups: dict = {}
        for r in rows.values():
            if r["grid"] == g:
                groups.setdefault((r["method"], r["budget"]), []).append(r)
        for (method, budget), rs in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            finals = np.array([r["final"] for r in rs])
            excess = finals.mean() - ref["hull"]
            ratio = sum(r["t_opt"] for r in rs) / max(sum(r["t_eval"] for r in rs), 1e-12)
            verdict = "worse" if finals.mean() > ref["start"] + 1e-12 else ("same" if finals.mean() >= ref["start"]
                                                                             else "better")
            lines.append(f"| {method} | {budget:,} | {len(rs)} | {finals.mean():.4f} +- {finals.std():.4f} | "
                         f"{excess:.4f} | {finals.mean() / ref['hull']:.2f} | {verdict} | {ratio:.2f} |")
            curves = np.array([[p[1] for p in r["curve"]] for r in rs if len(r["curve"]) == len(rs[0]["curve"])])
            evals = np.array([p[0] for p in rs[0]["curve"]])
            shown = evals > 0  # a log axis: the start is the dotted line
            ax.plot(evals[shown], curves.mean(axis=0)[shown], label=f"{method} ({budget:,}, mean of {len(rs)})")
        ax.axhline(ref["hull"], color="k", ls="--", lw=1, label="visual hull")
        ax.axhline(ref["start"], color="gray", ls=":", lw=1, label="empty start")
        ax.set_xscale("log")
        ax.set_xlabel("evaluations")
        ax.set_ylabel("loss of the mean design")
        ax.set_title(f"ShadowArt K = {g} ({g ** 3:,} voxels)")
        ax.legend(fontsize=8)
        lines.append("")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    lines += [f"![loss against evaluations]({os.path.relpath(png, out.parent)})", ""]
    reading = kept_reading(out)
    out.write_text("\n".join(lines) + (f"\n{reading}\n" if reading else ""))
    print(f"wrote {out} and {png}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grid", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--methods", default="zerograds,es,cma")
    parser.add_argument("--budget", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--rows", default="benchmarks/results/shadow_art_scale.json")
    parser.add_argument("--out", default="benchmarks/shadow_art_scale.md")
    parser.add_argument("--png", default="benchmarks/results/shadow_art_scale.png")
    parser.add_argument("--report-only", action="store_true", help="rebuild the report from the kept rows")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    methods = args.methods.split(",")
    bad = sorted(set(methods) - set(METHODS))
    if bad:
        parser.error(f"--methods: unknown {bad}; allowed: {list(METHODS)}")
    if args.budget < 16 or args.seeds < 1:
        parser.error(f"--budget must be >= 16 and --seeds >= 1, got {args.budget} and {args.seeds}")
    rows_path, out = Path(args.rows), Path(args.out)
    rows = load_rows(rows_path)
    if not args.report_only:
        for grid in args.grid:
            for method in methods:
                for seed in range(args.seeds):
                    k = f"{grid}/{method}/{args.budget}/{seed}"
                    if k in rows:
                        continue
                    row = run_row(grid, method, args.budget, seed)
                    rows[key(row)] = row
                    save_rows(rows_path, rows)
                    print(f"K={grid} {method} budget={args.budget} seed={seed}: final {row['final']:.4f} "
                          f"(overhead/eval {row['t_opt'] / max(row['t_eval'], 1e-12):.2f})", flush=True)
    runs: dict = {}
    for r in rows.values():  # one command per grid and budget, naming its methods and seed count
        entry = runs.setdefault((r["grid"], r["budget"]), {})
        entry[r["method"]] = entry.get(r["method"], 0) + 1
    command = "; ".join(f"`python scripts/bench_shadow_art.py --grid {g} --budget {b} --methods {','.join(sorted(m))} "
                        f"--seeds {max(m.values())}`" for (g, b), m in sorted(runs.items()))
    report(rows, out, Path(args.png), command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
