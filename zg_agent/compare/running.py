"""Running a comparison: every config checked first, then every (algorithm, seed) run planned (new, resume,
skip) and trained through :func:`zg_agent.session.run_one`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import ALGOS, ConfigError, load_config, parse_override
from ..session import explicit_keys, plan_run, resumed_config, run_one
from ..training import TRAINERS, RunLock, env_tag, run_dir_name
from .report import write_report
from .runs import RunSummary, find_runs, load_run


@dataclass
class ComparisonResult:
    """What :func:`run_comparison` returns."""

    out_dir: Path
    table: str
    runs: list[RunSummary] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    interrupted: bool = False



# ---------------------------------------------------------------------------------------------- running
def split_overrides(overrides, algos) -> tuple[dict[str, list[str]], list[str]]:
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



def check_same_evaluation(old, cfg, run_dir) -> None:
    """Refuse a run folder that scores on other evaluation kwargs than the comparison's config: its returns would
    sit in one table beside returns of another reward (say a run made before ``eval_env_kwargs`` existed)."""
    if old.evaluation_env_kwargs() != cfg.evaluation_env_kwargs():
        raise ConfigError(f"the run {run_dir} is evaluated with env kwargs {old.evaluation_env_kwargs()!r}, this "
                          f"comparison with {cfg.evaluation_env_kwargs()!r} (env_kwargs with eval_env_kwargs over "
                          "them), so their returns would not compare; move it away or use another output folder")

def run_comparison(env_id: str, algos, seeds=(0, 1, 2), budget: int | None = None, out_dir=None,
                   config_dir=None, overrides=(), backend: str | None = None, num_workers: int | None = None,
                   fraction: float = 0.9, progress: bool = True, command: str | None = None,
                   config=None) -> ComparisonResult:
    """Train each algorithm with each seed (skipping finished runs, resuming interrupted ones), then write the
    report. Configs come from ``<config_dir>/<algo>.yaml`` for ``env_id``, or from ``config``: one YAML file
    for every algorithm, a list of ``[ALGO:]FILE`` items (as ``zg-compare --config``) or a dict ``{algo: file}``;
    ``overrides`` are ``--set`` items, optionally prefixed ``algo:`` to apply to one algorithm. A run to be
    resumed keeps its own config (see :func:`zg_agent.session.resumed_config`): the budget, ``backend`` and
    ``num_workers`` given here are applied to it. A run resumed or skipped (finished) must have been made with
    this comparison's whole config, but for those three: any other difference is a :class:`ConfigError`. Every
    config is checked (:func:`check_configs`) before any run starts. A failing run is reported and the others
    go on; Ctrl-C or SIGTERM stops the comparison after saving the current run. While it runs, the comparison
    holds ``run.lock`` in ``out_dir`` (:class:`~zg_agent.training.RunLock`): a second comparison in the same
    folder is refused with :class:`~zg_agent.training.RunFolderError` naming its pid. The report covers every
    finished run of ``env_id`` in ``out_dir``; nothing is written when no run has an evaluation
    (``ComparisonResult.table`` is then empty)."""
    import sys

    from ..config import load_run_config
    from ..envs import check_env_id

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
    per_algo, warnings = split_overrides(overrides, algos)
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
            if plan in ("resume", "skip"):
                old = load_run_config(run_dir)
                check_same_evaluation(old, cfg, run_dir)
                # A run kept (finished) or continued must have been made with every setting this comparison has:
                # its config's, not only what this command sets, or the table would put the returns of other
                # settings (an edited config file, another --set) under this command.
                explicit = explicit_keys({"budget": cfg.budget, "backend": backend, "num_workers": num_workers},
                                         per_algo[algo])
                resumed = resumed_config(old, cfg, explicit, whole=True, where=f"the run {run_dir}",
                                         advice="move the run away or give another output folder to run it anew")
                if plan == "resume":  # it keeps its own config (the budget, backend and workers may change)
                    configs[algo, seed] = resumed
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
