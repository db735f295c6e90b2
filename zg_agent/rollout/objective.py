"""The episode objective: ``theta -> -(mean return over episodes)`` on a backend (see :mod:`zg_agent.rollout`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..envs import check_box_actions, episode_horizon, make_env, run_episode
from ..policies import ObsStats, make_policy
from .backends import BACKENDS, make_backend
from .serial import SerialBackend
from .jobs import EpisodeTimeoutError, _EnvConfig, check_timeout


# ---------------------------------------------------------------------------------------------- results
@dataclass
class EvalResult:
    """What :meth:`EpisodeObjective.evaluate` returns for ``n`` candidates and ``E`` episodes each.

    Attributes:
        losses: ``(n,)``, ``-mean(returns, axis=1)`` (minimisation convention).
        returns: ``(n, E)`` undiscounted episode returns.
        lengths: ``(n, E)`` episode lengths in env steps.
        env_steps: total env steps of this call (``lengths.sum()``).
        obs_stats: the merged :class:`~zg_agent.policies.ObsStats` of every observation the policy saw
            (candidate-major, episode order), already merged into the policy when :meth:`evaluate` was asked to;
            ``None`` when the policy keeps no statistics.
    """

    losses: np.ndarray
    returns: np.ndarray
    lengths: np.ndarray
    env_steps: int
    obs_stats: ObsStats | None



# ---------------------------------------------------------------------------------------------- objective
class EpisodeObjective:
    """``theta -> -(mean return over episodes)`` of a policy in a Gymnasium env.

    Args:
        env_id: registered Gymnasium id (``"Pendulum-v1"``, ``"zg/ShadowCaster-v0"``, ``"module:Id"``).
        env_kwargs: keyword arguments for ``gymnasium.make``.
        policy_kind: ``"open_loop"``, ``"linear"`` or ``"mlp"`` (:func:`zg_agent.policies.make_policy`).
        policy_options: keyword arguments of that policy (``knots``, ``hidden_sizes``, ``squash``, ...).
        episodes: episodes per candidate that :meth:`episode_seeds` hands out by default.
        max_episode_steps: time limit (overrides the registered one). The horizon (also the open-loop one) is
            the smallest of it, the registered limit and the env's ``unwrapped.horizon``.
        backend: ``"serial"``, ``"process"`` or ``"ray"``.
        num_workers: processes / actors for the parallel backends (default: all CPUs).
        ray_address: Ray cluster address; ``None`` = local instance.
        seed: seed of :meth:`initial_params` and of :meth:`episode_seeds`.
        episode_timeout_s: process and Ray backends: an episode that runs longer than this many seconds (a
            hung env) stops the workers and raises :class:`EpisodeTimeoutError` naming the candidate and reset
            seed (Ray: the candidates of the chunk holding it). None (default): no limit. The serial backend
            runs episodes in this process, where a hung env cannot be stopped, and ignores it.

    Attributes:
        policy: the :class:`~zg_agent.policies.Policy`, the one owner of the observation statistics; only
            ``evaluate(..., update_statistics=True)`` changes them (the caller decides which rollouts count,
            ARS: the training rollouts).
        total_env_steps: env steps used by every :meth:`evaluate` and :meth:`rollout` so far.

    Raises:
        ValueError: unknown env id, policy kind or backend, non-Box action space, missing horizon.
        ImportError: ``backend="ray"`` without Ray installed.
    """

    def __init__(self, env_id: str, env_kwargs: dict | None = None, policy_kind: str = "open_loop",
                 policy_options: dict | None = None, episodes: int = 1, max_episode_steps: int | None = None,
                 backend: str = "serial", num_workers: int | None = None, ray_address: str | None = None,
                 seed: int = 0, episode_timeout_s: float | None = None):
        self.episode_timeout_s = check_timeout(episode_timeout_s)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
        if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
            raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
        if max_episode_steps is not None and (isinstance(max_episode_steps, bool) or
                                              not isinstance(max_episode_steps, int) or max_episode_steps < 1):
            raise ValueError(f"max_episode_steps must be a positive integer or None, got {max_episode_steps!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if env_kwargs is not None and not isinstance(env_kwargs, dict):
            raise ValueError(f"env_kwargs must be a dict or None, got {env_kwargs!r}")
        if policy_options is not None and not isinstance(policy_options, dict):
            raise ValueError(f"policy_options must be a dict or None, got {policy_options!r}")
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.policy_kind = policy_kind
        self.policy_options = dict(policy_options or {})
        self.episodes = episodes
        self.backend_name = backend
        self.seed = int(seed)
        self.total_env_steps = 0
        self._render_env = None

        env = make_env(env_id, self.env_kwargs, max_episode_steps)
        try:
            check_box_actions(env, env_id)
            self.max_episode_steps = max_episode_steps
            self.horizon = episode_horizon(env, max_episode_steps)
            if self.horizon is None and policy_kind == "open_loop":
                raise ValueError(f"max_episode_steps is required for env {env_id!r} with the 'open_loop' "
                                 f"policy: the env has no horizon or registered time limit to use")
            self.policy = make_policy(policy_kind, env.observation_space, env.action_space, self.horizon,
                                      **self.policy_options)
        except BaseException:
            env.close()
            raise
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self._cfg = _EnvConfig(env_id, self.env_kwargs, max_episode_steps, policy_kind, self.policy_options,
                               self.horizon)
        # the main env serves rollout() and the serial backend; parallel backends build their own
        self._env = env
        if backend == "serial":
            self.backend = SerialBackend(self._cfg, env=self._env, policy=self.policy)
        else:
            try:
                self.backend = make_backend(backend, self._cfg, num_workers=num_workers,
                                            ray_address=ray_address, episode_timeout_s=self.episode_timeout_s)
            except BaseException:
                env.close()
                raise

    # -------------------------------------------------------------------------------------- properties
    @property
    def num_params(self) -> int:
        return self.policy.num_params

    def initial_params(self, seed: int | None = None) -> np.ndarray:
        """``policy.initial_params(seed)`` (default: the objective's seed)."""
        return self.policy.initial_params(self.seed if seed is None else seed)

    def episode_seeds(self, iteration: int, count: int | None = None) -> list[int]:
        """Reset seeds for one iteration (``count`` defaults to ``episodes``), a deterministic function of
        ``(seed, iteration)``. Use the same list for every candidate of that iteration."""
        count = self.episodes if count is None else count
        ss = np.random.SeedSequence([self.seed, int(iteration)])
        return [int(s) for s in ss.generate_state(count, dtype=np.uint32)]

    # -------------------------------------------------------------------------------------- evaluation
    def _check_thetas(self, thetas) -> np.ndarray:
        x = np.asarray(thetas, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.num_params or x.shape[0] == 0:
            raise ValueError(f"thetas must have shape (n, {self.num_params}) with n >= 1, "
                             f"got {np.shape(thetas)}")
        if not np.all(np.isfinite(x)):
            rows = np.flatnonzero(~np.all(np.isfinite(x), axis=1))
            raise ValueError(f"thetas must be finite; candidate(s) {rows[:10].tolist()} contain NaN or inf")
        return x

    @staticmethod
    def _check_seeds(reset_seeds) -> list[int]:
        try:
            seeds = list(reset_seeds)
        except TypeError:
            seeds = None
        if not seeds or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0
                                for s in seeds):
            raise ValueError(f"reset_seeds must be a non-empty list of non-negative integers, "
                             f"got {reset_seeds!r}")
        return [int(s) for s in seeds]

    def evaluate(self, thetas, reset_seeds, update_statistics: bool = False) -> EvalResult:
        """Run every candidate (rows of ``thetas``) once per reset seed.

        Every candidate uses the same ``reset_seeds`` (common random numbers). The policy's observation
        statistics are frozen during the call; ``update_statistics=True`` merges what the episodes saw into
        them afterwards (the training rollouts of ARS). Raises ``ValueError`` if an episode returns NaN, naming the
        candidate index and the reset seed.
        """
        if self.backend is None:
            raise RuntimeError("the objective is closed")
        x = self._check_thetas(thetas)
        seeds = self._check_seeds(reset_seeds)
        jobs = [(x[i], s) for i in range(x.shape[0]) for s in seeds]
        n, e = x.shape[0], len(seeds)
        try:
            out = self.backend.run(jobs, self.policy.state_dict())
        except EpisodeTimeoutError as exc:
            raise self._timeout_error(exc, n, seeds) from None
        returns = np.array([r[0] for r in out], dtype=np.float64).reshape(n, e)
        lengths = np.array([r[1] for r in out], dtype=np.int64).reshape(n, e)
        self.total_env_steps += int(lengths.sum())
        bad = np.argwhere(~np.isfinite(returns))
        if bad.size:
            i, j = (int(v) for v in bad[0])
            raise ValueError(f"episode return is {returns[i, j]} for candidate {i} with reset seed {seeds[j]} "
                             f"(env {self.env_id!r}; {len(bad)} non-finite episode(s) in this batch)")
        stats = ObsStats.merge_all((r[2] for r in out), self.policy.obs_dim) if self.policy.uses_obs_stats \
            else None
        if update_statistics:
            self.policy.update_statistics(stats)
        return EvalResult(losses=-returns.mean(axis=1), returns=returns, lengths=lengths,
                          env_steps=int(lengths.sum()), obs_stats=stats)

    def _timeout_error(self, exc: EpisodeTimeoutError, n: int, seeds: list[int]) -> EpisodeTimeoutError:
        """``exc`` restated with candidate numbers and reset seeds."""
        e = len(seeds)
        jobs = exc.jobs if exc.jobs is not None else range(0)
        where = f"the {self.backend_name} backend's workers were stopped"
        if len(jobs) == 1:
            i, s = divmod(jobs[0], e)
            what = f"the episode of candidate {i} (of {n}) with reset seed {seeds[s]}"
        elif len(jobs) > 1:
            cands = sorted({j // e for j in jobs})
            used = sorted({seeds[j % e] for j in jobs})
            what = (f"an episode of candidates {cands[0]}..{cands[-1]} (of {n}), reset seeds {used}, run as one "
                    f"chunk,")
        else:
            what = "an episode"
        return EpisodeTimeoutError(
            f"{what} ran longer than episode_timeout_s={self.episode_timeout_s:g} s on env {self.env_id!r}: the "
            f"env may hang; {where}", jobs)

    def __call__(self, theta, reset_seeds=None) -> float:
        """Loss of one ``theta`` (reset seeds default to ``episode_seeds(0)``)."""
        seeds = self.episode_seeds(0) if reset_seeds is None else reset_seeds
        return float(self.evaluate(np.asarray(theta)[None, :], seeds).losses[0])

    def rollout(self, theta, seed: int, render: bool = False):
        """One episode in this process (current statistics, no update): ``(return, length, frames or None)``.

        With ``render=True`` the frames come from a second env built with ``render_mode="rgb_array"``.
        """
        theta = self._check_thetas(theta)[0]
        seed = self._check_seeds([seed])[0]
        if render:
            if self._render_env is None:
                modes = (self._env.metadata or {}).get("render_modes", [])
                if "rgb_array" not in modes:
                    raise ValueError(f"render=True needs an env with render_mode 'rgb_array'; {self.env_id!r} "
                                     f"supports {modes}")
                self._render_env = make_env(self.env_id, self.env_kwargs, self.max_episode_steps, "rgb_array")
            env = self._render_env
        else:
            env = self._env
        ret, length, _, frames = run_episode(env, self.policy, theta, seed, render=render)
        self.total_env_steps += int(length)
        return ret, length, frames

    def close(self) -> None:
        """Stop workers and close envs (idempotent)."""
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.close()
            self.backend = None
        for name in ("_env", "_render_env"):
            env = getattr(self, name, None)
            if env is not None:
                env.close()
                setattr(self, name, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return (f"EpisodeObjective(env_id={self.env_id!r}, policy={self.policy!r}, "
                f"backend={self.backend_name!r}, horizon={self.horizon})")
