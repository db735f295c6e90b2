"""Compatibility module: the episode objective and its backends now live in :mod:`zg_agent.rollout`, the env
helpers in :mod:`zg_agent.envs`; this re-exports their names (``from zg_agent.objective import
EpisodeObjective, make_env`` keeps working)."""

from __future__ import annotations

from .envs import check_env_id, make_env, run_episode  # noqa: F401
from .rollout import (BACKENDS, Backend, EpisodeObjective, EpisodeTimeoutError, EvalResult,  # noqa: F401
                      ProcessBackend, RayBackend, SerialBackend, make_backend)
from .rollout.jobs import _EnvConfig  # noqa: F401
from .rollout.ray_backend import _RaySession  # noqa: F401

__all__ = ["BACKENDS", "Backend", "EpisodeObjective", "EpisodeTimeoutError", "EvalResult", "ProcessBackend",
           "RayBackend", "SerialBackend", "check_env_id", "make_backend", "make_env", "run_episode"]
