"""Command-line entry points: ``zg-train``, ``zg-compare`` and ``zg-replay`` (also ``python -m zg_agent.cli
train|compare``): argparse, printing and exit codes only; the work is done by :mod:`zg_agent.session`,
:mod:`zg_agent.compare` and :mod:`zg_agent.replay`.

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
import sys

from .common import EXIT_INTERRUPTED, EXIT_STATUS, check_env, exit_status, version
from .compare import compare_main
from .replay import replay_main
from .train import train_main


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


__all__ = ["EXIT_INTERRUPTED", "EXIT_STATUS", "check_env", "compare_main", "exit_status", "main", "replay_main",
           "train_main", "version"]
