"""Command-line entry points: ``zg-train`` and ``zg-compare`` (also ``python -m zg_agent.cli train|compare``).

Examples::

    zg-train --env Pendulum-v1 --algo zerograds --seed 0 --budget 50000
    zg-train --env zg/ShadowCaster-v0 --algo es --backend process --set options.sigma=0.2
    zg-train --resume runs/Pendulum-v1__es__s0__20250101-120000        # continue an interrupted run
    zg-train --env Pendulum-v1 --algo es --seed 0 --resume auto        # the latest unfinished matching run
    zg-compare --env Pendulum-v1 --algos zerograds,es,cma,ppo --seeds 3 --budget 50000
    tensorboard --logdir runs

Exit status: 0 finished, 130 interrupted (Ctrl-C or SIGTERM; the run can be resumed), 2 bad arguments or config
(found before a run folder is created: unknown env, rejected env_kwargs, a bad option, a budget below one
iteration, a run root that cannot be written; or, on resume, found before the run folder changes: a folder in
use by another process, an unreadable checkpoint or config.yaml, a budget below what the run used, a setting
that differs from the run's), 1 the run failed while training (the message says what its folder holds).

Budgets are spent in whole iterations: a run stops at the last iteration that fits (say popsize 16 x 200-step
episodes = 3200 env steps per iteration: a budget of 10000 uses 9600); both commands say so when the budget is
not a multiple of the iteration cost. With episodes that can end early (a fall), a black-box iteration is
expected to cost what the one before it did, so the last one can overshoot by less than one iteration.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .config import ALGOS, BACKENDS, ConfigError, load_config, load_run_config
from .objective import check_env_id
from .training import TRAINERS, RunFolderError, env_tag, has_checkpoint, new_run_dir, read_status

EXIT_INTERRUPTED = 130


def version() -> str:
    """The installed version of the ``zerograds-gym`` distribution (from its metadata)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("zerograds-gym")
    except PackageNotFoundError:
        return "unknown (the zerograds-gym distribution is not installed)"


def _add_version(p: argparse.ArgumentParser) -> None:
    p.add_argument("--version", action="version", version=f"%(prog)s (zerograds-gym) {version()}")


def _command_line(prog: str, argv) -> str:
    return " ".join([prog] + [shlex.quote(a) for a in argv])


LIST_ENVS = 'python -c "import gymnasium, zg_envs; gymnasium.pprint_registry()"'


def check_env(env_id: str, flag: str = "--env") -> str:
    """``env_id`` if it is registered; otherwise a short :class:`ConfigError`: close matches, this project's
    ids and how to list every id."""
    try:
        return check_env_id(env_id)
    except ValueError as exc:
        if "not a registered" not in str(exc):
            raise
    import difflib

    import gymnasium as gym

    try:
        import zg_envs  # noqa: F401 - registers the zg/ ids
    except Exception:  # noqa: BLE001 - the message still works without them
        pass
    ids = sorted(gym.registry)
    close = difflib.get_close_matches(env_id, ids, n=3, cutoff=0.6)
    ours = [i for i in ids if i.startswith("zg/")]
    lines = [f"{flag} {env_id!r} is not a registered Gymnasium environment"]
    if close:
        lines.append(f"  did you mean: {', '.join(close)}")
    if ours:
        lines.append(f"  this project's environments: {', '.join(ours)}")
    lines.append(f"  list every registered id with: {LIST_ENVS}")
    raise ConfigError("\n".join(lines)) from None


class _ProgressBar:
    """tqdm bar over env steps with the best evaluation return and fps."""

    def __init__(self, total: int, initial: int = 0, desc: str = "", enabled: bool = True):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True,
                            file=sys.stderr, mininterval=0.5)
        self.n = initial

    def __call__(self, env_steps: int, info: dict) -> None:
        if self.bar is None:
            return
        self.bar.update(max(0, min(env_steps, self.bar.total) - self.n))
        self.n = min(env_steps, self.bar.total)
        best = info.get("best_return")
        self.bar.set_postfix(best=f"{best:.4g}" if best is not None else "-", fps=f"{info.get('fps', 0):.0f}",
                             refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------------------------------------- zg-train
def _train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="zg-train", description="Train one algorithm on one Gymnasium env (budget in env steps).",
        epilog="Curves: tensorboard --logdir runs")
    _add_version(p)
    p.add_argument("--env", help="Gymnasium env id, e.g. Pendulum-v1 or zg/ShadowCaster-v0")
    p.add_argument("--algo", choices=ALGOS, help="algorithm")
    p.add_argument("--seed", type=int, default=None, help="seed of every random source (default 0)")
    p.add_argument("--budget", type=int, default=None,
                   help="training budget in env steps (default: config). A run is made of whole iterations: "
                        "black-box, popsize x episodes_per_candidate x episode length; PPO, options.n_steps x "
                        "options.n_envs. A budget that is not a multiple of that stops at the last iteration "
                        "that fits (the run says so; with early-ending episodes the last black-box iteration "
                        "can overshoot by less than one iteration)")
    p.add_argument("--config", default=None, help="a YAML file keyed by env id (default: configs/<algo>.yaml)")
    p.add_argument("--config-dir", default=None, help="folder holding <algo>.yaml (default: configs/)")
    p.add_argument("--backend", choices=BACKENDS, default=None, help="evaluation backend (black-box algos)")
    p.add_argument("--num-workers", type=int, default=None, help="worker processes / Ray actors")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: a local Ray instance)")
    p.add_argument("--run-root", default=None, help="folder of run folders (default: runs)")
    p.add_argument("--run-name", default=None, help="run folder name (default <env>__<algo>__s<seed>__<time>)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, typed by the field: budget=20000, options.sigma=0.2, "
                        "env_kwargs.resolution=32, policy_options.hidden_sizes=[32,32] (repeatable)")
    p.add_argument("--resume", default=None, metavar="RUN_DIR|auto",
                   help="continue a run from its last checkpoint (with --budget to extend a finished one); "
                        "'auto' resumes the latest run of this env/algo/seed under the run root when it is "
                        "unfinished, and otherwise starts a new run (saying why). A resumed run keeps its "
                        "config.yaml: --budget, --backend, --num-workers and --ray-address are applied, other "
                        "settings that differ from the run's are refused; a folder in use by another process is "
                        "refused")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _matching_runs(run_root, env_id: str, algo: str, seed: int) -> list[Path]:
    """Run folders of ``env_id``/``algo``/``seed`` under ``run_root``, newest first."""
    root = Path(run_root)
    if not root.is_dir():
        return []
    prefix = f"{env_tag(env_id)}__{algo}__s{seed}__"
    runs = [d for d in root.iterdir()
            if d.is_dir() and d.name.startswith(prefix) and (d / "config.yaml").is_file()]
    return sorted(runs, key=lambda d: d.stat().st_mtime, reverse=True)


def find_resumable(run_root, env_id: str, algo: str, seed: int) -> tuple[Path | None, str]:
    """``(run folder, why)`` for ``--resume auto``: the newest run of ``env_id``/``algo``/``seed`` under
    ``run_root`` when it did not finish and has a checkpoint; otherwise ``(None, why a new run starts)``."""
    for d in _matching_runs(run_root, env_id, algo, seed):
        status = read_status(d)
        if status.get("state") == "finished":
            return None, (f"the latest run {d} finished ({status.get('env_steps', '?')} env steps of a budget of "
                          f"{status.get('budget', '?')}); to continue it instead, give "
                          f"--resume {shlex.quote(str(d))} --budget LARGER")
        if has_checkpoint(d):
            at = status.get("checkpoint_env_steps", "?")
            return d, f"resuming {d} ({status.get('state', 'unknown')}, checkpoint at {at} env steps)"
    return None, f"no unfinished run of {algo} on {env_id} seed {seed} under {run_root}"


def train_main(argv: list[str] | None = None) -> int:
    """``zg-train``: returns the exit status (see the module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _train_parser()
    args = parser.parse_args(argv)
    command = _command_line("zg-train", argv)
    try:
        run_dir, cfg, resume = _train_setup(args, parser)
    except (ConfigError, ValueError) as exc:  # RunFolderError included
        print(f"zg-train: error: {exc}", file=sys.stderr)
        return 2
    if resume and read_status(run_dir).get("state") == "finished":
        status = read_status(run_dir)
        spent = int(status.get("env_steps") or 0)
        if cfg.budget < spent:
            print(f"zg-train: error: budget {cfg.budget} env steps is below the {spent} env steps that the finished "
                  f"run {run_dir} has already used; give a larger budget to continue it", file=sys.stderr)
            return 2
        if int(status.get("budget") or 0) >= cfg.budget:
            print(f"zg-train: {run_dir} already finished ({status.get('env_steps', '?')} env steps of a budget of "
                  f"{status.get('budget')}); nothing to do (give --budget LARGER to continue it)", file=sys.stderr)
            return 0
    return run_one(cfg, run_dir, resume=resume, command=command, progress=not args.no_progress, prog="zg-train",
                   run_name=args.run_name)


#: fields that a resumed run may change: they do not change its results (the same seed gives the same numbers
#: on every backend and worker count) or only extend it (budget)
RESUMABLE_CHANGES = ("budget", "backend", "num_workers", "ray_address")


def _dotted(d: dict, key: str):
    for part in key.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def resumed_config(old, new, explicit: set[str], whole: bool, where: str):
    """The config to resume a run with: the run's own ``old`` config, with the :data:`RESUMABLE_CHANGES` that the
    command gives explicitly (``explicit`` holds the dotted keys it sets) taken from ``new``. Raises
    :class:`ConfigError` when the command asks for any other value than the run has: for the keys in ``explicit``,
    or for every key when ``whole`` (the command names its own config file). ``where`` names the run."""
    a, b = old.to_dict(), new.to_dict()
    if whole:
        keys = {k for k in a if k not in RESUMABLE_CHANGES and k not in ("run_root", "options")}
        keys |= {f"options.{k}" for k in set(a["options"]) | set(b["options"])}
    else:
        keys = {k for k in explicit if k.split(".")[0] not in (*RESUMABLE_CHANGES, "run_root")}
    diffs = [f"{k}: the run has {_dotted(a, k)!r}, this command gives {_dotted(b, k)!r}"
             for k in sorted(keys) if _dotted(a, k) != _dotted(b, k)]
    if diffs:
        raise ConfigError(f"{where} was started with other settings than this command gives:\n  "
                          + "\n  ".join(diffs) + "\nA resumed run keeps its config.yaml (only "
                          + ", ".join(RESUMABLE_CHANGES) + " can change); leave these out to resume it, or start "
                          "a new run (without --resume)")
    cfg = old
    for key in RESUMABLE_CHANGES:
        if key in explicit:
            setattr(cfg, key, getattr(new, key))
    return cfg.validate()


def _explicit_keys(fields: dict, overrides) -> set[str]:
    """Dotted keys that a command sets itself: the given flags and every ``--set`` key."""
    from .config import parse_override

    keys = {k for k, v in fields.items() if v is not None}
    return keys | {parse_override(o)[0] for o in overrides}


def _changes(old, cfg) -> str:
    said = [f"{k} {getattr(cfg, k)!r} (was {getattr(old, k)!r})" for k in RESUMABLE_CHANGES
            if getattr(old, k) != getattr(cfg, k)]
    return f"; with {', '.join(said)}" if said else ""


def _probe_lock(run_dir: Path) -> None:
    """Refuse a run folder held by another process now, before the slow setup (the trainer takes the lock)."""
    from .training import RunLock

    RunLock(run_dir).acquire().release()


def _train_setup(args, parser):
    """``(run folder or None for a new one, config, resume)``; raises ConfigError / RunFolderError for a bad
    command.

    ``--resume RUN_DIR`` and ``--resume auto`` follow one rule: the run keeps its ``config.yaml``; ``--budget``,
    ``--backend``, ``--num-workers`` and ``--ray-address`` (or ``--set`` of those keys) are applied and written
    into it; any other setting the command gives must equal the run's, or the command is refused."""
    fields = {"seed": args.seed, "budget": args.budget, "backend": args.backend, "num_workers": args.num_workers,
              "ray_address": args.ray_address, "run_root": args.run_root}
    if args.resume not in (None, "auto"):
        run_dir = Path(args.resume)
        if not (run_dir / "config.yaml").is_file():
            raise ConfigError(f"--resume {str(run_dir)!r}: not a run folder (no config.yaml)")
        cfg = load_run_config(run_dir)
        if args.env and args.env != cfg.env_id or args.algo and args.algo != cfg.algo:
            raise ConfigError(f"--resume {str(run_dir)!r} is a run of {cfg.algo} on {cfg.env_id}; "
                              f"leave out --env/--algo or give the matching ones")
        if args.seed is not None and args.seed != cfg.seed:
            raise ConfigError(f"--seed {args.seed} differs from the run's seed {cfg.seed}")
        given = load_config(cfg.algo, cfg.env_id, config=args.config, config_dir=args.config_dir,
                            overrides=args.overrides, **fields)
        resumed = resumed_config(load_run_config(run_dir), given, _explicit_keys(fields, args.overrides),
                                 whole=bool(args.config or args.config_dir), where=f"--resume {run_dir}: the run")
        _probe_lock(run_dir)
        changes = _changes(cfg, resumed)
        if changes:
            print(f"zg-train: resuming {run_dir}{changes}", file=sys.stderr)
        return run_dir, resumed, has_checkpoint(run_dir)
    if not args.env or not args.algo:
        parser.error("--env and --algo are required (unless --resume RUN_DIR)")
    check_env(args.env)  # an unknown id fails here, with a short message
    cfg = load_config(args.algo, args.env, config=args.config, config_dir=args.config_dir,
                      overrides=args.overrides, **fields)
    if args.resume == "auto":
        found, why = find_resumable(cfg.run_root, cfg.env_id, cfg.algo, cfg.seed)
        if found is not None:
            old = load_run_config(found)
            resumed = resumed_config(load_run_config(found), cfg, _explicit_keys(fields, args.overrides),
                                     whole=bool(args.config or args.config_dir),
                                     where=f"--resume auto: the run {found}")
            _probe_lock(found)
            print(f"zg-train: {why}{_changes(old, resumed)}", file=sys.stderr)
            return found, resumed, True
        print(f"zg-train: --resume auto: starting a new run: {why}", file=sys.stderr)
    return None, cfg, False


def _failure_note(prog: str, run_dir: Path) -> str:
    """What a failed run's folder holds, truthfully."""
    status = read_status(run_dir)
    step = status.get("checkpoint_env_steps")
    if has_checkpoint(run_dir):
        at = f"at {step} env steps" if step is not None else "it was resumed from"
        return (f"{prog}: the run folder {run_dir} keeps error.txt and the checkpoint {at}; once the cause is "
                f"fixed, continue with: zg-train --resume {shlex.quote(str(run_dir))}")
    held = ", ".join(sorted(p.name for p in run_dir.iterdir() if p.is_file()))
    return (f"{prog}: the run folder {run_dir} holds {held}; there is no checkpoint (the run failed before its "
            f"first one)")


def run_one(cfg, run_dir, *, resume: bool, command: str, progress: bool, prog: str, desc: str | None = None,
            run_name: str | None = None) -> int:
    """Check the setup (exit 2 without creating a folder when it is wrong), then train one run with a progress
    bar; returns an exit status and prints where the run is. ``run_dir=None`` creates a new run folder (named
    ``run_name`` when given)."""
    trainer = TRAINERS[cfg.algo](cfg, run_dir, resume=resume, command=command)
    try:
        trainer.prepare()
    except ValueError as exc:  # ConfigError included
        print(f"{prog}: error: {exc}", file=sys.stderr)
        if run_dir is None:
            print(f"{prog}: no run folder was created", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - e.g. a module of the env that cannot be imported
        print(f"{prog}: error: setup failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    note = trainer.budget_note()
    if note:
        print(f"{prog}: note: {note}", file=sys.stderr)
    if run_dir is None:
        try:
            run_dir = new_run_dir(cfg, run_name)
        except RunFolderError as exc:
            trainer.close()
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return 2
        trainer.run_dir = run_dir
    bar = _ProgressBar(cfg.budget, desc=desc or f"{cfg.algo} s{cfg.seed}", enabled=progress)
    trainer.progress = bar
    try:
        result = trainer.train()
    except RunFolderError as exc:  # in use, an unreadable checkpoint, a budget below what was spent
        bar.close()
        print(f"{prog}: error: {exc}\n{prog}: the run folder was left as it was", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the message and the kept run folder are the report
        bar.close()
        print(f"{prog}: error: {exc}\n{_failure_note(prog, run_dir)}", file=sys.stderr)
        return 1
    bar.close()
    final = "-" if result.final_return is None else f"{result.final_return:.4g}"
    best = "-" if result.best_return is None else f"{result.best_return:.4g}"
    print(f"{result.status}: {cfg.algo} on {cfg.env_id} seed {cfg.seed}: {result.env_steps} env steps, "
          f"{result.elapsed_s:.1f} s, final eval return {final}, best {best}\nrun folder: {run_dir}")
    if result.status == "finished" and result.env_steps < cfg.budget and trainer.iteration_cost:
        up_to = "up to " if trainer.variable_cost else ""
        print(f"used {result.env_steps} of {cfg.budget} env steps: one iteration costs {up_to}"
              f"{trainer.iteration_cost} env steps ({trainer.iteration_desc}) and a run uses whole iterations")
    if result.status == "interrupted":
        print(f"resume with: zg-train --resume {shlex.quote(str(run_dir))}")
        return EXIT_INTERRUPTED
    return 0


# ---------------------------------------------------------------------------------------------- zg-compare
def _compare_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="zg-compare",
        description="Train several algorithms x seeds on one env with the same budget; write comparison.md "
                    "and comparison.png. Re-running the same command resumes unfinished runs.")
    _add_version(p)
    p.add_argument("--env", required=True, help="Gymnasium env id")
    p.add_argument("--algos", default="zerograds,es,cma,random,ppo",
                   help=f"comma-separated, from {','.join(ALGOS)} (default: all)")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3)")
    p.add_argument("--seed-start", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--budget", type=int, default=None,
                   help="env steps per run (default: each config's); runs use whole iterations (see zg-train "
                        "--help), and the report gives the env steps each run used")
    p.add_argument("--out", default=None, help="output folder (default runs/compare_<env>_b<budget>)")
    p.add_argument("--config", dest="configs", action="append", default=None, metavar="[ALGO:]FILE",
                   help="a YAML file keyed by env id, as zg-train --config: for every algorithm, or for one with an "
                        "ALGO: prefix (es:my_es.yaml) (repeatable; default: configs/<algo>.yaml)")
    p.add_argument("--config-dir", default=None, help="folder holding <algo>.yaml (default: configs/)")
    p.add_argument("--backend", choices=BACKENDS, default=None, help="evaluation backend (black-box algos)")
    p.add_argument("--num-workers", type=int, default=None, help="worker processes / Ray actors")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="[ALGO:]KEY=VALUE",
                   help="override a config field for every algorithm, or for one with an ALGO: prefix "
                        "(es:options.sigma=0.1) (repeatable)")
    p.add_argument("--fraction", type=float, default=0.9,
                   help="report env steps and wall time to reach this fraction of the way from the initial "
                        "to the best return (default 0.9)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def compare_main(argv: list[str] | None = None) -> int:
    """``zg-compare``: returns the exit status."""
    from .compare import run_comparison

    argv = list(sys.argv[1:] if argv is None else argv)
    args = _compare_parser().parse_args(argv)
    algos = [a.strip() for a in args.algos.split(",") if a.strip()]
    try:
        check_env(args.env)
        result = run_comparison(
            args.env, algos, seeds=list(range(args.seed_start, args.seed_start + args.seeds)), budget=args.budget,
            out_dir=args.out, config_dir=args.config_dir, overrides=args.overrides, backend=args.backend,
            num_workers=args.num_workers, fraction=args.fraction, progress=not args.no_progress,
            command=_command_line("zg-compare", argv), config=args.configs)
    except (ConfigError, ValueError) as exc:
        print(f"zg-compare: error: {exc}", file=sys.stderr)
        return 2
    if result.table:
        print(result.table)
        print(f"\nreport: {result.out_dir / 'comparison.md'}\nplot:   {result.out_dir / 'comparison.png'}")
        print(f"curves: tensorboard --logdir {shlex.quote(str(result.out_dir))}")
    else:
        print(f"no run produced an evaluation: no comparison.md / comparison.png written in {result.out_dir}",
              file=sys.stderr)
    if result.interrupted:
        print("interrupted: run the same command again to resume the unfinished runs")
        return EXIT_INTERRUPTED
    return 1 if result.failed else 0


def _main_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m zg_agent.cli",
        description="Train and compare black-box optimizers (ZeroGrads, OpenES, CMA-ES, random search) and PPO "
                    "on Gymnasium environments, with one budget in env steps.",
        epilog="Run 'python -m zg_agent.cli train --help' or '... compare --help' for the options of each "
               "(the same as the zg-train and zg-compare commands). Curves: tensorboard --logdir runs")
    sub = p.add_subparsers(title="commands", metavar="{train,compare}")
    sub.add_parser("train", help="train one algorithm on one env (zg-train)", add_help=False)
    sub.add_parser("compare", help="several algorithms x seeds on one env with one budget, and a report "
                                   "(zg-compare)", add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m zg_agent.cli train ...`` / ``python -m zg_agent.cli compare ...`` / ``--help``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _main_parser()
    if argv and argv[0] in ("train", "compare"):
        return (train_main if argv[0] == "train" else compare_main)(argv[1:])
    if argv and argv[0] in ("-h", "--help"):
        parser.print_help()
        return 0
    if argv and argv[0] == "--version":
        print(f"zerograds-gym {version()}")
        return 0
    parser.print_usage(sys.stderr)
    what = f"unknown command {argv[0]!r}" if argv else "a command is required"
    print(f"{parser.prog}: error: {what} (choose from train, compare; --help for more)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
