"""Many algorithms x seeds on one env with one budget -> ``comparison.md`` and ``comparison.png``.

:func:`run_comparison` first checks every algorithm's config and budget (env, policy, optimizer / PPO options,
one iteration within the budget) and stops before starting anything when one fails. Then it trains every
(algorithm, seed) pair into ``<out>/<env>__<algo>__s<seed>/``: a run that finished with at least this budget
is skipped, an interrupted one (or one that finished with a smaller budget) is resumed, so re-running the same
command continues a comparison. The report covers every finished run of the env found in ``<out>`` (all
algorithms, also those of earlier commands), so ``zg-compare --algos ppo`` into the folder of an earlier
``--algos zerograds,es`` adds PPO to the table. :func:`summarize` reads each run's ``evaluations.csv`` and
reports per algorithm:

- final return (last evaluation) and best return (best evaluation), mean and 95% bootstrap interval over seeds;
- env steps and wall time until the evaluation return first reaches ``R0 + fraction * (R* - R0)``, where
  ``R0`` is the mean return of the initial solutions (the evaluation at step 0, over all runs) and ``R*`` the
  best evaluation return of any run; a fraction of the way from the start to the best, which stays meaningful
  for negative returns. Given as the mean over the seeds that reached it, with how many did;
- env steps and wall time used. Every run stops at or below its budget (see :data:`BUDGET_RULE`), so the env
  steps actually used are reported next to every result.

``comparison.png`` shows mean evaluation return against env steps per algorithm, with the 95% bootstrap
interval over seeds shaded (curves interpolated onto a common grid of env steps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import ALGOS, ConfigError, load_config, parse_override
from .session import explicit_keys, plan_run, resumed_config, run_budget, run_one
from .training import BUDGET_RULE, TRAINERS, RunLock, env_tag, read_evaluations, read_status, run_dir_name
from .training.run_dir import read_config_dict

# ---------------------------------------------------------------------------------------------- statistics
def bootstrap_ci(values, level: float = 0.95, n_boot: int = 10_000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``values`` and the percentile bootstrap interval of the mean, ``(mean, low, high)``.

    One value gives ``(v, v, v)``; no values gives NaNs."""
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return (math.nan, math.nan, math.nan)
    if x.size == 1:
        return (float(x[0]),) * 3
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(x.mean()), float(lo), float(hi)


def _bootstrap_band(curves: np.ndarray, level: float = 0.95, n_boot: int = 2000, seed: int = 0):
    """Pointwise bootstrap interval of the mean over rows of ``curves`` (seeds x grid)."""
    n = curves.shape[0]
    if n < 2:
        return curves[0], curves[0]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    means = curves[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    return np.quantile(means, alpha, axis=0), np.quantile(means, 1.0 - alpha, axis=0)


# ---------------------------------------------------------------------------------------------- results
@dataclass
class RunSummary:
    """One run's evaluation curve and its numbers."""

    algo: str
    seed: int
    run_dir: Path
    status: str
    steps: np.ndarray
    elapsed: np.ndarray
    returns: np.ndarray
    budget: int | None = None
    """the budget the run was (last) trained with"""

    @property
    def final(self) -> float:
        return float(self.returns[-1]) if self.returns.size else math.nan

    @property
    def best(self) -> float:
        return float(self.returns.max()) if self.returns.size else math.nan

    @property
    def initial(self) -> float:
        return float(self.returns[0]) if self.returns.size and self.steps[0] == 0 else math.nan

    def first_reaching(self, threshold: float) -> tuple[float, float]:
        """(env steps, wall time) of the first evaluation with return >= threshold, or NaNs."""
        hit = np.flatnonzero(self.returns >= threshold)
        if hit.size == 0:
            return math.nan, math.nan
        return float(self.steps[hit[0]]), float(self.elapsed[hit[0]])


@dataclass
class ComparisonResult:
    """What :func:`run_comparison` returns."""

    out_dir: Path
    table: str
    runs: list[RunSummary] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    interrupted: bool = False


def load_run(run_dir, algo: str | None = None, seed: int | None = None) -> RunSummary:
    """Read a run folder's ``evaluations.csv`` and ``status.json``."""
    run_dir = Path(run_dir)
    rows = read_evaluations(run_dir)
    status = read_status(run_dir)
    if algo is None or seed is None:
        cfg = read_config_dict(run_dir)
        algo = algo or cfg.get("algo", run_dir.name)
        seed = seed if seed is not None else int(cfg.get("seed", 0))
    col = lambda k: np.array([r[k] for r in rows], dtype=np.float64)  # noqa: E731
    return RunSummary(algo, int(seed), run_dir, status.get("state", "missing"), col("env_steps"),
                      col("elapsed_s"), col("mean_reward"), run_budget(run_dir))


def find_runs(out_dir, env_id: str | None = None, states=None) -> list[RunSummary]:
    """Every run folder directly under ``out_dir`` (of ``env_id`` when given; in ``states`` when given)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    runs = []
    for d in sorted(out_dir.iterdir()):
        if not (d / "config.yaml").is_file() or not (d / "evaluations.csv").is_file():
            continue
        if env_id is not None and read_config_dict(d).get("env_id") != env_id:
            continue
        if states is not None and read_status(d).get("state") not in states:
            continue
        runs.append(load_run(d))
    return runs


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
            lo, hi = _bootstrap_band(cv)
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


# ---------------------------------------------------------------------------------------------- running
def _split_overrides(overrides, algos) -> tuple[dict[str, list[str]], list[str]]:
    """``[ALGO:]key=value`` -> per-algorithm override lists, and warnings for overrides of an algorithm that
    is not being run (they would be silently ignored otherwise)."""
    per = {a: [] for a in algos}
    warnings = []
    for o in overrides:
        head = o.split("=", 1)[0]
        if ":" in head:
            algo, rest = o.split(":", 1)
            if algo not in ALGOS:
                raise ConfigError(f"override {o!r}: algorithm prefix must be one of {list(ALGOS)}, got {algo!r}")
            parse_override(rest)
            if algo in per:
                per[algo].append(rest)
            else:
                warnings.append(f"--set {o} is for {algo}, which is not in --algos ({','.join(algos)}); "
                                f"it is ignored")
        else:
            parse_override(o)
            for a in algos:
                per[a].append(o)
    return per, warnings


def _split_configs(config, algos) -> dict[str, str | None]:
    """``--config [ALGO:]FILE`` items -> the config file of each algorithm (None: the shipped one). An item
    without a prefix is for every algorithm; one with a prefix overrides it for that algorithm."""
    if config is None:
        return {a: None for a in algos}
    if isinstance(config, dict):
        unknown = [a for a in config if a not in ALGOS]
        if unknown:
            raise ConfigError(f"config: algorithm keys must be drawn from {list(ALGOS)}, got {unknown}")
        return {a: config.get(a) for a in algos}
    items = [config] if isinstance(config, (str, Path)) else list(config)
    common, per = None, {}
    for item in items:
        head, sep, rest = str(item).partition(":")
        if sep and head in ALGOS:
            per[head] = rest
        elif sep and "/" not in head and "\\" not in head and len(head) > 1:
            raise ConfigError(f"--config {item!r}: algorithm prefix must be one of {list(ALGOS)}, got {head!r}")
        else:
            common = str(item)
    return {a: per.get(a, common) for a in algos}


def check_configs(configs) -> None:
    """Prepare (and close again) a trainer for every distinct config: env, policy, optimizer / PPO options
    and one iteration within the budget. Raises one :class:`ConfigError` listing every algorithm that fails."""
    import dataclasses

    errors, seen = [], set()
    for cfg in configs:
        key = (cfg.algo, dataclasses.replace(cfg, seed=0, backend="serial", num_workers=None).to_yaml())
        if key in seen:
            continue
        seen.add(key)
        # the serial backend is enough to check the setup (no worker processes are started for it)
        trainer = TRAINERS[cfg.algo](dataclasses.replace(cfg, backend="serial", num_workers=None), None)
        try:
            trainer.prepare()
        except (ValueError, TypeError) as exc:
            errors.append(f"{cfg.algo}: {exc}")
        finally:
            trainer.close()
    if errors:
        raise ConfigError("nothing was started, because these configs cannot run:\n  " + "\n  ".join(errors))


def run_comparison(env_id: str, algos, seeds=(0, 1, 2), budget: int | None = None, out_dir=None,
                   config_dir=None, overrides=(), backend: str | None = None, num_workers: int | None = None,
                   fraction: float = 0.9, progress: bool = True, command: str | None = None,
                   config=None) -> ComparisonResult:
    """Train each algorithm with each seed (skipping finished runs, resuming interrupted ones), then write the
    report. Configs come from ``<config_dir>/<algo>.yaml`` for ``env_id``, or from ``config``: one YAML file
    for every algorithm, a list of ``[ALGO:]FILE`` items (as ``zg-compare --config``) or a dict ``{algo: file}``;
    ``overrides`` are ``--set`` items, optionally prefixed ``algo:`` to apply to one algorithm. A run to be
    resumed keeps its own config (see :func:`zg_agent.session.resumed_config`): the budget, ``backend`` and
    ``num_workers`` given here are applied to it, any other setting given here must equal the run's. Every
    config is checked (:func:`check_configs`) before any run starts. A failing run is reported and the others
    go on; Ctrl-C or SIGTERM stops the comparison after saving the current run. While it runs, the comparison
    holds ``run.lock`` in ``out_dir`` (:class:`~zg_agent.training.RunLock`): a second comparison in the same
    folder is refused with :class:`~zg_agent.training.RunFolderError` naming its pid. The report covers every finished run of ``env_id`` in ``out_dir``; nothing is
    written when no run has an evaluation (``ComparisonResult.table`` is then empty)."""
    import sys

    from .config import load_run_config
    from .envs import check_env_id

    algos = list(algos)
    if not algos:
        raise ConfigError(f"algos must name at least one of {list(ALGOS)}")
    for a in algos:
        if a not in ALGOS:
            raise ConfigError(f"algos must be drawn from {list(ALGOS)}, got {a!r}")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ConfigError("seeds must hold at least one seed")
    if not 0.0 < fraction <= 1.0:
        raise ConfigError(f"fraction must be in (0, 1], got {fraction!r}")
    check_env_id(env_id)
    per_algo, warnings = _split_overrides(overrides, algos)
    files = _split_configs(config, algos)
    for w in warnings:
        print(f"zg-compare: warning: {w}", file=sys.stderr)
    # every config is built (and validated) before any training starts
    configs = {}
    for algo in algos:
        for seed in seeds:
            configs[algo, seed] = load_config(algo, env_id, config=files[algo], config_dir=config_dir,
                                              overrides=per_algo[algo], seed=seed, budget=budget, backend=backend,
                                              num_workers=num_workers)
    if out_dir is None:
        budgets = sorted({c.budget for c in configs.values()})
        out_dir = Path(next(iter(configs.values())).run_root) / f"compare_{env_tag(env_id)}_b{budgets[-1]}"
    out_dir = Path(out_dir)
    # one comparison at a time in a folder: a second one is refused naming the process (RunLock, as for a run)
    lock = RunLock(out_dir)
    if out_dir.is_dir():
        lock.acquire()
    try:
        plans = {}
        for (algo, seed), cfg in configs.items():
            run_dir = out_dir / run_dir_name(env_id, algo, seed)
            plan = plan_run(run_dir, cfg.budget)
            if plan == "resume":  # a resumed run keeps its own config (the budget, backend and workers may change)
                explicit = explicit_keys({"budget": cfg.budget, "backend": backend, "num_workers": num_workers},
                                         per_algo[algo])
                configs[algo, seed] = resumed_config(load_run_config(run_dir), cfg, explicit,
                                                     whole=bool(files[algo] or config_dir),
                                                     where=f"the run {run_dir}")
            plans[algo, seed] = (plan, run_dir)
        check_configs([configs[k] for k, (plan, _) in plans.items() if plan != "skip"])
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the output folder {str(out_dir)!r}: {exc.strerror or exc}") from None
        if not lock.held:
            lock.acquire()
        if command:
            with open(out_dir / "command.txt", "a") as f:
                f.write(command.rstrip() + "\n")
        failed, interrupted, runs = [], False, []
        for algo in algos:
            for seed in seeds:
                cfg = configs[algo, seed]
                plan, run_dir = plans[algo, seed]
                if not interrupted and plan != "skip":
                    outcome = run_one(cfg, run_dir, resume=plan == "resume", command=command or "zg-compare",
                                      progress=progress, prog="zg-compare", desc=f"{algo} s{seed}")
                    if outcome.status == "interrupted":
                        interrupted = True
                    elif outcome.status == "refused":  # before it started: in use, an unreadable checkpoint...
                        failed.append(f"{algo} seed {seed}: refused (the message above says why); {run_dir} was "
                                      f"left as it was")
                    elif outcome.status != "finished":
                        failed.append(f"{algo} seed {seed}: see {run_dir / 'error.txt'}")
                if run_dir.is_dir():
                    runs.append(load_run(run_dir, algo, seed))
        # finished runs of earlier commands in the same folder (other algorithms or seeds) stay in the report
        mine = {r.run_dir.resolve() for r in runs}
        runs += [r for r in find_runs(out_dir, env_id, states=("finished",)) if r.run_dir.resolve() not in mine]
        cmd = command or f"zg-compare --env {env_id} --algos {','.join(algos)} --seeds {len(seeds)}"
        table = write_report(out_dir, env_id, runs, fraction, None, cmd, failed)
        return ComparisonResult(out_dir, table or "", runs, failed, interrupted)
    finally:
        lock.release()


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


__all__ = ["BUDGET_RULE", "ComparisonResult", "RunSummary", "bootstrap_ci", "check_configs", "find_runs",
           "load_run", "plot_curves", "report_from_dir", "run_budget", "run_comparison", "summarize",
           "write_report"]
