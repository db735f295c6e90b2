"""``comparison.md`` and ``comparison.png``: the tables (:func:`summarize`), the curves (:func:`plot_curves`)
and the report (:func:`write_report`, :func:`report_from_dir`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..config import ALGOS
from ..training import BUDGET_RULE
from ..training.run_dir import read_config_dict
from .runs import RunSummary, find_runs
from .statistics import bootstrap_band, bootstrap_ci


def _algo_order(names) -> list[str]:
    return sorted(set(names), key=lambda a: (ALGOS.index(a) if a in ALGOS else len(ALGOS), a))


def _fmt(v: float, digits: int = 4) -> str:
    if v is None or not math.isfinite(v):
        return "-"
    return f"{v:.{digits}g}"


def _fmt_ci(values) -> str:
    m, lo, hi = bootstrap_ci(values)
    if not math.isfinite(m):
        return "-"
    if len([v for v in values if math.isfinite(v)]) < 2:
        return _fmt(m)
    return f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}]"


def summarize(runs: list[RunSummary], fraction: float = 0.9, algos: list[str] | None = None) -> tuple[str, dict]:
    """The Markdown table of the comparison and the numbers behind it (per algorithm)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    algos = algos or _algo_order(r.algo for r in runs)
    usable = [r for r in runs if r.returns.size]
    r_star = max((r.best for r in usable), default=math.nan)
    initials = [r.initial for r in usable if math.isfinite(r.initial)]
    r0 = float(np.mean(initials)) if initials else math.nan
    threshold = r0 + fraction * (r_star - r0) if math.isfinite(r0) and math.isfinite(r_star) else math.nan
    pct = f"{fraction:.0%}"
    header = (f"| algorithm | seeds | final return | best return | env steps to {pct} | wall time to {pct} (s) "
              f"| env steps used | wall time (s) |")
    lines = [header, "|" + " --- |" * 8]
    numbers: dict[str, dict] = {}
    for algo in algos:
        rs = [r for r in usable if r.algo == algo]
        if not rs:
            lines.append(f"| {algo} | 0 | - | - | - | - | - | - |")
            continue
        reach = [r.first_reaching(threshold) for r in rs] if math.isfinite(threshold) else []
        reached = [x for x in reach if math.isfinite(x[0])]
        steps_to = float(np.mean([x[0] for x in reached])) if reached else math.nan
        time_to = float(np.mean([x[1] for x in reached])) if reached else math.nan
        used = float(np.mean([r.steps[-1] for r in rs]))
        wall = float(np.mean([r.elapsed[-1] for r in rs]))
        numbers[algo] = {"final": bootstrap_ci([r.final for r in rs]), "best": bootstrap_ci([r.best for r in rs]),
                         "steps_to": steps_to, "time_to": time_to, "reached": len(reached), "seeds": len(rs),
                         "env_steps": used, "wall_time": wall}
        reach_txt = f"{_fmt(steps_to, 3)} ({len(reached)}/{len(rs)})" if math.isfinite(threshold) else "-"
        time_txt = f"{_fmt(time_to, 3)} ({len(reached)}/{len(rs)})" if math.isfinite(threshold) else "-"
        lines.append(f"| {algo} | {len(rs)} | {_fmt_ci([r.final for r in rs])} | {_fmt_ci([r.best for r in rs])} "
                     f"| {reach_txt} | {time_txt} | {used:.0f} | {wall:.1f} |")
    numbers["_reference"] = {"initial_return": r0, "best_return": r_star, "threshold": threshold,
                             "fraction": fraction}
    return "\n".join(lines), numbers


def plot_curves(runs: list[RunSummary], path, title: str = "", algos: list[str] | None = None,
                grid_points: int = 101):
    """Mean evaluation return vs env steps per algorithm with a shaded 95% bootstrap band; saves ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    usable = [r for r in runs if r.returns.size]
    algos = algos or _algo_order(r.algo for r in usable)
    fig = Figure(figsize=(7, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    max_step = max((r.steps[-1] for r in usable), default=1.0)
    grid = np.linspace(0.0, max_step, grid_points)
    for algo in algos:
        rs = [r for r in usable if r.algo == algo]
        if not rs:
            continue
        curves = []
        for r in rs:
            c = np.interp(grid, r.steps, r.returns)
            c[grid > r.steps[-1]] = np.nan  # no extrapolation past the end of a run
            curves.append(c)
        curves = np.array(curves)
        valid = ~np.any(np.isnan(curves), axis=0)
        g, cv = grid[valid], curves[:, valid]
        if g.size == 0:
            continue
        mean = cv.mean(axis=0)
        (line,) = ax.plot(g, mean, label=f"{algo} (n={len(rs)})")
        if len(rs) > 1:
            lo, hi = bootstrap_band(cv)
            ax.fill_between(g, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel("env steps")
    ax.set_ylabel("evaluation return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(str(path))
    return fig


def write_report(out_dir, env_id: str, runs: list[RunSummary], fraction: float = 0.9,
                 algos: list[str] | None = None, command: str | None = None, failed: list[str] = ()) -> str | None:
    """Write ``comparison.md`` and ``comparison.png`` into ``out_dir``; returns the Markdown table, or None
    (and writes nothing) when no run has an evaluation yet."""
    out_dir = Path(out_dir)
    if not any(r.returns.size for r in runs):
        return None
    algos = algos or _algo_order(r.algo for r in runs)
    table, numbers = summarize(runs, fraction, algos)
    ref = numbers["_reference"]
    plot_curves(runs, out_dir / "comparison.png", title=env_id, algos=algos)
    run_rows = ["| algorithm | seed | status | final | best | budget | env steps used | wall time (s) | folder |",
                "|" + " --- |" * 9]
    for r in runs:
        steps = f"{r.steps[-1]:.0f}" if r.steps.size else "-"
        wall = f"{r.elapsed[-1]:.1f}" if r.elapsed.size else "-"
        budget = "-" if r.budget is None else str(r.budget)
        run_rows.append(f"| {r.algo} | {r.seed} | {r.status} | {_fmt(r.final)} | {_fmt(r.best)} | {budget} | {steps} "
                        f"| {wall} | {r.run_dir.name} |")
    parts = [f"# Comparison on {env_id}", ""]
    if command:
        parts += ["```", command, "```", ""]
    parts += [
        f"Evaluation return of the current solution (mean over the evaluation episodes with fixed seeds); "
        f"mean over seeds with a 95% bootstrap interval in brackets. \"to {fraction:.0%}\": first evaluation "
        f"reaching R0 + {fraction:g} (R* - R0) with R0 = {_fmt(ref['initial_return'])} (initial solutions) and "
        f"R* = {_fmt(ref['best_return'])} (best of any run), threshold {_fmt(ref['threshold'])}; mean over the seeds "
        f"that reached it (how many in brackets).", "", BUDGET_RULE, ""]
    budgets = sorted({r.budget for r in runs if r.budget is not None})
    if len(budgets) > 1:
        parts += [f"**Note: these runs do not share one budget** ({', '.join(map(str, budgets))} env steps; see "
                  f"the runs table): compare the env steps used, not only the returns.", ""]
    parts += [table, "", "![curves](comparison.png)", "", "## Runs", "",
              "Every run of this env in this folder: those of this command and the finished ones of earlier "
              "commands.", "", *run_rows, ""]
    if failed:
        parts += ["## Failed runs", "", *[f"- {f}" for f in failed], ""]
    (out_dir / "comparison.md").write_text("\n".join(parts))
    return table



def report_from_dir(out_dir, env_id: str | None = None, fraction: float = 0.9) -> str | None:
    """Rebuild ``comparison.md``/``.png`` from the run folders already in ``out_dir`` (those of ``env_id``;
    default: the env of the first run found). None when there is nothing to report."""
    out_dir = Path(out_dir)
    if env_id is None:
        first = find_runs(out_dir)
        if not first:
            return None
        env_id = read_config_dict(first[0].run_dir).get("env_id", "?")
    return write_report(out_dir, env_id, find_runs(out_dir, env_id), fraction)
