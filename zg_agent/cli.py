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
from .envs import check_env_id, unknown_env_message
from .session import (RunOutcome, describe_changes, explicit_keys, find_resumable, plan_run, probe_lock,
                      resumed_config, run_one)
from .training import has_checkpoint, read_status

EXIT_INTERRUPTED = 130
#: the exit status of each :class:`~zg_agent.session.RunOutcome` status
EXIT_STATUS = {"finished": 0, "interrupted": EXIT_INTERRUPTED, "refused": 2, "failed": 1}


def exit_status(outcome: RunOutcome) -> int:
    return EXIT_STATUS[outcome.status]


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


def check_env(env_id: str, flag: str = "--env") -> str:
    """``env_id`` if it is registered; otherwise a short :class:`ConfigError`: close matches, this project's
    ids and how to list every id."""
    try:
        return check_env_id(env_id)
    except ValueError as exc:
        if "not a registered" not in str(exc):
            raise
    raise ConfigError(unknown_env_message(env_id, flag)) from None


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
        if plan_run(run_dir, cfg.budget) == "skip":  # finished with at least this budget
            print(f"zg-train: {run_dir} already finished ({status.get('env_steps', '?')} env steps of a budget of "
                  f"{status.get('budget')}); nothing to do (give --budget LARGER to continue it)", file=sys.stderr)
            return 0
    return exit_status(run_one(cfg, run_dir, resume=resume, command=command, progress=not args.no_progress,
                               prog="zg-train", run_name=args.run_name))


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
        # the run's own seed unless --seed says otherwise (it then equals the run's, checked above)
        given = load_config(cfg.algo, cfg.env_id, config=args.config, config_dir=args.config_dir,
                            overrides=args.overrides, **{**fields, "seed": cfg.seed})
        resumed = resumed_config(load_run_config(run_dir), given, explicit_keys(fields, args.overrides),
                                 whole=bool(args.config or args.config_dir), where=f"--resume {run_dir}: the run")
        probe_lock(run_dir)
        changes = describe_changes(cfg, resumed)
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
            resumed = resumed_config(load_run_config(found), cfg, explicit_keys(fields, args.overrides),
                                     whole=bool(args.config or args.config_dir),
                                     where=f"--resume auto: the run {found}")
            probe_lock(found)
            print(f"zg-train: {why}{describe_changes(old, resumed)}", file=sys.stderr)
            return found, resumed, True
        print(f"zg-train: --resume auto: starting a new run: {why}", file=sys.stderr)
    return None, cfg, False


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
