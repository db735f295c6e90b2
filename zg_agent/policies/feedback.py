"""Feedback policies: linear (ARS V2) and a small MLP, both with optional running observation normalisation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import spaces

from .base import Controller, Policy, _check_theta, _flat_dim
from .obs_stats import ObsStats


class _FeedbackPolicy(Policy):
    """Shared parts of the linear and MLP policies: observation flattening and normalisation."""

    def __init__(self, observation_space, action_space, horizon, squash, normalize_obs, obs_clip):
        super().__init__(observation_space, action_space, horizon, squash)
        self.obs_dim = _flat_dim(observation_space, "observation_space")
        if not isinstance(normalize_obs, bool):
            raise ValueError(f"normalize_obs must be True or False, got {normalize_obs!r}")
        if obs_clip is not None and not (isinstance(obs_clip, (int, float)) and obs_clip > 0):
            raise ValueError(f"obs_clip must be a positive number or None, got {obs_clip!r}")
        self.normalize_obs = normalize_obs
        self.uses_obs_stats = normalize_obs
        self.obs_clip = None if obs_clip is None else float(obs_clip)
        self.stats = ObsStats.empty(self.obs_dim)

    def flatten_obs(self, obs) -> np.ndarray:
        if isinstance(self.observation_space, spaces.Box):
            return np.asarray(obs, dtype=np.float64).ravel()
        return np.asarray(spaces.flatten(self.observation_space, obs), dtype=np.float64)

    def _normaliser(self):
        if not self.normalize_obs:
            return None
        return self.stats.mean.copy(), 1.0 / self.stats.std, self.obs_clip

    def state_dict(self) -> dict[str, Any]:
        return {"count": int(self.stats.count), "mean": self.stats.mean.copy(), "m2": self.stats.m2.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        mean = np.asarray(state["mean"], dtype=np.float64)
        m2 = np.asarray(state["m2"], dtype=np.float64)
        if mean.shape != (self.obs_dim,) or m2.shape != (self.obs_dim,):
            raise ValueError(f"state_dict statistics must have shape ({self.obs_dim},), "
                             f"got mean {mean.shape} and m2 {m2.shape}")
        self.stats = ObsStats(int(state["count"]), mean.copy(), m2.copy())

    def update_statistics(self, stats) -> None:
        if stats is None or not self.normalize_obs:
            return
        if not isinstance(stats, ObsStats):
            raise ValueError(f"stats must be an ObsStats or None, got {type(stats).__name__}")
        if stats.mean.shape != (self.obs_dim,):
            raise ValueError(f"stats must have dimension {self.obs_dim}, got {stats.mean.shape}")
        self.stats = self.stats.merge(stats)


class _FeedbackController(Controller):
    def __init__(self, policy: _FeedbackPolicy, forward):
        self._flatten = policy.flatten_obs
        self._norm = policy._normaliser()
        self._forward = forward
        self._map = policy.action_map

    def __call__(self, obs, t: int) -> np.ndarray:
        x = self._flatten(obs)
        if self._norm is not None:
            mean, inv_std, clip = self._norm
            x = (x - mean) * inv_std
            if clip is not None:
                x = np.clip(x, -clip, clip)
        return self._map(self._forward(x))


class LinearPolicy(_FeedbackPolicy):
    """``a = squash(W @ normalise(obs) + b)`` (ARS V2).

    ``theta`` is ``W.ravel()`` (shape ``(act_dim, obs_dim)``, row-major) followed by ``b`` when ``bias``.
    ARS starts at zero; so does :meth:`initial_params` unless ``init_scale > 0``.

    Args:
        normalize_obs: keep running observation statistics and feed ``(obs - mean) / std`` (default True).
        obs_clip: clip normalised observations to ``[-obs_clip, obs_clip]`` (default 10, ``None`` = off).
        bias: add a bias vector (default True; ARS has none).
        squash: ``"tanh"`` or ``"clip"``.
        init_scale: standard deviation of the initial parameters (default 0).
    """

    kind = "linear"

    def __init__(self, observation_space, action_space, horizon=None, normalize_obs: bool = True,
                 obs_clip: float | None = 10.0, bias: bool = True, squash: str = "tanh",
                 init_scale: float = 0.0):
        super().__init__(observation_space, action_space, horizon, squash, normalize_obs, obs_clip)
        if not isinstance(bias, bool):
            raise ValueError(f"bias must be True or False, got {bias!r}")
        if not (isinstance(init_scale, (int, float)) and math.isfinite(init_scale) and init_scale >= 0):
            raise ValueError(f"init_scale must be a finite number >= 0, got {init_scale!r}")
        self.bias = bias
        self.init_scale = float(init_scale)
        self.num_params = self.act_dim * self.obs_dim + (self.act_dim if bias else 0)

    def initial_params(self, seed: int) -> np.ndarray:
        if self.init_scale == 0.0:
            return np.zeros(self.num_params)
        return np.random.default_rng(seed).normal(0.0, self.init_scale, self.num_params)

    def controller(self, theta) -> Controller:
        theta = _check_theta(theta, self.num_params)
        n_w = self.act_dim * self.obs_dim
        w = theta[:n_w].reshape(self.act_dim, self.obs_dim).copy()
        b = theta[n_w:].copy() if self.bias else np.zeros(self.act_dim)
        return _FeedbackController(self, lambda x: w @ x + b)


class MLPPolicy(_FeedbackPolicy):
    """A multilayer perceptron with ``tanh`` hidden layers; its output goes through ``squash``.

    ``theta`` concatenates, layer by layer, ``W.ravel()`` (shape ``(out, in)``) then ``b``. Initial weights
    are drawn from ``seed``: normal with standard deviation ``1 / sqrt(fan_in)`` for hidden layers and
    ``out_scale / sqrt(fan_in)`` for the output layer, zero biases, so the first actions sit near the
    centre of the Box.

    Args:
        hidden_sizes: widths of the hidden layers (default ``(32, 32)``; ``()`` is a linear policy).
        normalize_obs, obs_clip: as for :class:`LinearPolicy`.
        squash: ``"tanh"`` (default) or ``"clip"``.
        out_scale: scale of the initial output weights (default 0.1).
    """

    kind = "mlp"

    def __init__(self, observation_space, action_space, horizon=None, hidden_sizes=(32, 32),
                 normalize_obs: bool = True, obs_clip: float | None = 10.0, squash: str = "tanh",
                 out_scale: float = 0.1):
        super().__init__(observation_space, action_space, horizon, squash, normalize_obs, obs_clip)
        if isinstance(hidden_sizes, (int, np.integer)) and not isinstance(hidden_sizes, bool):
            hidden_sizes = (hidden_sizes,)
        try:
            sizes = tuple(hidden_sizes)
        except TypeError:
            sizes = None
        if sizes is None or not all(isinstance(h, (int, np.integer)) and not isinstance(h, bool) and h >= 1
                                    for h in sizes):
            raise ValueError(f"hidden_sizes must be a sequence of positive integers, got {hidden_sizes!r}")
        if not (isinstance(out_scale, (int, float)) and math.isfinite(out_scale) and out_scale >= 0):
            raise ValueError(f"out_scale must be a finite number >= 0, got {out_scale!r}")
        self.hidden_sizes = tuple(int(h) for h in sizes)
        self.out_scale = float(out_scale)
        widths = (self.obs_dim,) + self.hidden_sizes + (self.act_dim,)
        self.layer_shapes = [(widths[i + 1], widths[i]) for i in range(len(widths) - 1)]
        self.num_params = sum(o * i + o for o, i in self.layer_shapes)

    def initial_params(self, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        parts = []
        for k, (o, i) in enumerate(self.layer_shapes):
            scale = (self.out_scale if k == len(self.layer_shapes) - 1 else 1.0) / math.sqrt(i)
            parts.append(rng.normal(0.0, scale, o * i))
            parts.append(np.zeros(o))
        return np.concatenate(parts)

    def unflatten(self, theta) -> list[tuple[np.ndarray, np.ndarray]]:
        """``theta`` -> list of ``(W, b)`` per layer (copies)."""
        theta = _check_theta(theta, self.num_params)
        layers, pos = [], 0
        for o, i in self.layer_shapes:
            w = theta[pos:pos + o * i].reshape(o, i).copy()
            pos += o * i
            b = theta[pos:pos + o].copy()
            pos += o
            layers.append((w, b))
        return layers

    def controller(self, theta) -> Controller:
        layers = self.unflatten(theta)

        def forward(x):
            for w, b in layers[:-1]:
                x = np.tanh(w @ x + b)
            w, b = layers[-1]
            return w @ x + b

        return _FeedbackController(self, forward)
