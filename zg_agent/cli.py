"""Command-line entry points: ``zg-train`` and ``zg-compare`` (also ``python -m zg_agent.cli train|compare``).

Examples::

    zg-train --env Pendulum-v1 --algo zerograds --seed 0 --budget 50000
    zg-train --env zg/ShadowCaster-v0 --algo es --backend process --set options.sigma=0.2
    zg-train --resume runs/Pendulum-v1__es__s0__20250101-120000        # continue an interrupted run
    zg-train --env Pendulum-v1 --algo es --seed 0 --resume auto        # the latest unfinished matching run
    zg-compare --env Pendulum-v1 --algos zerograds,es,cma,ppo --seeds 3 --budget 50000
    tensorboard --logdir runs

Exit status: 0 finished, 130 interrupted (Ctrl-C; the run can be resumed), 2 bad arguments or config,
1 the run failed (its folder keeps ``error.txt`` and the last checkpoint).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from .objective import check_env_id
from .config import ALGOS, BACKENDS, ConfigError, load_config, load_run_config
from .trainers import TRAINERS, env_tag, has_checkpoint, new_run_dir, read_status

EXIT_INTERRUPTED = 130


def _command_line(prog: str, argv) -> str:
    return " ".join([prog] + [shlex.quote(a) for a in argv])


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
    p.add_argument("--env", help="Gymnasium env id, e.g. Pendulum-v1 or zg/ShadowCaster-v0")
    p.add_argument("--algo", choices=ALGOS, help="algorithm")
    p.add_argument("--seed", type=int, default=None, help="seed of every random source (default 0)")
    p.add_argument("--budget", type=int, default=None, help="training budget in env steps (default: config)")
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
                   help="continue a run from its last checkpoint; 'auto' picks the latest unfinished run "
                        "of this env/algo/seed under the run root (or starts a new one)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def find_resumable(run_root, env_id: str, algo: str, seed: int) -> Path | None:
    """The newest run folder of ``env_id``/``algo``/``seed`` under ``run_root`` with a checkpoint that did not
    finish."""
    root = Path(run_root)
    if not root.is_dir():
        return None
    prefix = f"{env_tag(env_id)}__{algo}__s{seed}__"
    candidates = [d for d in root.iterdir() if d.is_dir() and d.name.startswith(prefix) and has_checkpoint(d)
                  and read_status(d).get("state") != "finished"]
    return max(candidates, key=lambda d: d.stat().st_mtime) if candidates else None


def train_main(argv: list[str] | None = None) -> int:
    """``zg-train``: returns the exit status (see the module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _train_parser()
    args = parser.parse_args(argv)
    command = _command_line("zg-train", argv)
    try:
        run_dir, cfg, resume = _train_setup(args, parser)
    except (ConfigError, ValueError) as exc:
        print(f"zg-train: error: {exc}", file=sys.stderr)
        return 2
    return run_one(cfg, run_dir, resume=resume, command=command, progress=not args.no_progress, prog="zg-train")


def _train_setup(args, parser):
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
        for key in ("budget", "backend", "num_workers", "ray_address"):
            if fields[key] is not None:  # allowed to change between sessions
                setattr(cfg, key, fields[key])
        if args.seed is not None and args.seed != cfg.seed:
            raise ConfigError(f"--seed {args.seed} differs from the run's seed {cfg.seed}")
        if args.overrides or args.config or args.config_dir:
            raise ConfigError("--set/--config cannot change a run being resumed (it keeps its config.yaml); "
                              "only --budget, --backend, --num-workers and --ray-address can")
        return run_dir, cfg.validate(), has_checkpoint(run_dir)
    if not args.env or not args.algo:
        parser.error("--env and --algo are required (unless --resume RUN_DIR)")
    cfg = load_config(args.algo, args.env, config=args.config, config_dir=args.config_dir,
                      overrides=args.overrides, **fields)
    check_env_id(cfg.env_id)  # an unknown id fails here, before a run folder exists
    if args.resume == "auto":
        found = find_resumable(cfg.run_root, cfg.env_id, cfg.algo, cfg.seed)
        if found is not None:
            print(f"zg-train: resuming {found}", file=sys.stderr)
            old = load_run_config(found)
            old.budget = cfg.budget
            return found, old.validate(), True
    return new_run_dir(cfg, args.run_name), cfg, False


def run_one(cfg, run_dir, *, resume: bool, command: str, progress: bool, prog: str, desc: str | None = None) -> int:
    """Train one run with a progress bar; returns an exit status and prints where the run is."""
    trainer = TRAINERS[cfg.algo]
    bar = _ProgressBar(cfg.budget, desc=desc or f"{cfg.algo} s{cfg.seed}", enabled=progress)
    try:
        result = trainer(cfg, run_dir, resume=resume, progress=bar, command=command).train()
    except Exception as exc:  # noqa: BLE001 - the message and the kept run folder are the report
        bar.close()
        print(f"{prog}: error: {exc}\n{prog}: the run folder {run_dir} keeps the last checkpoint and error.txt",
              file=sys.stderr)
        return 1
    bar.close()
    final = "-" if result.final_return is None else f"{result.final_return:.4g}"
    best = "-" if result.best_return is None else f"{result.best_return:.4g}"
    print(f"{result.status}: {cfg.algo} on {cfg.env_id} seed {cfg.seed}: {result.env_steps} env steps, "
          f"{result.elapsed_s:.1f} s, final eval return {final}, best {best}\nrun folder: {run_dir}")
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
    p.add_argument("--env", required=True, help="Gymnasium env id")
    p.add_argument("--algos", default="zerograds,es,cma,random,ppo",
                   help=f"comma-separated, from {','.join(ALGOS)} (default: all)")
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3)")
    p.add_argument("--seed-start", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--budget", type=int, default=None, help="env steps per run (default: each config's)")
    p.add_argument("--out", default=None, help="output folder (default runs/compare_<env>_b<budget>)")
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
        result = run_comparison(
            args.env, algos, seeds=list(range(args.seed_start, args.seed_start + args.seeds)), budget=args.budget,
            out_dir=args.out, config_dir=args.config_dir, overrides=args.overrides, backend=args.backend,
            num_workers=args.num_workers, fraction=args.fraction, progress=not args.no_progress,
            command=_command_line("zg-compare", argv))
    except (ConfigError, ValueError) as exc:
        print(f"zg-compare: error: {exc}", file=sys.stderr)
        return 2
    print(result.table)
    print(f"\nreport: {result.out_dir / 'comparison.md'}\nplot:   {result.out_dir / 'comparison.png'}")
    print(f"curves: tensorboard --logdir {shlex.quote(str(result.out_dir))}")
    if result.interrupted:
        print("interrupted: run the same command again to resume the unfinished runs")
        return EXIT_INTERRUPTED
    return 1 if result.failed else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m zg_agent.cli train ...`` / ``python -m zg_agent.cli compare ...``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("train", "compare"):
        print("usage: python -m zg_agent.cli {train,compare} [options]  (see --help of each)", file=sys.stderr)
        return 2
    return (train_main if argv[0] == "train" else compare_main)(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
