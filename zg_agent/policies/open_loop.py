"""Open-loop controls: a fixed sequence of actions (one per step, or knots interpolated over the horizon)."""

from __future__ import annotations

import math

import numpy as np

from ..validation import check_positive_int
from .base import Controller, Policy, _ActionMap, _check_theta


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
        self.knots = check_positive_int("knots", knots, allow_none=True)
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

    def first_actions(self, thetas) -> np.ndarray:
        """The step-0 action of every row of ``thetas`` (n, num_params), shape ``(n,) + action_space.shape`` in
        the action dtype, in one vectorised pass: row ``i`` equals ``controller(thetas[i])(obs, 0)`` exactly.

        For one-step envs that score a whole population at once (``batch_rewards``), where building n
        controllers one by one cost more than the env's own vectorised evaluation."""
        x = np.asarray(thetas, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.num_params:
            raise ValueError(f"thetas must have shape (n, {self.num_params}), got {x.shape}")
        n, shape = len(x), (len(x),) + tuple(self.action_space.shape)
        if self._interp is None:  # one action per step: step 0's raw values, mapped and cast as actions() does
            return self.action_map.rows(x[:, : self.act_dim]).reshape(shape)
        # every knot mapped, then step 0's interpolation row applied as actions() does (the same products and
        # sums, so signed zeros and non-finite knot values come out as they do there)
        squashed = self.action_map.rows(x.reshape(-1, self.act_dim)).astype(np.float64)
        first = self._interp[0] @ squashed.reshape(n, -1, self.act_dim)
        return first.astype(self.action_map.dtype, copy=False).reshape(shape)

    def controller(self, theta) -> Controller:
        return _OpenLoopController(self.actions(theta), self.action_map)
