"""The trainer life cycle shared by every algorithm: prepare (setup errors before a run folder exists), lock
the folder, resume, train, save on exit; the evaluation protocol; interrupts; the checkpoint schedule.

Evaluation protocol (every algorithm): at step 0, then whenever the training env steps pass a multiple of
``eval_every``, and at the end, the current solution (the optimizer's ``mean``; PPO's deterministic policy)
runs ``eval_episodes`` episodes with the fixed reset seeds :func:`eval_seeds` (the same for every algorithm and
run seed). Evaluation episodes (and the ZeroGrads slice plot's) are not counted in the training budget; they
are logged as ``time/eval_env_steps``. Evaluations, their pictures and the reference scores use the evaluation
env: ``env_kwargs`` with ``eval_env_kwargs`` over them (a training-only reward is scored on the full one; a
black-box run then evaluates in the trainer's process), while training and the slice plot use ``env_kwargs``.

Shared tags: ``rollout/ep_rew_mean``, ``eval/mean_reward``, ``eval/normalized_score`` (the mean reward
on the env's reference scale, 0 = start, 1 = upper reference; see :mod:`zg_agent.training.references`; absent
where the env has no upper reference), ``time/fps``, ``time/elapsed_s``; diagnostics under
``zerograds/``, ``es/``, ``cma/``, ``random/`` (the optimizer's ``tell`` metrics) and PPO's ``train/``.
Pictures: ``eval/render`` (last frame of an episode of the best design, for envs that render ``rgb_array``),
``eval/frames`` (a strip of frames of that episode), ``zerograds/surrogate_slice`` (surrogate vs true loss
along a line through theta); see :mod:`zg_agent.training.diagnostics`.

Setup errors (unknown env, rejected ``env_kwargs``, a bad optimizer option, a budget below one iteration, a
non-Box action space) are raised by :meth:`Trainer.prepare` before the run folder is created.

Interruption: the first Ctrl-C or SIGTERM finishes the current iteration (PPO: stops at the next env step, or
after the update in progress, and saves the part of the rollout collected so far), saves a checkpoint there and
returns with status ``interrupted``; a second one or a crash stops at once and keeps the state of the last
iteration (rollout) boundary: PPO writes the boundary state it kept in memory (never a model caught in the
middle of an update) unless a newer checkpoint is on disk, a black-box run writes its state when it is at a
boundary and otherwise keeps the last checkpoint on disk. Checkpoints are written atomically at step 0, every
``checkpoint_every`` iterations when that is set, otherwise every ``checkpoint_seconds`` of wall time (default
30 s; PPO also inside a rollout, see :mod:`zg_agent.training.resumable_ppo`), and at the end or on a stop
request; the state is serialised only when a checkpoint is written. ``resume=True`` continues from it, and a
black-box run resumed this way reproduces the uninterrupted run exactly.

Run folder safety: :meth:`Trainer.train` takes the folder's :class:`~zg_agent.training.run_dir.RunLock` (a
second process is refused naming the pid) and, when resuming, reads and restores the checkpoint before anything
in the folder is written; a checkpoint that cannot be read and a budget below the env steps it holds raise
:class:`~zg_agent.training.run_dir.RunFolderError` then.
"""

from __future__ import annotations

import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..config import RunConfig, hparams
from ..tables import markdown_table
from . import diagnostics, references
from .progress import Progress, TrainResult, budget_note, next_iteration_fits, usable_budget
from .run_dir import RunFolderError, RunLock, has_checkpoint, new_run_dir, write_run_files, write_status
from .signals import Interrupts

#: first reset seed of the evaluation episodes (fixed: the same for every algorithm and run seed)
EVAL_SEED_BASE = 1_000_003


def eval_seeds(episodes: int) -> list[int]:
    """The reset seeds of the evaluation episodes."""
    return [EVAL_SEED_BASE + i for i in range(int(episodes))]


def describe_run(cfg: RunConfig) -> str:
    return f"{cfg.algo} on {cfg.env_id} seed {cfg.seed}"


class Trainer:
    """Shared machinery: run folder, logger, evaluation bookkeeping, status, checkpoints, interrupts.

    Args:
        cfg: the run's configuration.
        run_dir: its folder; ``None`` creates ``<run_root>/<env>__<algo>__s<seed>__<time>`` when training
            starts (after :meth:`prepare` has passed). ``config.yaml`` and ``command.txt`` are written there.
        resume: continue from ``run_dir``'s checkpoint (a fresh start if there is none).
        progress: ``progress(env_steps, info)`` after each iteration; ``info`` has ``budget``,
            ``best_return``, ``eval_return``, ``fps``.
        callback: ``callback(trainer)`` after each iteration (after the checkpoint); may call
            :meth:`request_stop`.
        command: the command line to record (default: ``sys.argv``).
    """

    def __init__(self, cfg: RunConfig, run_dir=None, *, resume: bool = False,
                 progress: Callable[[int, dict], None] | None = None,
                 callback: Callable[["Trainer"], None] | None = None, command: str | None = None):
        self.cfg = cfg.validate()
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.resume = bool(resume) and self.run_dir is not None and has_checkpoint(self.run_dir)
        self.progress = progress
        self.callback = callback
        self.command = command
        self.logger = None
        self._interrupts = Interrupts()
        self._stop = False
        self._render_ok = cfg.render != "off"
        self._render_error_logged = False
        self._prepared = False
        #: env steps of one iteration (its worst case for variable-length episodes), set by :meth:`prepare`
        self.iteration_cost: int | None = None
        #: how :attr:`iteration_cost` is made up, e.g. ``popsize 16 x 1 episode(s) x up to 200 steps``
        self.iteration_desc = ""
        self.variable_cost = False
        # checkpoint schedule: every ``checkpoint_every`` iterations when set, else every ``checkpoint_seconds``
        self.checkpoint_every: int | None = cfg.checkpoint_every
        self.checkpoint_seconds = float(cfg.checkpoint_seconds)
        #: env steps / iteration of the checkpoint on disk (None: none written or loaded yet)
        self.checkpoint_step: int | None = None
        self._ckpt_iteration: int | None = None
        self._last_ckpt_time = time.perf_counter()
        #: where the run stands (saved in checkpoints)
        self.state = Progress()
        self._t0 = time.perf_counter()

    @property
    def iteration(self) -> int:
        return self.state.iteration

    @iteration.setter
    def iteration(self, value: int) -> None:
        self.state.iteration = int(value)

    @property
    def env_steps(self) -> int:
        """Training env steps used so far."""
        return self.state.env_steps

    @env_steps.setter
    def env_steps(self, value: int) -> None:
        self.state.env_steps = int(value)

    # ------------------------------------------------------------------ public
    def request_stop(self) -> None:
        """Stop after the current iteration (with a checkpoint), as the first Ctrl-C does."""
        self._stop = True

    @property
    def stop_requested(self) -> bool:
        return self._stop or self._interrupts.requested

    def elapsed(self) -> float:
        """Wall time of the run so far, resumed parts included."""
        return self.state.elapsed_before + (time.perf_counter() - self._t0)

    def prepare(self) -> "Trainer":
        """Build the env(s), policy and optimizer / model and check the budget against one iteration, without
        touching the run folder; raises ``ValueError`` naming what is wrong. :meth:`train` calls it first, so
        a setup error never leaves a run folder behind."""
        if not self._prepared:
            try:
                self._prepare()
            except BaseException:
                self._close()
                raise
            self._prepared = True
        return self

    def close(self) -> None:
        """Release envs and workers of a prepared trainer that will not train (``train`` closes by itself)."""
        self._close()
        self._prepared = False

    def usable_budget(self) -> int:
        """The env steps a fresh run can use: whole iterations that fit in the budget (an upper bound when
        episodes can end early)."""
        return usable_budget(self.cfg.budget, self.iteration_cost)

    def budget_note(self) -> str | None:
        """A sentence when the budget is not a multiple of one iteration (so part of it stays unused)."""
        return budget_note(self.cfg.budget, self.iteration_cost, self.iteration_desc, self.variable_cost)

    def create_run_dir(self, name: str | None = None) -> Path:
        """Create this run's folder now (``<run_root>/<name>``, default ``<env>__<algo>__s<seed>__<time>``)
        unless it has one; raises :class:`RunFolderError` when the run root cannot be written."""
        if self.run_dir is None:
            self.run_dir = new_run_dir(self.cfg, name)
        return self.run_dir

    def train(self) -> TrainResult:
        """Run until the budget is spent (or a stop is requested); always leaves the run folder usable.

        Raises :class:`RunFolderError` before anything in the run folder changes when the folder is in use by
        another process (:class:`RunLock`), its checkpoint cannot be read, or the budget is below the env steps
        the run already used."""
        self.prepare()  # setup errors are raised here, before a run folder exists
        if self.run_dir is None:
            try:
                self.create_run_dir()
            except BaseException:
                self._close()
                raise
        lock = RunLock(self.run_dir)
        try:
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RunFolderError(f"cannot create the run folder {str(self.run_dir)!r}: "
                                     f"{exc.strerror or exc}") from None
            lock.acquire()
            if self.resume:
                self._resume()  # reads and restores the checkpoint; writes nothing
        except BaseException:
            lock.release()
            self._close()
            raise
        try:
            return self._train_locked()
        finally:
            lock.release()

    def _train_locked(self) -> TrainResult:
        write_run_files(self.run_dir, self.cfg, self.command)
        status = "failed"
        write_status(self.run_dir, state="running", algo=self.cfg.algo, env_id=self.cfg.env_id,
                      seed=self.cfg.seed, budget=self.cfg.budget, iteration_cost=self.iteration_cost,
                      pid=os.getpid())
        try:
            with self._interrupts:
                self._open()
                self._t0 = time.perf_counter()
                self._run()
            status = "finished" if self.budget_spent() else "interrupted"
        except KeyboardInterrupt:
            status = "interrupted"
            self._save_on_exit()
        except BaseException as exc:
            self._save_on_exit()
            (self.run_dir / "error.txt").write_text(traceback.format_exc())
            write_status(self.run_dir, state="failed", error=f"{type(exc).__name__}: {exc}",
                          env_steps=self.env_steps, checkpoint_env_steps=self.checkpoint_step)
            raise
        finally:
            self._close()
            if status != "failed":
                write_status(self.run_dir, state=status, **self.state.status_fields(self.elapsed()),
                             checkpoint_env_steps=self.checkpoint_step)
        return TrainResult(self.run_dir, status, self.env_steps, self.iteration, self.elapsed(),
                           self.state.last_eval, self.state.best_return,
                           list(self.eval_log.rows) if getattr(self, "eval_log", None) else [])

    # ------------------------------------------------------------------ subclass hooks
    def budget_spent(self) -> bool:
        """Whether the next iteration would not fit in the budget (the budget rule,
        :mod:`zg_agent.training.progress`; its cost is :meth:`expected_iteration_cost`)."""
        return not next_iteration_fits(self.env_steps, self.cfg.budget, self.expected_iteration_cost())

    def expected_iteration_cost(self) -> int:
        """The env steps the next iteration is expected to cost."""
        return int(self.iteration_cost)

    def _prepare(self) -> None:
        """Build everything that can be checked without the run folder (see :meth:`prepare`)."""
        raise NotImplementedError

    def _resume(self) -> None:
        """Read the checkpoint and restore the state it holds, without writing anything; raises
        :class:`RunFolderError` when it cannot be read or the budget is below the env steps it holds."""
        raise NotImplementedError

    def _check_budget_covers(self, ckpt: dict[str, Any]) -> None:
        spent = int(ckpt["progress"]["env_steps"])
        if self.cfg.budget < spent:
            raise RunFolderError(
                f"budget {self.cfg.budget} env steps is below the {spent} env steps that the run in "
                f"{str(self.run_dir)!r} has already used (its checkpoint); give a budget of at least {spent} "
                f"(--budget {spent} finishes it there, with a final evaluation)")

    def _open(self) -> None:
        """Open ``evaluations.csv`` and the logger (the folder exists; a resumed state is already loaded)."""
        raise NotImplementedError

    def _run(self) -> None:
        raise NotImplementedError

    def _save_on_exit(self) -> None:
        """Save what can be saved after an interruption or a crash (never raises)."""

    def _close(self) -> None:
        if self.logger is not None:
            try:
                self.logger.close()
            except Exception:  # noqa: BLE001 - closing must not hide the real error
                pass
            self.logger = None

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint_due(self) -> bool:
        """Whether the periodic schedule asks for a checkpoint at this iteration boundary."""
        if self.checkpoint_every is not None:
            return self.iteration % int(self.checkpoint_every) == 0
        return time.perf_counter() - self._last_ckpt_time >= self.checkpoint_seconds

    def _checkpoint_written(self) -> None:
        self.checkpoint_step = self.env_steps
        self._ckpt_iteration = self.iteration
        self._last_ckpt_time = time.perf_counter()

    # ------------------------------------------------------------------ shared pieces
    def _make_logger(self, resume_step: int | None):
        from ..logger import make_logger

        return make_logger(self.run_dir, formats=tuple(self.cfg.log_formats), resume_step=resume_step)

    def _progress_state(self) -> dict[str, Any]:
        return self.state.state_dict(self.elapsed())

    def _record_eval(self, returns: np.ndarray, lengths: np.ndarray) -> None:
        """Log one evaluation (``returns``/``lengths`` of the ``eval_episodes`` episodes)."""
        st = self.state
        mean = float(np.mean(returns))
        st.num_evals += 1
        st.last_eval = mean
        st.best_eval = max(st.best_eval, mean)
        st.eval_env_steps += int(np.sum(lengths))
        self.logger.record("eval/mean_reward", mean)
        score = self._normalized_score(mean)
        if math.isfinite(score):
            self.logger.record("eval/normalized_score", score)
        self.logger.record("eval/std_reward", float(np.std(returns)))
        self.logger.record("eval/mean_ep_length", float(np.mean(lengths)))
        self.logger.record("eval/best_mean_reward", st.best_eval)
        self.logger.record("time/eval_env_steps", float(st.eval_env_steps))
        self.eval_log.append({"env_steps": self.env_steps, "elapsed_s": round(self.elapsed(), 4),
                              "iteration": self.iteration, "mean_reward": mean,
                              "std_reward": float(np.std(returns)), "mean_length": float(np.mean(lengths))})
        every = self.cfg.eval_every
        st.next_eval = (self.env_steps // every + 1) * every

    def _normalized_score(self, mean: float) -> float:
        """``mean`` on the env's reference scale (:mod:`zg_agent.training.references`), measured at the first
        evaluation and cached in the run folder; NaN where the env has no upper reference. A failure to measure
        the references is reported once and leaves the run as it was."""
        if not hasattr(self, "_references"):
            try:
                self._references = references.run_references(self.cfg, self.run_dir, EVAL_SEED_BASE)
            except Exception as exc:  # noqa: BLE001 - references are a report, never a reason to stop training
                self._references = None
                self.logger.record_text("eval/references_error", f"no normalised score for this run: {exc}")
        return references.normalize(self._references, mean)

    def _render_due(self, final: bool) -> bool:
        return self._render_ok and (final or (self.state.num_evals - 1) % self.cfg.render_every == 0)

    def _log_frames(self, frames) -> None:
        diagnostics.log_frames(self.logger, frames)

    def _render_failed(self, exc: BaseException) -> None:
        self._render_ok = False
        if not self._render_error_logged:
            self._render_error_logged = True
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self.logger.record_text("eval/render_error", f"rendering disabled for this run: {exc}")
            print(f"note: rendering disabled for this run, no pictures in TensorBoard ({describe_run(self.cfg)}): "
                  f"{reason}", file=sys.stderr, flush=True)

    def _report_progress(self, fps: float) -> None:
        if self.progress is not None:
            self.progress(self.env_steps, {
                "budget": self.cfg.budget, "fps": fps, "eval_return": self.state.last_eval,
                "best_return": self.state.best_return})

    def _log_hparams_text(self) -> None:
        self.logger.record_text("hparams", markdown_table(hparams(self.cfg)))

    def _log_hparams_final(self) -> None:
        metrics = {"eval/mean_reward": None, "eval/best_mean_reward": None, "rollout/ep_rew_mean": None}
        hp = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in hparams(self.cfg).items()}
        self.logger.record_hparams(hp, metrics)

