"""``zg-train``: argparse, printing and the exit status of one run (the run itself: :mod:`zg_agent.session`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..config import ALGOS, BACKENDS, ConfigError, load_config, load_run_config
from ..session import describe_changes, explicit_keys, find_resumable, plan_run, probe_lock, resumed_config, run_one
from ..training import has_checkpoint, read_status
from .common import _add_version, _command_line, check_env, exit_status


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
