"""Run one config: plan it (new, resume or skip), check its setup, train it with a progress bar and say where it
is. Used by ``zg-train`` (:mod:`zg_agent.cli`) and by :func:`zg_agent.compare.run_comparison`; the outcome is a
:class:`RunOutcome` (the command-line tools turn it into an exit status).

The resume rule, for both tools: a resumed run keeps its ``config.yaml``; the :data:`RESUMABLE_CHANGES` given
explicitly (a new budget, backend, worker count, Ray address) are applied to it, any other setting given must
equal the run's (:func:`resumed_config`). A run that finished with at least the budget asked for is skipped
(:func:`plan_run`).
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from .config import ConfigError, RunConfig, parse_override
from .training import (TRAINERS, RunFolderError, RunLock, TrainResult, has_checkpoint, read_status,
                       run_dir_name)
from .training.run_dir import read_config_dict

#: fields that a resumed run may change: they do not change its results (the same seed gives the same numbers
#: on every backend and worker count) or only extend it (budget)
RESUMABLE_CHANGES = ("budget", "backend", "num_workers", "ray_address", "episode_timeout_s")


# ---------------------------------------------------------------------------------------------- planning
def run_budget(run_dir) -> int | None:
    """The budget a run folder was last trained with (``status.json``, else ``config.yaml``)."""
    run_dir = Path(run_dir)
    budget = read_status(run_dir).get("budget")
    if budget is None:
        budget = read_config_dict(run_dir).get("budget")
    return int(budget) if budget is not None else None


def plan_run(run_dir, budget: int) -> str:
    """``skip`` (finished with at least this budget), ``resume`` (a checkpoint to continue) or ``new``."""
    run_dir = Path(run_dir)
    if read_status(run_dir).get("state") == "finished":
        done_budget = run_budget(run_dir)
        if done_budget is not None and done_budget >= budget:
            return "skip"
    return "resume" if has_checkpoint(run_dir) else "new"


def matching_runs(run_root, env_id: str, algo: str, seed: int) -> list[Path]:
    """Run folders of ``env_id``/``algo``/``seed`` under ``run_root``, newest first."""
    root = Path(run_root)
    if not root.is_dir():
        return []
    prefix = run_dir_name(env_id, algo, seed) + "__"
    runs = [d for d in root.iterdir()
            if d.is_dir() and d.name.startswith(prefix) and (d / "config.yaml").is_file()]
    return sorted(runs, key=lambda d: d.stat().st_mtime, reverse=True)


def find_resumable(run_root, env_id: str, algo: str, seed: int) -> tuple[Path | None, str]:
    """``(run folder, why)`` for ``--resume auto``: the newest run of ``env_id``/``algo``/``seed`` under
    ``run_root`` when it did not finish and has a checkpoint; otherwise ``(None, why a new run starts)``."""
    for d in matching_runs(run_root, env_id, algo, seed):
        status = read_status(d)
        if status.get("state") == "finished":
            return None, (f"the latest run {d} finished ({status.get('env_steps', '?')} env steps of a budget of "
                          f"{status.get('budget', '?')}); to continue it instead, give "
                          f"--resume {shlex.quote(str(d))} --budget LARGER")
        if has_checkpoint(d):
            at = status.get("checkpoint_env_steps", "?")
            return d, f"resuming {d} ({status.get('state', 'unknown')}, checkpoint at {at} env steps)"
    return None, f"no unfinished run of {algo} on {env_id} seed {seed} under {run_root}"


def probe_lock(run_dir: Path) -> None:
    """Refuse a run folder held by another process now, before the slow setup (the trainer takes the lock)."""
    RunLock(run_dir).acquire().release()


# ---------------------------------------------------------------------------------------------- resuming
def _dotted(d: dict, key: str):
    for part in key.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def explicit_keys(fields: dict, overrides) -> set[str]:
    """Dotted keys that a command sets itself: the ``fields`` it gives (not None) and every ``--set`` key."""
    keys = {k for k, v in fields.items() if v is not None}
    return keys | {parse_override(o)[0] for o in overrides}


def resumed_config(old: RunConfig, new: RunConfig, explicit: set[str], whole: bool,
                   where: str, advice: str | None = None) -> RunConfig:
    """The config to resume a run with: the run's own ``old`` config, with the :data:`RESUMABLE_CHANGES` that the
    command gives explicitly (``explicit`` holds the dotted keys it sets) taken from ``new``. Raises
    :class:`ConfigError` when the command asks for any other value than the run has: for the keys in ``explicit``,
    or for every key when ``whole`` (the command names its own config file, or a comparison keeps or continues
    the run). ``where`` names the run; ``advice``
    replaces the closing advice of the error (how to start anew instead)."""
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
                          + ", ".join(RESUMABLE_CHANGES) + " can change); "
                          + (advice or "leave these out to resume it, or start a new run (without --resume)"))
    cfg = old
    for key in RESUMABLE_CHANGES:
        if key in explicit:
            setattr(cfg, key, getattr(new, key))
    return cfg.validate()


def describe_changes(old: RunConfig, cfg: RunConfig) -> str:
    """``; with budget 640 (was 480)``: the :data:`RESUMABLE_CHANGES` a resume applies (empty when none)."""
    said = [f"{k} {getattr(cfg, k)!r} (was {getattr(old, k)!r})" for k in RESUMABLE_CHANGES
            if getattr(old, k) != getattr(cfg, k)]
    return f"; with {', '.join(said)}" if said else ""


# ---------------------------------------------------------------------------------------------- running
class ProgressBar:
    """tqdm bar over env steps with the best evaluation return and fps, shown from :meth:`open` on (a trainer's
    ``progress`` callback)."""

    def __init__(self, total: int, initial: int = 0, desc: str = "", enabled: bool = True):
        self.total, self.initial, self.desc, self.enabled = total, initial, desc, enabled
        self.bar = None
        self.n = initial

    def open(self) -> "ProgressBar":
        if self.enabled and self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, initial=self.initial, desc=self.desc, unit="step",
                            dynamic_ncols=True, file=sys.stderr, mininterval=0.5)
        return self

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


@dataclass
class RunOutcome:
    """How :func:`run_one` ended."""

    status: str
    """``finished`` or ``interrupted`` (trained; :attr:`result` is set), ``refused`` (a bad setup or a run
    folder that cannot be used, found before anything changed) or ``failed`` (the setup or training failed)"""
    run_dir: Path | None
    result: TrainResult | None = None


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


def run_one(cfg: RunConfig, run_dir, *, resume: bool, command: str, progress: bool, prog: str,
            desc: str | None = None, run_name: str | None = None) -> RunOutcome:
    """Check the setup (refused without creating a folder when it is wrong), then train one run with a progress
    bar, printing what happens under the name ``prog``. ``run_dir=None`` creates a new run folder (named
    ``run_name`` when given)."""
    bar = ProgressBar(cfg.budget, desc=desc or f"{cfg.algo} s{cfg.seed}", enabled=progress)
    trainer = TRAINERS[cfg.algo](cfg, run_dir, resume=resume, command=command, progress=bar)
    try:
        trainer.prepare()
    except ValueError as exc:  # ConfigError included
        print(f"{prog}: error: {exc}", file=sys.stderr)
        if run_dir is None:
            print(f"{prog}: no run folder was created", file=sys.stderr)
        return RunOutcome("refused", None)
    except Exception as exc:  # noqa: BLE001 - e.g. a module of the env that cannot be imported
        print(f"{prog}: error: setup failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return RunOutcome("failed", run_dir)
    note = trainer.budget_note()
    if note:
        print(f"{prog}: note: {note}", file=sys.stderr)
    if run_dir is None:
        try:
            run_dir = trainer.create_run_dir(run_name)
        except RunFolderError as exc:
            trainer.close()
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return RunOutcome("refused", None)
    bar.open()
    try:
        result = trainer.train()
    except RunFolderError as exc:  # in use, an unreadable checkpoint, a budget below what was spent
        bar.close()
        print(f"{prog}: error: {exc}\n{prog}: the run folder was left as it was", file=sys.stderr)
        return RunOutcome("refused", run_dir)
    except Exception as exc:  # noqa: BLE001 - the message and the kept run folder are the report
        bar.close()
        print(f"{prog}: error: {exc}\n{_failure_note(prog, run_dir)}", file=sys.stderr)
        return RunOutcome("failed", run_dir)
    bar.close()
    final = "-" if result.final_return is None else f"{result.final_return:.4g}"
    best = "-" if result.best_return is None else f"{result.best_return:.4g}"
    # a stopped run's last evaluation can be far behind its training (the one at 0 env steps, say)
    which = "final eval return" if result.status == "finished" else "last eval return (the latest evaluation)"
    print(f"{result.status}: {cfg.algo} on {cfg.env_id} seed {cfg.seed}: {result.env_steps} env steps, "
          f"{result.elapsed_s:.1f} s, {which} {final}, best eval {best}\nrun folder: {run_dir}")
    if result.status == "finished" and result.env_steps < cfg.budget and trainer.iteration_cost:
        up_to = "up to " if trainer.variable_cost else ""
        print(f"used {result.env_steps} of {cfg.budget} env steps: one iteration costs {up_to}"
              f"{trainer.iteration_cost} env steps ({trainer.iteration_desc}) and a run uses whole iterations")
    if result.status == "interrupted":
        print(f"resume with: zg-train --resume {shlex.quote(str(run_dir))}")
    return RunOutcome(result.status, run_dir, result)


__all__ = ["RESUMABLE_CHANGES", "ProgressBar", "RunOutcome", "describe_changes", "explicit_keys",
           "find_resumable", "matching_runs", "plan_run", "probe_lock", "resumed_config", "run_budget", "run_one"]
