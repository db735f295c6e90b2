"""``zg-compare``: argparse, printing and the exit status of a comparison (:mod:`zg_agent.compare`)."""

from __future__ import annotations

import argparse
import shlex
import sys

from ..config import ALGOS, BACKENDS, ConfigError
from .common import EXIT_INTERRUPTED, _add_version, _command_line, check_env


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
    from ..compare import run_comparison

    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _compare_parser()
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    if args.seed_start < 0:
        parser.error(f"--seed-start must be at least 0, got {args.seed_start}")
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
