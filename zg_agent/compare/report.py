"""``comparison.md`` and ``comparison.png``: the tables (:func:`summarize`), the curves (:func:`plot_curves`)
and the report (:func:`write_report`, :func:`report_from_dir`)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..config import ALGOS, load_run_config
from ..training import BUDGET_RULE, EVAL_SEED_BASE
from ..training.references import compute_references, normalize, read_references
from ..training.run_dir import read_config_dict
from .runs import RunSummary, find_runs
from .statistics import iqm_band, iqm_cis


def _algo_order(names) -> list[str]:
    return sorted(set(names), key=lambda a: (ALGOS.index(a) if a in ALGOS else len(ALGOS), a))


def _fmt(v: float, digits: int = 4) -> str:
    if v is None or not math.isfinite(v):
        return "-"
    return f"{v:.{digits}g}"


def _fmt_stat(stat, values) -> str:
    """``IQM [low, high]`` (the IQM alone for fewer than two finite values, ``-`` for none)."""
    m, lo, hi = stat
    if not math.isfinite(m):
        return "-"
    if len([v for v in values if math.isfinite(v)]) < 2:
        return _fmt(m)
    return f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}]"


def comparison_references(runs: list[RunSummary]) -> dict | None:
    """The references of the env of ``runs`` (:mod:`zg_agent.training.references`): those its black-box runs
    cached (their start is the design the optimizers start from), else any run's, else measured from the
    first run's config; None when there are none."""
    ordered = sorted(runs, key=lambda r: r.algo == "ppo")
    for r in ordered:
        refs = read_references(r.run_dir)
        if refs is not None:
            return refs
    for r in ordered:
        try:
            return compute_references(load_run_config(r.run_dir), EVAL_SEED_BASE)
        except Exception:  # noqa: BLE001 - no config to measure from (or the env cannot be built here)
            continue
    return None


def summarize(runs: list[RunSummary], fraction: float = 0.9, algos: list[str] | None = None,
              references: dict | None = None) -> tuple[str, dict]:
    """The Markdown table of the comparison and the numbers behind it (per algorithm): interquartile means
    over seeds with 95% stratified-bootstrap intervals; normalised scores when ``references`` are given."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    algos = algos or _algo_order(r.algo for r in runs)
    usable = [r for r in runs if r.returns.size]
    r_star = max((r.best for r in usable), default=math.nan)
    initials = [r.initial for r in usable if math.isfinite(r.initial)]
    r0 = float(np.mean(initials)) if initials else math.nan
    threshold = r0 + fraction * (r_star - r0) if math.isfinite(r0) and math.isfinite(r_star) else math.nan
    refs = references or {}
    ref_txt = " | ".join(_fmt(refs.get(k)) for k in ("start", "random", "upper")) if refs else "- | - | -"
    pct = f"{fraction:.0%}"
    header = (f"| algorithm | seeds | final return | final, normalised | best return | best, normalised "
              f"| env steps to {pct} | wall time to {pct} (s) | env steps used | wall time (s) | start | random "
              f"| upper |")
    lines = [header, "|" + " --- |" * 13]
    numbers: dict[str, dict] = {}
    for algo in algos:
        rs = [r for r in usable if r.algo == algo]
        if not rs:
            lines.append(f"| {algo} | 0 | - | - | - | - | - | - | - | - | {ref_txt} |")
            continue
        reach = [r.first_reaching(threshold) for r in rs] if math.isfinite(threshold) else []
        reached = [x for x in reach if math.isfinite(x[0])]
        steps_to = float(np.mean([x[0] for x in reached])) if reached else math.nan
        time_to = float(np.mean([x[1] for x in reached])) if reached else math.nan
        used = float(np.mean([r.steps[-1] for r in rs]))
        wall = float(np.mean([r.elapsed[-1] for r in rs]))
        finals, bests = [r.final for r in rs], [r.best for r in rs]
        final_n = [normalize(refs, v) for v in finals]
        best_n = [normalize(refs, v) for v in bests]
        stats = dict(zip(("final", "best", "final_normalized", "best_normalized"),
                         iqm_cis([finals, bests, final_n, best_n])))
        numbers[algo] = {**stats, "steps_to": steps_to, "time_to": time_to,
                         "reached": len(reached), "seeds": len(rs), "env_steps": used, "wall_time": wall}
        cell = {k: _fmt_stat(v, n) for (k, v), n in zip(stats.items(), (finals, bests, final_n, best_n))}
        reach_txt = f"{_fmt(steps_to, 3)} ({len(reached)}/{len(rs)})" if math.isfinite(threshold) else "-"
        time_txt = f"{_fmt(time_to, 3)} ({len(reached)}/{len(rs)})" if math.isfinite(threshold) else "-"
        lines.append(f"| {algo} | {len(rs)} | {cell['final']} | {cell['final_normalized']} | {cell['best']} "
                     f"| {cell['best_normalized']} | {reach_txt} | {time_txt} | {used:.0f} | {wall:.1f} | {ref_txt} |")
    numbers["_reference"] = {"initial_return": r0, "best_return": r_star, "threshold": threshold,
                             "fraction": fraction, "references": references}
    return "\n".join(lines), numbers


def _curves(rs: list[RunSummary], grid: np.ndarray, refs: dict | None) -> np.ndarray:
    """Each run's evaluations interpolated onto ``grid``, normalised when ``refs``, NaN past its end. A finished
    run's end is that of the longest finished run of its budget: runs of one budget end a part of an iteration
    apart, and holding the final solution over that gap lets the curves reach the final evaluations the tables
    report instead of stopping at the shortest run. A run of a smaller budget, or one still going, is not
    extended: that would draw training it never had."""
    ends: dict = {}
    for r in rs:
        if r.status == "finished":
            ends[r.budget] = max(ends.get(r.budget, -np.inf), r.steps[-1])
    curves = []
    for r in rs:
        values = np.array([normalize(refs, v) for v in r.returns]) if refs else r.returns
        c = np.interp(grid, r.steps, values)
        c[grid > (ends[r.budget] if r.status == "finished" else r.steps[-1])] = np.nan
        curves.append(c)
    return np.array(curves)


def plot_curves(runs: list[RunSummary], path, title: str = "", algos: list[str] | None = None,
                grid_points: int = 101, references: dict | None = None, ax=None):
    """Interquartile mean over seeds of the evaluation return vs env steps per algorithm, with a shaded 95%
    stratified-bootstrap band; the normalised score instead when ``references`` has an upper reference (with
    the random reference as a dashed line). Saves ``path`` (unless drawing into a given ``ax``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    refs = references if references and references.get("upper") is not None else None
    usable = [r for r in runs if r.returns.size]
    algos = algos or _algo_order(r.algo for r in usable)
    fig = None
    if ax is None:
        fig = Figure(figsize=(7, 4.2), dpi=110)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
    max_step = max((r.steps[-1] for r in usable), default=1.0)
    grid = np.linspace(0.0, max_step, grid_points)
    for algo in algos:
        rs = [r for r in usable if r.algo == algo]
        if not rs:
            continue
        curves = _curves(rs, grid, refs)
        valid = ~np.any(np.isnan(curves), axis=0)
        g, cv = grid[valid], curves[:, valid]
        if g.size == 0:
            continue
        mid, lo, hi = iqm_band(cv)
        (line,) = ax.plot(g, mid, label=f"{algo} (n={len(rs)})")
        if len(rs) > 1:
            ax.fill_between(g, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    if refs:
        low = min(0.0, ax.get_ylim()[0])
        rand = normalize(refs, refs["random"])
        if rand >= low - 0.25:  # a far-off random reference would squash the curves: named in the legend instead
            ax.axhline(rand, color="0.4", linestyle="--", linewidth=1, label="random actions")
        else:
            ax.plot([], [], " ", label=f"random actions: {rand:.2f} (off the axis)")
        ax.axhline(1.0, color="0.2", linestyle=":", linewidth=1, label="upper reference")
    ax.set_xlabel("env steps")
    ax.set_ylabel("normalised score (IQM)" if refs else "evaluation return (IQM)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=7)
    if fig is not None:
        fig.tight_layout()
        fig.savefig(str(path))
    return fig


def references_line(refs: dict | None) -> str:
    """One sentence naming the references and their sources."""
    if not refs:
        return "No reference scores for this env (no run folder holds them and none could be measured)."
    upper = (f"upper {_fmt(refs['upper'])} ({refs['upper_source']})" if refs.get("upper") is not None
             else f"no upper reference ({refs['upper_source']}), so no normalised score")
    return (f"References (episode returns of the configured env): start {_fmt(refs['start'])} "
            f"({refs.get('start_source', 'the start design')}), random actions {_fmt(refs['random'])}, {upper}. "
            f"Normalised score = (return - start) / (upper - start).")


def write_report(out_dir, env_id: str, runs: list[RunSummary], fraction: float = 0.9,
                 algos: list[str] | None = None, command: str | None = None, failed: list[str] = ()) -> str | None:
    """Write ``comparison.md`` and ``comparison.png`` into ``out_dir``; returns the Markdown table, or None
    (and writes nothing) when no run has an evaluation yet."""
    out_dir = Path(out_dir)
    if not any(r.returns.size for r in runs):
        return None
    algos = algos or _algo_order(r.algo for r in runs)
    refs = comparison_references(runs)
    table, numbers = summarize(runs, fraction, algos, refs)
    ref = numbers["_reference"]
    plot_curves(runs, out_dir / "comparison.png", title=env_id, algos=algos, references=refs)
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
        f"interquartile mean (IQM) over seeds with a 95% stratified-bootstrap interval in brackets (rliable). "
        f"\"to {fraction:.0%}\": first evaluation "
        f"reaching R0 + {fraction:g} (R* - R0) with R0 = {_fmt(ref['initial_return'])} (initial solutions) and "
        f"R* = {_fmt(ref['best_return'])} (best of any run), threshold {_fmt(ref['threshold'])}; mean over the seeds "
        f"that reached it (how many in brackets). Wall time is the run's training clock at its last "
        f"evaluation, wall time to {fraction:.0%} at the first evaluation reaching it; neither counts env and "
        f"worker start-up, so both are below the process's own run time.", "", references_line(refs), "",
        BUDGET_RULE, ""]
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
