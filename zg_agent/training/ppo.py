"""The PPO trainer: stable-baselines3's ``PPO`` (Schulman et al. 2017, https://arxiv.org/abs/1707.06347) with
the shared budget, evaluation protocol, logger tags and run folder. SB3 is imported only when a PPO run is
prepared; its callbacks are in :mod:`zg_agent.training.sb3_callbacks`, and the model logs into the run's logger.
"""

from __future__ import annotations

import copy
import os
import pickle
import time
from typing import Any

import numpy as np

from ..envs import check_box_actions, check_eval_spaces, make_env, make_eval_env, play_episode
from .base import Trainer, eval_seeds
from .progress import usable_budget
from .run_dir import CHECKPOINT_VERSION, EvalLog, RunFolderError, atomic_write, checkpoint_path, read_checkpoint
from .signals import rng_states, set_rng_states


class PPOTrainer(Trainer):
    """stable-baselines3 ``PPO`` with the shared budget, evaluation protocol, logger tags and run folder.

    SB3's own records (``rollout/``, ``train/``, ``time/``) go into the run's logger, which the model logs into;
    evaluation, checkpoints and Ctrl-C / SIGTERM are handled by callbacks, one job each. A
    checkpoint (model, VecNormalize statistics, progress) is written at a rollout boundary after every
    ``checkpoint_every`` rollouts, or, by default, every ``checkpoint_seconds`` of wall time also in the middle of a
    rollout, with the part of the rollout collected so far (:mod:`zg_agent.training.resumable_ppo`); a stop request
    saves at the next env step. A resumed run continues that rollout but does not repeat the uninterrupted run
    bit for bit (the envs restart their episodes). A crash or ``kill -9`` in the middle of an update loses that
    update and what was collected after the last checkpoint.
    """

    def _prepare(self) -> None:
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

        from .resumable_ppo import ResumablePPO

        cfg, opts = self.cfg, self.cfg.options
        probe = make_env(cfg.env_id, cfg.env_kwargs, cfg.max_episode_steps)
        try:
            check_box_actions(probe, cfg.env_id)
            if cfg.evaluation_env_kwargs() != cfg.env_kwargs:
                eval_probe = make_eval_env(cfg)
                try:
                    check_eval_spaces(cfg, probe, eval_probe)
                finally:
                    eval_probe.close()
        finally:
            probe.close()
        n_steps = opts.resolved("n_steps")
        rollout = n_steps * opts.n_envs
        self.iteration_cost = rollout
        self.iteration_desc = f"one PPO rollout, n_steps {n_steps} x n_envs {opts.n_envs}"
        if cfg.budget < rollout:
            raise ValueError(f"budget {cfg.budget} env steps is smaller than one PPO rollout on {cfg.env_id!r}: "
                             f"n_steps {n_steps} x n_envs {opts.n_envs} = {rollout}; raise the budget to at "
                             f"least {rollout} or lower options.n_steps / options.n_envs")

        def env_fn():
            return make_env(cfg.env_id, cfg.env_kwargs, cfg.max_episode_steps)

        self.venv = make_vec_env(env_fn, n_envs=opts.n_envs, seed=cfg.seed, vec_env_cls=DummyVecEnv)
        self.model = None
        #: env steps of the rollout begun before a resumed checkpoint (0: resumed at a boundary)
        self._prefix_steps = 0
        if not self.resume:
            if opts.normalize:
                self.venv = VecNormalize(self.venv, gamma=opts.resolved("gamma"))
            try:
                self.model = ResumablePPO(opts.policy, self.venv, seed=cfg.seed, device="cpu", verbose=0,
                                          **opts.ppo_kwargs())
            except (TypeError, AssertionError) as exc:  # SB3 checks its arguments with asserts
                raise ValueError(f"PPO rejected options of {cfg.env_id!r}: {exc}") from exc

    def _resume(self) -> None:
        from stable_baselines3.common.vec_env import VecNormalize

        from .resumable_ppo import ResumablePPO

        cfg, opts = self.cfg, self.cfg.options
        ckpt_dir = self.run_dir / "checkpoints"
        ckpt = read_checkpoint(self.run_dir, {"kind": "ppo", "env_id": cfg.env_id, "seed": cfg.seed})
        self._check_budget_covers(ckpt)
        name = "vecnormalize.pkl"
        try:
            if opts.normalize:
                self.venv = VecNormalize.load(str(ckpt_dir / name), self.venv)
            name = "ppo_model.zip"
            self.model = ResumablePPO.load(str(ckpt_dir / name), env=self.venv, device="cpu")
            name = "checkpoint.pkl"
            self.state.load_state_dict(ckpt["progress"])
            set_rng_states(ckpt["rng"])
            # a checkpoint in the middle of a rollout holds the part collected so far: continue it
            prefix = ckpt.get("rollout")
            self.model.num_timesteps = self.env_steps
            self.model.resume_prefix = prefix
            self._prefix_steps = int(prefix["pos"]) * opts.n_envs if prefix else 0
        except Exception as exc:  # noqa: BLE001 - a damaged zip or pickle raises almost anything
            raise RunFolderError(f"the checkpoint file {str(ckpt_dir / name)!r} cannot be read "
                                 f"({type(exc).__name__}: {exc}); it is damaged, so this run cannot be resumed "
                                 f"from it. Its evaluations so far are in evaluations.csv; start a new run "
                                 f"instead") from None
        self._checkpoint_written()

    def _check_budget_covers(self, ckpt: dict[str, Any]) -> None:
        """PPO trains on whole rollouts: a checkpoint inside one needs a budget that finishes it."""
        prefix = ckpt.get("rollout")
        if not prefix:
            return super()._check_budget_covers(ckpt)
        spent = int(ckpt["progress"]["env_steps"])
        start = spent - int(prefix["pos"]) * self.cfg.options.n_envs
        end = start + self.iteration_cost
        if self.cfg.budget < end:
            raise RunFolderError(
                f"budget {self.cfg.budget} env steps cannot finish the run in {str(self.run_dir)!r}: its checkpoint "
                f"is {spent - start} env steps into a rollout that began at env step {start}, and PPO trains on "
                f"whole rollouts of {self.iteration_cost} steps; give a budget of at least {end} (--budget {end} "
                f"finishes that rollout and the run there, with a final evaluation)")

    def _open(self) -> None:
        cfg = self.cfg
        resume_step = self.env_steps if self.resume else None
        self.clean_stop_step: int | None = None
        self._boundary: dict[str, Any] | None = None
        self.eval_log = EvalLog(self.run_dir / "evaluations.csv", resume_step=resume_step)
        self.logger = self._make_logger(resume_step)
        self._eval_env = make_eval_env(cfg)
        self._render_env = None

    def _run(self) -> None:
        from .sb3_callbacks import callbacks

        cfg = self.cfg
        self.logger.before_dump = self._run_wide_times
        self.model.set_logger(self.logger)
        if self.state.num_evals == 0:
            self._log_hparams_text()
            self._evaluate(final=False)
            self.logger.dump(self.env_steps)
            self._write_checkpoint()
        # whole rollouts only, never past the budget (SB3 would finish a started rollout); a resumed rollout
        # began at env_steps - prefix
        # began at env_steps - prefix (a budget that cannot finish it was refused by _check_budget_covers)
        prefix = self._prefix_steps
        start = self.env_steps - prefix
        remaining = usable_budget(cfg.budget - start, self.iteration_cost) - prefix
        self.target_steps = self.env_steps + remaining
        if remaining > 0 and self.stop_requested:
            # asked to stop before learn() took a step: the checkpoint on disk is this very state, a rollout
            # begun included; writing a boundary checkpoint here would drop that rollout
            return
        if remaining > 0:
            self.model.learn(total_timesteps=remaining, callback=callbacks(self), reset_num_timesteps=False,
                             progress_bar=False, log_interval=1)
        if self.clean_stop_step is not None:
            # stopped on request at a rollout boundary, already saved; the few steps of the rollout that had
            # just begun are discarded with it
            self.env_steps = self.clean_stop_step
            return
        self.keep_boundary()  # learn() returned after its last update: a consistent state
        if self.budget_spent():
            if self.last_eval_step != self.env_steps:
                self._evaluate(final=True)
            self._log_hparams_final()
            self.logger.dump(self.env_steps)
        self._write_checkpoint()
        if self.budget_spent():
            self.model.save(str(self.run_dir / "final_model.zip"))
            if cfg.options.normalize:
                self.venv.save(str(self.run_dir / "vecnormalize.pkl"))

    def _run_wide_times(self, logger, step: int) -> None:
        """At SB3's own dumps (they hold its ``time/fps``): fps and elapsed time over the whole run, resumed
        parts included, like the black-box trainer's."""
        if "time/fps" not in logger.name_to_value:
            return
        elapsed = self.elapsed()
        logger.record("time/fps", step / max(elapsed, 1e-9))
        logger.record("time/elapsed_s", elapsed)
        logger.record("time/total_timesteps", float(step))

    # ------------------------------------------------------------------ what the SB3 callbacks call
    @property
    def stopping(self) -> bool:
        """Whether a stop request has been saved and ``learn`` is being ended."""
        return self.clean_stop_step is not None

    def stop_here(self, env_steps: int | None) -> None:
        """End ``learn`` on a stop request that was saved at ``env_steps``."""
        self.clean_stop_step = env_steps

    @property
    def checkpoint_is_current(self) -> bool:
        """Whether the checkpoint on disk holds this rollout boundary."""
        return self._ckpt_iteration == self.iteration

    def checkpoint_due(self) -> bool:
        """Whether the periodic schedule asks for a checkpoint at this rollout boundary."""
        return self._checkpoint_due()

    def write_checkpoint(self) -> None:
        """A checkpoint at a rollout boundary."""
        self._write_checkpoint()

    def evaluate_if_due(self) -> None:
        """The periodic evaluation, when the env steps have passed ``eval_every`` (the final one is ``_run``'s)."""
        if self.state.next_eval <= self.env_steps < self.target_steps:
            self._evaluate(final=False)
            self.logger.dump(self.env_steps)

    def end_rollout(self) -> None:
        """One iteration done: count it, report progress, call the user's callback."""
        self.iteration += 1
        self._report_progress(self.env_steps / max(self.elapsed(), 1e-9))
        if self.callback is not None:
            self.callback(self)

    # ------------------------------------------------------------------ rollout boundaries
    def keep_boundary(self) -> None:
        """Remember (in memory, no serialisation) the state at a rollout boundary, where the model has trained
        on every rollout it collected: what a crash or a second Ctrl-C saves."""
        pol = self.model.policy
        normalize = self.cfg.options.normalize
        self._boundary = {
            "policy": {k: v.detach().clone() for k, v in pol.state_dict().items()},
            "optimizer": copy.deepcopy(pol.optimizer.state_dict()),
            "schedule": self.model.schedule_state(),
            "rms": (copy.deepcopy(self.venv.obs_rms), copy.deepcopy(self.venv.ret_rms)) if normalize else None,
            "progress": self._progress_state(), "rng": rng_states()}

    def _restore_boundary(self) -> None:
        b = self._boundary
        pol = self.model.policy
        pol.load_state_dict(b["policy"])
        pol.optimizer.load_state_dict(b["optimizer"])
        self.model.set_schedule_state(b["schedule"])
        if b["rms"] is not None:
            self.venv.obs_rms, self.venv.ret_rms = b["rms"]
        elapsed = self.elapsed()  # the wall time really spent, the discarded part included
        self.state.load_state_dict(b["progress"])
        self.state.elapsed_before, self._t0 = elapsed, time.perf_counter()
        set_rng_states(b["rng"])

    @property
    def last_eval_step(self) -> int | None:
        return int(self.eval_log.rows[-1]["env_steps"]) if self.eval_log.rows else None

    def _predict(self, obs) -> np.ndarray:
        if self.cfg.options.normalize:
            obs = self.venv.normalize_obs(obs)
        action, _ = self.model.predict(obs, deterministic=True)
        return action

    def _episode(self, env, seed: int, render: bool):
        return play_episode(env, lambda obs, t: self._predict(obs), seed, render)

    def _evaluate(self, final: bool) -> None:
        results = [self._episode(self._eval_env, s, False) for s in eval_seeds(self.cfg.eval_episodes)]
        returns = np.array([r[0] for r in results])
        if not np.all(np.isfinite(returns)):
            i = int(np.flatnonzero(~np.isfinite(returns))[0])
            raise ValueError(f"evaluation episode return is {returns[i]} with reset seed {eval_seeds(i + 1)[i]} "
                             f"(env {self.cfg.env_id!r})")
        self._record_eval(returns, np.array([r[1] for r in results]))
        if self._render_due(final):
            self._render()

    def _render(self) -> None:
        try:
            if self._render_env is None:
                modes = (self._eval_env.metadata or {}).get("render_modes", [])
                if "rgb_array" not in modes:
                    raise ValueError(f"env {self.cfg.env_id!r} does not render rgb_array (modes {modes})")
                self._render_env = make_eval_env(self.cfg, "rgb_array")
            _, _, frames = self._episode(self._render_env, eval_seeds(1)[0], True)
        except Exception as exc:  # noqa: BLE001
            self._render_failed(exc)
            return
        self._log_frames(frames)

    def partial_checkpoint_due(self) -> bool:
        """Whether the wall-time schedule asks for a checkpoint in the middle of a rollout."""
        return (self.checkpoint_every is None and self.checkpoint_seconds > 0
                and time.perf_counter() - self._last_ckpt_time >= self.checkpoint_seconds)

    def write_partial_checkpoint(self) -> None:
        """A checkpoint in the middle of a rollout (called from the callback's ``on_step``): the model (unchanged
        since the rollout began) and the steps stored in the rollout buffer; the step being taken is dropped."""
        from .resumable_ppo import rollout_prefix

        prefix = rollout_prefix(self.model)
        if prefix is None and (self.model.rollout_buffer.pos != 0 or self._ckpt_iteration == self.iteration):
            return  # a buffer that cannot be stored (dict observations) keeps the boundary checkpoint on disk
        # nothing stored yet (prefix None): the state of the rollout boundary. Either way the checkpoint holds the
        # steps before the one being taken; the trainer's count goes back to SB3's afterwards
        now = self.env_steps
        self.env_steps = now - self.model.n_envs
        try:
            self._write_checkpoint(rollout=prefix)
        finally:
            self.env_steps = now

    def _write_checkpoint(self, rollout: dict[str, Any] | None = None) -> None:
        """Save the model, VecNormalize statistics, progress and RNG states (call at a rollout boundary, or with
        ``rollout``, the part of the current rollout collected so far: see :meth:`write_partial_checkpoint`)."""
        ckpt_dir = self.run_dir / "checkpoints"
        ckpt_dir.mkdir(exist_ok=True)
        tmp = ckpt_dir / "ppo_model.tmp.zip"
        self.model.save(str(tmp))
        os.replace(tmp, ckpt_dir / "ppo_model.zip")
        if self.cfg.options.normalize:
            self.venv.save(str(ckpt_dir / "vecnormalize.tmp.pkl"))
            os.replace(ckpt_dir / "vecnormalize.tmp.pkl", ckpt_dir / "vecnormalize.pkl")
        ckpt = {"version": CHECKPOINT_VERSION, "kind": "ppo", "algo": "ppo", "env_id": self.cfg.env_id,
                "seed": self.cfg.seed, "progress": self._progress_state(), "rng": rng_states(), "rollout": rollout}
        atomic_write(checkpoint_path(self.run_dir), pickle.dumps(ckpt, protocol=pickle.HIGHEST_PROTOCOL))
        self._checkpoint_written()

    def _save_on_exit(self) -> None:
        # never the model as it is now (a crash or a second Ctrl-C may land in the middle of an update): the
        # state of the last rollout boundary, unless the checkpoint on disk already holds it
        try:
            if getattr(self, "_boundary", None) is not None and getattr(self, "model", None) is not None:
                self._restore_boundary()
                if self._ckpt_iteration != self.iteration:
                    self._write_checkpoint()
            elif self.checkpoint_step is not None:
                self.env_steps = self.checkpoint_step
            if self.logger is not None:
                self.logger.dump(self.env_steps)
        except Exception:  # noqa: BLE001
            pass

    def _close(self) -> None:
        super()._close()
        for name in ("venv", "_eval_env", "_render_env"):
            env = getattr(self, name, None)
            if env is not None:
                try:
                    env.close()
                except Exception:  # noqa: BLE001
                    pass
                setattr(self, name, None)
