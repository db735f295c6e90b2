"""What every policy shares: the :class:`Policy` and :class:`Controller` interfaces and the map of raw outputs
into the action Box."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from ..validation import check_choice, check_positive_int

SQUASH_CHOICES = ("tanh", "clip")


def _flat_dim(space, name: str) -> int:
    if isinstance(space, spaces.Box):
        return int(np.prod(space.shape)) if space.shape else 1
    try:
        return int(spaces.flatdim(space))
    except (ValueError, NotImplementedError) as exc:
        raise ValueError(f"{name} {space!r} cannot be flattened into a vector; a Box, Discrete, "
                         f"MultiDiscrete, MultiBinary, Tuple or Dict space is allowed") from exc


class _ActionMap:
    """Maps raw outputs ``u`` (flat, any real) into the action Box (see the module docstring)."""

    def __init__(self, action_space: spaces.Box, squash: str):
        low = np.asarray(action_space.low, dtype=np.float64).ravel()
        high = np.asarray(action_space.high, dtype=np.float64).ravel()
        self.finite = np.isfinite(low) & np.isfinite(high)
        self.all_finite = bool(self.finite.all())
        self.low, self.high = low, high
        lo, hi = np.where(self.finite, low, -1.0), np.where(self.finite, high, 1.0)
        self.centre = (hi + lo) / 2.0
        self.half = (hi - lo) / 2.0
        self.squash = squash
        self.shape = action_space.shape
        self.dtype = action_space.dtype

    def __call__(self, u: np.ndarray) -> np.ndarray:
        return self._map(np.asarray(u, dtype=np.float64)).reshape(self.shape).astype(self.dtype, copy=False)

    def rows(self, u: np.ndarray) -> np.ndarray:
        """Every row of ``u`` (n, act_dim) mapped into the Box, ``(n, act_dim)`` in the action dtype: row ``i``
        equals ``self(u[i])`` exactly (the same elementwise operations, in one pass)."""
        return self._map(np.asarray(u, dtype=np.float64)).astype(self.dtype, copy=False)

    def _map(self, u: np.ndarray) -> np.ndarray:
        """The elementwise map of float64 raw values ``u`` (last axis: action dimensions), float64."""
        if self.all_finite:  # the common case, without the masking, in place: one new array instead of three,
            if self.squash == "tanh":  # with the same values (IEEE * and + commute exactly)
                a = np.tanh(u)
                a *= self.half
                a += self.centre
                return a
            a = u * self.half
            a += self.centre
            return np.clip(a, self.low, self.high, out=a)
        if self.squash == "tanh":
            return np.where(self.finite, self.centre + self.half * np.tanh(u), u)
        return np.where(self.finite, np.clip(self.centre + self.half * u, self.low, self.high), u)


def _check_squash(squash) -> str:
    return check_choice("squash", squash, SQUASH_CHOICES)


def _check_theta(theta, num_params: int) -> np.ndarray:
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (num_params,):
        raise ValueError(f"theta must have shape ({num_params},), got {theta.shape}")
    return theta


class Controller:
    """One episode's behaviour: ``controller(obs, t) -> action`` inside the env's action Box."""

    def __call__(self, obs, t: int) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


class Policy:
    """A parameterisation: flat ``theta`` (``num_params`` floats) -> :class:`Controller`.

    Subclasses set ``num_params`` and implement :meth:`initial_params` and :meth:`controller`. Policies with
    observation normalisation also keep running statistics (``uses_obs_stats = True``); rollouts then return
    per-episode :class:`ObsStats` that the caller merges in a fixed order and passes to
    :meth:`update_statistics`.
    """

    kind: str = ""
    num_params: int
    #: whether rollouts should gather observation statistics for :meth:`update_statistics`
    uses_obs_stats: bool = False

    def __init__(self, observation_space, action_space, horizon: int | None, squash: str = "tanh"):
        if not isinstance(action_space, spaces.Box):
            raise ValueError(f"action_space must be a gymnasium.spaces.Box, got {action_space!r}; "
                             f"discrete action spaces are not supported by the {self.kind!r} policy")
        self.observation_space = observation_space
        self.action_space = action_space
        self.horizon = check_positive_int("horizon", horizon, allow_none=True)
        self.squash = _check_squash(squash)
        self.act_dim = _flat_dim(action_space, "action_space")
        self.action_map = _ActionMap(action_space, self.squash)

    def initial_params(self, seed: int) -> np.ndarray:
        """The starting point ``theta0`` (shape ``(num_params,)``, float64)."""
        raise NotImplementedError

    def controller(self, theta) -> Controller:
        """The behaviour of ``theta`` for one episode (uses the current observation statistics)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """State that is not in ``theta`` (observation statistics), as plain arrays and numbers."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def update_statistics(self, stats) -> None:
        """Merge observation statistics gathered by rollouts (no-op for policies without any)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_params={self.num_params}, squash={self.squash!r})"
