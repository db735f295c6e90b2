"""Policy parameterisations: a flat parameter vector ``theta`` <-> behaviour in a Gymnasium env.

Black-box optimizers search over a flat ``float64`` vector; a :class:`Policy` turns one such vector into a
:class:`Controller` that picks an action for each observation. Three kinds, made by :func:`make_policy`:

``"open_loop"``
    A fixed sequence of actions that ignores observations: one action per step for ``horizon`` steps
    (``knots=None``), or ``knots`` values per action dimension placed evenly over the horizon and linearly
    interpolated in between (a much lower dimension). The natural choice for fixed-target design tasks.
``"linear"``
    ``a = squash(W @ normalise(obs) + b)``, the linear policy of Augmented Random Search V2
    (Mania, Guy and Recht, 2018, https://arxiv.org/abs/1803.07055): observations are normalised by a
    running mean and standard deviation of every state visited during the rollouts. The statistics are
    *not* part of ``theta``; they live in the policy (``state_dict``) and are updated in the main process by
    :meth:`Policy.update_statistics` from the per-episode statistics the rollouts return, merged in a fixed
    order, so every evaluation backend produces bit-identical statistics.
``"mlp"``
    A small multilayer perceptron with ``tanh`` hidden layers (``hidden_sizes``), with the same optional
    observation normalisation as ``"linear"``. Initial parameters are drawn from ``seed``.

Action mapping (``squash`` option, every kind). Raw outputs ``u`` are mapped into the action Box with
centre ``c = (high + low) / 2`` and half-width ``h = (high - low) / 2``:

* ``"tanh"`` (default): ``a = c + h * tanh(u)``, smooth and always strictly inside the Box;
* ``"clip"``: ``a = clip(c + h * u, low, high)``, linear inside the Box.

Either way ``u = 0`` is the centre of the Box and ``|u| ~ 1`` reaches its faces, so a search scale
(``sigma``) of order 0.1 - 1 suits every kind. Action dimensions with an infinite bound take ``a = u``.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from .validation import check_choice, check_positive_int

POLICY_KINDS = ("open_loop", "linear", "mlp")
SQUASH_CHOICES = ("tanh", "clip")


# ---------------------------------------------------------------------------------------------- statistics
@dataclass
class ObsStats:
    """Mean and spread of a set of observation vectors: ``count``, ``mean`` and ``m2`` (sum of squared
    deviations from the mean), all in float64. Merged exactly with Chan et al.'s parallel formula, so
    the result depends only on the order of merging, which the caller fixes."""

    count: int
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def empty(cls, dim: int) -> "ObsStats":
        return cls(0, np.zeros(dim), np.zeros(dim))

    @classmethod
    def from_batch(cls, x: np.ndarray) -> "ObsStats":
        """Statistics of the rows of ``x`` (shape ``(n, dim)``)."""
        x = np.asarray(x, dtype=np.float64)
        n = x.shape[0]
        if n == 0:
            return cls.empty(x.shape[1])
        mean = x.mean(axis=0)
        return cls(int(n), mean, ((x - mean) ** 2).sum(axis=0))

    def merge(self, other: "ObsStats") -> "ObsStats":
        """Statistics of the union of both sets (returns a new object)."""
        if other.count == 0:
            return ObsStats(self.count, self.mean.copy(), self.m2.copy())
        if self.count == 0:
            return ObsStats(other.count, other.mean.copy(), other.m2.copy())
        n = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / n)
        m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / n)
        return ObsStats(n, mean, m2)

    @staticmethod
    def merge_all(items, dim: int) -> "ObsStats":
        """Merge a sequence of statistics left to right (``None`` entries are skipped)."""
        out = ObsStats.empty(dim)
        for s in items:
            if s is not None:
                out = out.merge(s)
        return out

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation (ones before any data; tiny spreads count as 1)."""
        if self.count < 2:
            return np.ones_like(self.mean)
        std = np.sqrt(self.m2 / self.count)
        return np.where(std < 1e-8, 1.0, std)


# ---------------------------------------------------------------------------------------------- helpers
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
        u = np.asarray(u, dtype=np.float64)
        if self.all_finite:  # the common case, without the masking
            if self.squash == "tanh":
                a = self.centre + self.half * np.tanh(u)
            else:
                a = np.clip(self.centre + self.half * u, self.low, self.high)
            return a.reshape(self.shape).astype(self.dtype, copy=False)
        if self.squash == "tanh":
            a = np.where(self.finite, self.centre + self.half * np.tanh(u), u)
        else:
            a = np.where(self.finite, np.clip(self.centre + self.half * u, self.low, self.high), u)
        return a.reshape(self.shape).astype(self.dtype, copy=False)


def _check_squash(squash) -> str:
    return check_choice("squash", squash, SQUASH_CHOICES)


def _check_positive_int(value, name: str, allow_none: bool = False):
    return check_positive_int(name, value, allow_none=allow_none)


def _check_theta(theta, num_params: int) -> np.ndarray:
    theta = np.asarray(theta, dtype=np.float64)
    if theta.shape != (num_params,):
        raise ValueError(f"theta must have shape ({num_params},), got {theta.shape}")
    return theta


# ---------------------------------------------------------------------------------------------- base classes
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
        self.horizon = _check_positive_int(horizon, "horizon", allow_none=True)
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


# ---------------------------------------------------------------------------------------------- open loop
class _OpenLoopController(Controller):
    def __init__(self, actions: np.ndarray, action_map: _ActionMap):
        # actions: (horizon, act_dim) already squashed into the Box, then cast once per step
        self._actions = [action_map_cast(a, action_map) for a in actions]

    def __call__(self, obs, t: int) -> np.ndarray:
        t = int(t)
        if t < 0:
            raise ValueError(f"t must be >= 0, got {t}")
        # past the horizon the last action is held
        return self._actions[min(t, len(self._actions) - 1)].copy()


def action_map_cast(a: np.ndarray, action_map: _ActionMap) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).reshape(action_map.shape).astype(action_map.dtype, copy=False)


class OpenLoopPolicy(Policy):
    """Open-loop controls: ``theta`` holds raw action values, observations are ignored.

    Args:
        horizon: number of steps the controls cover (required); after it the last action is held.
        knots: ``None`` for one action per step (``num_params = horizon * act_dim``), or ``k >= 1`` values per
            action dimension placed evenly over steps ``0 .. horizon - 1`` and linearly interpolated
            (``num_params = k * act_dim``; ``k = 1`` is a constant action). ``theta`` is laid out knot-major:
            ``theta.reshape(k, act_dim)``.
        squash: ``"tanh"`` or ``"clip"`` (module docstring). Knot values are squashed, then interpolated.
        initial_action: the action every step takes at the starting point :meth:`initial_params`: a
            number, or one number per action dimension (``action_space.shape`` or flat). It must lie in the
            action Box, strictly inside it for ``squash="tanh"`` (which never reaches the faces); an action
            dimension with an infinite bound takes any finite value. ``theta0`` is the squash inverted at
            it, so ``actions(theta0)`` equals it. ``None`` (default) is the centre of the Box
            (``theta0 = 0``), which is 0.0 for a symmetric Box such as ``[-1, 1]``. Set it where the centre
            is a threshold of the env (a voxel solid for an action ``> 0``): there every perturbation of
            ``theta0`` flips about half the decisions.
        init_scale: standard deviation of Gaussian noise added to the initial parameters (default 0).
    """

    kind = "open_loop"

    def __init__(self, observation_space, action_space, horizon, knots: int | None = None,
                 squash: str = "tanh", initial_action=None, init_scale: float = 0.0):
        super().__init__(observation_space, action_space, horizon, squash)
        if self.horizon is None:
            raise ValueError("horizon must be a positive integer for the 'open_loop' policy (the number of "
                             "steps the controls cover), got None; give max_episode_steps")
        self.knots = _check_positive_int(knots, "knots", allow_none=True)
        if self.knots is not None and self.knots > self.horizon:
            raise ValueError(f"knots must be <= horizon ({self.horizon}), got {self.knots}")
        if not (isinstance(init_scale, (int, float)) and math.isfinite(init_scale) and init_scale >= 0):
            raise ValueError(f"init_scale must be a finite number >= 0, got {init_scale!r}")
        self.init_scale = float(init_scale)
        self.initial_action = initial_action
        self._u0 = self._raw_for_action(initial_action)  # (act_dim,) raw values mapping onto initial_action
        n_knots = self.horizon if self.knots is None else self.knots
        self.num_params = n_knots * self.act_dim
        # interpolation matrix (horizon, n_knots): actions = M @ knot_values
        if self.knots is None:
            self._interp = None
        else:
            t = np.arange(self.horizon, dtype=np.float64)
            if self.knots == 1:
                self._interp = np.ones((self.horizon, 1))
            else:
                knot_t = np.linspace(0.0, self.horizon - 1, self.knots)
                eye = np.eye(self.knots)
                self._interp = np.stack([np.interp(t, knot_t, eye[j]) for j in range(self.knots)], axis=1)

    def _raw_for_action(self, initial_action) -> np.ndarray:
        """Check ``initial_action`` and return the raw values ``u`` with ``action_map(u) == initial_action``."""
        if initial_action is None:
            return np.zeros(self.act_dim)
        try:
            shape = np.shape(initial_action)
        except ValueError:  # a ragged nested list
            shape = None
        values = np.asarray(initial_action, dtype=object).ravel() if shape is not None else []
        numbers = all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
                      for v in values)
        if shape not in ((), (self.act_dim,), tuple(self.action_space.shape)) or not numbers:
            raise ValueError(f"initial_action must be None (the Box centre), a number or {self.act_dim} "
                             f"numbers (one per action dimension), got {initial_action!r}")
        a = np.broadcast_to(values.astype(np.float64), (self.act_dim,))
        m = self.action_map
        strict = self.squash == "tanh"
        inside = (a > m.low) & (a < m.high) if strict else (a >= m.low) & (a <= m.high)
        inside = np.where(m.finite, inside, np.isfinite(a))
        if not inside.all():
            i = int(np.flatnonzero(~inside)[0])
            where = "strictly inside the action Box (tanh never reaches its faces)" if strict else \
                "inside the action Box"
            interval = f"({m.low[i]}, {m.high[i]})" if strict else f"[{m.low[i]}, {m.high[i]}]"
            raise ValueError(f"initial_action must lie {where}: dimension {i} is {a[i]}, allowed {interval}")
        z = np.where(m.finite, (a - m.centre) / m.half, 0.0)
        u = np.arctanh(z) if strict else z
        return np.where(m.finite, u, a)

    def initial_params(self, seed: int) -> np.ndarray:
        """``theta0``: every knot (or step) at the raw value that maps onto ``initial_action``, plus
        ``N(0, init_scale)`` noise drawn from ``seed`` when ``init_scale > 0``."""
        theta = np.tile(self._u0, self.num_params // self.act_dim)
        if self.init_scale == 0.0:
            return theta
        return theta + np.random.default_rng(seed).normal(0.0, self.init_scale, self.num_params)

    def actions(self, theta) -> np.ndarray:
        """All ``horizon`` actions of ``theta``, shape ``(horizon,) + action_space.shape``."""
        theta = _check_theta(theta, self.num_params)
        rows = theta.reshape(-1, self.act_dim)
        squashed = np.stack([self.action_map(r).astype(np.float64).ravel() for r in rows])
        if self._interp is not None:
            squashed = self._interp @ squashed
        return squashed.reshape((self.horizon,) + tuple(self.action_space.shape))

    def controller(self, theta) -> Controller:
        return _OpenLoopController(self.actions(theta), self.action_map)


# ---------------------------------------------------------------------------------------------- feedback
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


# ---------------------------------------------------------------------------------------------- registry
POLICIES = {"open_loop": OpenLoopPolicy, "linear": LinearPolicy, "mlp": MLPPolicy}


def make_policy(kind: str, observation_space, action_space, horizon: int | None = None, **options) -> Policy:
    """Build a policy by name.

    Args:
        kind: ``"open_loop"``, ``"linear"`` or ``"mlp"``.
        observation_space, action_space: the env's spaces (the action space must be a Box).
        horizon: episode length in steps; required for ``"open_loop"``, ignored by the others.
        **options: the chosen class's keyword arguments (``knots``, ``hidden_sizes``, ``squash``, ...).

    Raises:
        ValueError: unknown ``kind``, unknown option, non-Box action space or bad option value.
    """
    if kind not in POLICIES:
        raise ValueError(f"policy kind must be one of {list(POLICY_KINDS)}, got {kind!r}")
    cls = POLICIES[kind]
    allowed = [p for p in inspect.signature(cls.__init__).parameters
               if p not in ("self", "observation_space", "action_space", "horizon")]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for policy kind {kind!r}; allowed: {allowed}")
    return cls(observation_space, action_space, horizon, **options)
