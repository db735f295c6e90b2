"""What every backend shares: the picklable env/policy config a worker builds from, running a list of
episodes, cutting a call's episodes into chunks (:func:`chunk_jobs`), and the episode timeout."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..envs import make_env, run_episode
from ..policies import Policy, make_policy
from ..validation import check_seconds


@dataclass
class _EnvConfig:
    """Everything a worker needs to build its own env and policy (picklable)."""

    env_id: str
    env_kwargs: dict
    max_episode_steps: int | None
    policy_kind: str
    policy_options: dict
    horizon: int | None


def run_jobs(env, policy: Policy, policy_state: dict, jobs, on_start=None):
    """Run ``jobs`` = [(theta, seed), ...] with the given policy statistics -> [(ret, len, stats), ...].
    ``on_start(j)`` is called before job ``j`` starts.

    Open-loop controls of a one-step env that offers ``batch_rewards`` (ShadowArt) are evaluated a reset
    seed at a time in one vectorised call, with the same results as stepping them one by one. The env is then
    left just after a reset rather than after a last step (nothing reads it), and ``on_start`` is called once
    per reset seed, so an episode timeout covers the whole vectorised call."""
    policy.load_state_dict(policy_state)
    if _can_batch(env, policy):
        return _run_batched(env, policy, jobs, on_start)
    collect = policy.uses_obs_stats
    out = []
    for j, (theta, seed) in enumerate(jobs):
        if on_start is not None:
            on_start(j)
        ret, length, stats, _ = run_episode(env, policy, theta, seed, collect_stats=collect)
        out.append((ret, length, stats))
    return out


def _can_batch(env, policy: Policy) -> bool:
    base = env.unwrapped
    return policy.kind == "open_loop" and getattr(base, "horizon", None) == 1 and hasattr(base, "batch_rewards")


def _run_batched(env, policy: Policy, jobs, on_start) -> list:
    """One ``reset`` per distinct seed, then every action of that seed in one ``batch_rewards`` call."""
    out: list = [None] * len(jobs)
    by_seed: dict[int, list[int]] = {}
    for j, (_, seed) in enumerate(jobs):
        by_seed.setdefault(int(seed), []).append(j)
    for seed, rows in by_seed.items():
        if on_start is not None:
            on_start(rows[0])
        env.reset(seed=seed)
        actions = policy.first_actions(np.stack([jobs[j][0] for j in rows]))
        rewards = env.unwrapped.batch_rewards(actions)
        for j, reward in zip(rows, rewards):
            out[j] = (0.0 + float(reward), 1, None)  # the sum play_episode forms: -0.0 becomes 0.0
    return out


class EpisodeTimeoutError(RuntimeError):
    """An episode ran longer than ``episode_timeout_s`` (a hung env). ``jobs`` are the indices, in the call's
    list of episodes, of the episode (process backend) or of the chunk holding it (Ray backend)."""

    def __init__(self, message: str, jobs: range | None = None):
        super().__init__(message)
        self.jobs = jobs


def check_timeout(value, name: str = "episode_timeout_s"):
    return check_seconds(name, value)


def build(cfg: _EnvConfig):
    env = make_env(cfg.env_id, cfg.env_kwargs, cfg.max_episode_steps)
    policy = make_policy(cfg.policy_kind, env.observation_space, env.action_space, cfg.horizon,
                         **cfg.policy_options)
    return env, policy



def chunk_jobs(jobs: list, num_workers: int, chunks_per_worker: int) -> tuple[int, list[list]]:
    """``(size, chunks)``: ``jobs`` cut in order into chunks of ``size`` (the last may be shorter), about
    ``chunks_per_worker`` per worker, to balance load; chunk ``c`` starts at job ``c * size``."""
    size = max(1, math.ceil(len(jobs) / (num_workers * chunks_per_worker)))
    return size, [jobs[i:i + size] for i in range(0, len(jobs), size)]
