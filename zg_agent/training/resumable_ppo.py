"""stable-baselines3's PPO with checkpoints inside a rollout (imported only for PPO runs).

A rollout of ``n_steps x n_envs`` env steps can take minutes, longer than the checkpoint interval. The
model does not change while a rollout is collected, so a checkpoint in the middle of one is the model plus
the part of the rollout buffer filled so far (:func:`rollout_prefix`). :class:`ResumablePPO` continues such
a rollout: the stored steps are put back into the buffer and collection goes on from there. The envs' own
states are not saved (most envs cannot be), so the envs are reset, as on every PPO resume; the episode
that was cut is treated as truncated there (its last stored reward is bootstrapped with the value of the
observation that came next, as SB3 does at a time limit) and a new episode starts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.utils import obs_as_tensor

#: the rollout buffer's arrays that are filled step by step (returns and advantages are computed at the end)
BUFFER_FIELDS = ("observations", "actions", "rewards", "episode_starts", "values", "log_probs")


def rollout_prefix(model: PPO) -> dict[str, Any] | None:
    """The part of the rollout being collected that is in the buffer, with what is needed to continue it;
    None at the start of a rollout (nothing stored yet) or for a buffer that is not a plain array buffer."""
    buf = model.rollout_buffer
    pos = int(buf.pos)
    if pos == 0 or buf.full or not all(isinstance(getattr(buf, f, None), np.ndarray) for f in BUFFER_FIELDS):
        return None
    return {"pos": pos, **{f: getattr(buf, f)[:pos].copy() for f in BUFFER_FIELDS},
            "last_obs": np.array(model._last_obs, copy=True),
            "last_episode_starts": np.array(model._last_episode_starts, copy=True)}


class ResumablePPO(PPO):
    """``PPO`` whose next rollout can continue a stored :func:`rollout_prefix` (set :attr:`resume_prefix`)."""

    #: a :func:`rollout_prefix` to continue in the next rollout (consumed by it)
    resume_prefix: dict[str, Any] | None = None

    def collect_rollouts(self, env, callback, rollout_buffer, n_rollout_steps: int) -> bool:
        prefix, self.resume_prefix = self.resume_prefix, None
        if prefix is None or not 0 < prefix["pos"] < n_rollout_steps:
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        pos = int(prefix["pos"])
        plain_reset = rollout_buffer.reset

        def reset() -> None:
            plain_reset()
            for f in BUFFER_FIELDS:
                getattr(rollout_buffer, f)[:pos] = prefix[f]
            # the cut episode counts as truncated: bootstrap its last reward with the value of the next
            # observation; the envs were reset, so the next stored step starts an episode
            running = ~np.asarray(prefix["last_episode_starts"], dtype=bool)
            if running.any():
                with th.no_grad():
                    values = self.policy.predict_values(obs_as_tensor(prefix["last_obs"], self.device))
                values = values.cpu().numpy().reshape(-1)
                rollout_buffer.rewards[pos - 1, running] += self.gamma * values[running]
            rollout_buffer.pos = pos

        rollout_buffer.reset = reset  # for this rollout only
        try:
            return super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps - pos)
        finally:
            del rollout_buffer.reset

    # SB3 keeps two counters of the learning schedule in private attributes (``_n_updates``, logged as
    # ``train/n_updates``, and ``_current_progress_remaining``, which drives the learning-rate and clip-range
    # schedules) and offers no public way to set them. Restoring a rollout boundary must put them back, or the
    # schedules would run on from the discarded part; this is the one place that reads and writes them.
    def schedule_state(self) -> dict[str, Any]:
        """The step and schedule counters at this moment (see :meth:`set_schedule_state`)."""
        return {"num_timesteps": int(self.num_timesteps), "n_updates": int(getattr(self, "_n_updates", 0)),
                "progress_remaining": float(getattr(self, "_current_progress_remaining", 1.0))}

    def set_schedule_state(self, state: dict[str, Any]) -> None:
        """Put back what :meth:`schedule_state` returned."""
        self.num_timesteps = state["num_timesteps"]
        self._n_updates = state["n_updates"]
        self._current_progress_remaining = state["progress_remaining"]
