"""The black-box trainer: any registered ask/tell optimizer (``zerograds``, ``es``, ``cma``, ``random``)
through an :class:`~zg_agent.rollout.EpisodeObjective`: ``ask`` -> episodes on a backend -> ``tell(-returns)``.
"""

from __future__ import annotations

import pickle

from ..config import BLACK_BOX_ALGOS
from . import diagnostics
from .base import Trainer, eval_seeds
from .run_dir import (CHECKPOINT_VERSION, EvalLog, RunFolderError, atomic_write, checkpoint_path, read_checkpoint,
                      save_solution)
from .signals import rng_states, set_rng_states


class BlackBoxTrainer(Trainer):
    """Drives a registered ask/tell optimizer through an :class:`~zg_agent.rollout.EpisodeObjective`.

    One iteration: ``ask()`` a population, run every candidate for ``episodes_per_candidate`` episodes with the
    same reset seeds (common random numbers, drawn from ``(seed, iteration)``), ``tell`` the losses
    (``-mean return``), merge the observation statistics into the policy (linear / MLP policies).
    """

    def _prepare(self) -> None:
        from ..rollout import EpisodeObjective
        from ..optim import make_optimizer

        cfg = self.cfg
        if cfg.algo not in BLACK_BOX_ALGOS:
            raise ValueError(f"algo must be one of {list(BLACK_BOX_ALGOS)} for BlackBoxTrainer, got {cfg.algo!r}")
        self.objective = EpisodeObjective(
            cfg.env_id, cfg.env_kwargs, cfg.policy, cfg.policy_options, episodes=cfg.episodes_per_candidate,
            max_episode_steps=cfg.max_episode_steps, backend=cfg.backend, num_workers=cfg.num_workers,
            ray_address=cfg.ray_address, seed=cfg.seed, episode_timeout_s=cfg.episode_timeout_s)
        self.policy = self.objective.policy
        self.eval_objective = self._evaluation_objective()
        theta0 = self.objective.initial_params(cfg.seed)
        try:
            self.opt = make_optimizer(cfg.algo, theta0, seed=cfg.seed, **cfg.options.kwargs())
        except TypeError as exc:  # an option the optimizer does not take
            raise ValueError(f"options of {cfg.algo!r} were rejected: {exc}") from exc
        except ValueError as exc:  # the optimizer names the option as its argument; the user set options.<name>
            message = str(exc)
            if message.split(" ", 1)[0] in cfg.options.allowed():
                raise ValueError(f"options.{message}") from exc
            raise
        horizon = self.objective.horizon
        # an episode can end before its time limit, so the cost of an iteration is only bounded from above
        self.variable_cost = True
        self.iteration_cost = self.opt.popsize * cfg.episodes_per_candidate * (horizon or 1)
        length = f"up to {horizon} steps" if horizon else "episode length (the env declares no time limit)"
        self.iteration_desc = f"popsize {self.opt.popsize} x {cfg.episodes_per_candidate} episode(s) x {length}"
        if cfg.budget < self.iteration_cost:
            raise ValueError(
                f"budget {cfg.budget} env steps is smaller than one iteration of {cfg.algo!r} on {cfg.env_id!r}: "
                f"{self.iteration_desc} = {self.iteration_cost}; raise the budget to at least "
                f"{self.iteration_cost} or lower options.popsize / episodes_per_candidate / max_episode_steps")
        self._horizon = horizon

    def _evaluation_objective(self):
        """The objective that scores the run: the training one, or, when ``eval_env_kwargs`` change the env's
        kwargs, a serial one on those kwargs (in this process; it takes the training policy's statistics at
        every evaluation)."""
        from ..envs import check_eval_spaces, eval_kwargs_errors
        from ..rollout import EpisodeObjective

        cfg = self.cfg
        kwargs = cfg.evaluation_env_kwargs()
        if kwargs == cfg.env_kwargs:
            return self.objective
        with eval_kwargs_errors(cfg):
            objective = EpisodeObjective(cfg.env_id, kwargs, cfg.policy, cfg.policy_options,
                                         max_episode_steps=cfg.max_episode_steps, backend="serial", seed=cfg.seed)
        try:
            check_eval_spaces(cfg, self.objective._env, objective._env)
            if objective.num_params != self.objective.num_params or (
                    cfg.policy == "open_loop" and objective.horizon != self.objective.horizon):
                raise ValueError(f"eval_env_kwargs {cfg.eval_env_kwargs!r} change the episode horizon of "
                                 f"{cfg.env_id!r} ({self.objective.horizon} in training, {objective.horizon} in "
                                 f"evaluation), which the {cfg.policy!r} policy's parameters depend on; allowed: "
                                 f"keys that leave the horizon as it is")
        except BaseException:
            objective.close()
            raise
        return objective

    def _open(self) -> None:
        resume_step = self.env_steps if self.resume else None
        self._at_boundary = True
        self.eval_log = EvalLog(self.run_dir / "evaluations.csv", resume_step=resume_step)
        self.logger = self._make_logger(resume_step)

    def _resume(self) -> None:
        cfg = self.cfg
        ckpt = read_checkpoint(self.run_dir, {"kind": "blackbox", "algo": cfg.algo, "env_id": cfg.env_id,
                                              "seed": cfg.seed})
        self._check_budget_covers(ckpt)
        try:
            self.opt.load_state_dict(ckpt["optimizer"])
            self.policy.load_state_dict(ckpt["policy"])
            self.state.load_state_dict(ckpt["progress"])
            set_rng_states(ckpt["rng"])
        except Exception as exc:  # noqa: BLE001
            raise RunFolderError(f"the checkpoint {str(checkpoint_path(self.run_dir))!r} does not hold a state "
                                 f"this run can use ({type(exc).__name__}: {exc})") from None
        self._checkpoint_written()

    def _write_checkpoint(self) -> None:
        """Serialise the optimizer, policy, progress and RNG states now (call at an iteration boundary only)."""
        ckpt = {"version": CHECKPOINT_VERSION, "kind": "blackbox", "algo": self.cfg.algo,
                "env_id": self.cfg.env_id, "seed": self.cfg.seed, "optimizer": self.opt.state_dict(),
                "policy": self.policy.state_dict(), "progress": self._progress_state(), "rng": rng_states()}
        path = checkpoint_path(self.run_dir)
        path.parent.mkdir(exist_ok=True)
        atomic_write(path, pickle.dumps(ckpt, protocol=pickle.HIGHEST_PROTOCOL))
        self._checkpoint_written()

    def _save_on_exit(self) -> None:
        # only a state at an iteration boundary is saved; in the middle of one (ask/tell half done) the last
        # checkpoint on disk stays the one to resume from
        try:
            if getattr(self, "_at_boundary", False) and self._ckpt_iteration != self.iteration:
                self._write_checkpoint()
            if self.logger is not None:
                self.logger.dump(self.env_steps)
        except Exception:  # noqa: BLE001
            pass

    # ------------------------------------------------------------------ loop
    def expected_iteration_cost(self) -> int:
        # what the last iteration cost (the first: its worst case); see the budget rule in
        # :mod:`zg_agent.training.progress`
        last = self.state.last_cost
        return int(last if last is not None else self.iteration_cost)

    def _run(self) -> None:
        cfg, opt, logger = self.cfg, self.opt, self.logger
        prefix = cfg.algo
        if self.state.num_evals == 0:
            self._log_hparams_text()
            self._evaluate(final=False)
            logger.dump(self.env_steps)
            self._write_checkpoint()
        while not self.budget_spent() and not self.stop_requested:
            self._at_boundary = False
            seeds = self.objective.episode_seeds(self.iteration)
            mean_before = opt.mean
            candidates = opt.ask()
            res = self.objective.evaluate(candidates, seeds, update_statistics=True)
            metrics = opt.tell(candidates, res.losses)
            self.iteration += 1
            self.env_steps += res.env_steps
            self.state.last_cost = res.env_steps
            elapsed = self.elapsed()
            fps = self.env_steps / max(elapsed, 1e-9)
            logger.record("rollout/ep_rew_mean", float(res.returns.mean()))
            logger.record("rollout/ep_len_mean", float(res.lengths.mean()))
            logger.record("rollout/best_return", float(-opt.best.f))
            for key, value in metrics.items():
                v = diagnostics.numeric(value)
                if v is not None:
                    logger.record(f"{prefix}/{key}", v)
            logger.record("time/fps", fps)
            logger.record("time/elapsed_s", elapsed)
            logger.record("time/iterations", float(self.iteration))
            logger.record("time/total_timesteps", float(self.env_steps))
            final = self.budget_spent()
            if self.env_steps >= self.state.next_eval or final:
                self._evaluate(final=final)
            if (cfg.slice_every and self.iteration % cfg.slice_every == 0
                    and isinstance(opt, diagnostics.SurrogateOptimizer)):
                self.state.eval_env_steps += diagnostics.log_surrogate_slice(
                    logger, opt, self.objective, mean_before, seeds, metrics, seed=cfg.seed,
                    iteration=self.iteration, env_steps=self.env_steps, points=cfg.slice_points)
            if final:
                self._log_hparams_final()
            logger.dump(self.env_steps)
            self._at_boundary = True
            if not final and not self.stop_requested and self._checkpoint_due():
                self._write_checkpoint()
            self._report_progress(fps)
            if self.callback is not None:
                self.callback(self)
        if self.budget_spent() and self.eval_log.rows and self.eval_log.rows[-1]["env_steps"] != self.env_steps:
            # resumed with a budget that the checkpoint already covers: the final evaluation is still due
            self._evaluate(final=True)
            self._log_hparams_final()
            logger.dump(self.env_steps)
        if self._ckpt_iteration != self.iteration:  # the end of the budget or a stop request
            self._write_checkpoint()
        if self.budget_spent():
            self._save_solution()

    def _evaluate(self, final: bool) -> None:
        theta = self.opt.mean
        res = self._synced_eval_objective().evaluate(theta[None, :], eval_seeds(self.cfg.eval_episodes))
        self._record_eval(res.returns[0], res.lengths[0])
        if self._render_due(final):
            self._render()

    def _synced_eval_objective(self):
        """:attr:`eval_objective` with the observation statistics the training policy has now."""
        if self.eval_objective is not self.objective:
            self.eval_objective.policy.load_state_dict(self.policy.state_dict())
        return self.eval_objective

    def _render(self) -> None:
        theta = self.opt.mean  # the solution eval/mean_reward scores (and zg-replay replays), not the best sample
        try:
            _, _, frames = self._synced_eval_objective().rollout(theta, eval_seeds(1)[0], render=True)
        except Exception as exc:  # noqa: BLE001 - no display library, no rgb_array mode: keep training
            self._render_failed(exc)
            return
        self._log_frames(frames)

    def _save_solution(self) -> None:
        best = self.opt.best
        sol = {"env_id": self.cfg.env_id, "env_kwargs": self.cfg.env_kwargs,
               "eval_env_kwargs": self.cfg.eval_env_kwargs, "algo": self.cfg.algo,
               "max_episode_steps": self.cfg.max_episode_steps, "policy_kind": self.cfg.policy,
               "policy_options": self.cfg.policy_options, "theta": self.opt.mean, "best_theta": best.x,
               "best_train_return": -best.f, "policy_state": self.policy.state_dict(),
               "eval_return": self.state.last_eval, "env_steps": self.env_steps}
        save_solution(self.run_dir, sol)

    def _close(self) -> None:
        super()._close()
        for name in ("eval_objective", "objective"):
            objective = getattr(self, name, None)
            if objective is not None:
                objective.close()

