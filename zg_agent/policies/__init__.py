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

from .base import SQUASH_CHOICES, Controller, Policy
from .feedback import LinearPolicy, MLPPolicy
from .obs_stats import ObsStats
from .open_loop import OpenLoopPolicy

POLICY_KINDS = ("open_loop", "linear", "mlp")


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


__all__ = ["Controller", "LinearPolicy", "MLPPolicy", "ObsStats", "OpenLoopPolicy", "POLICIES", "POLICY_KINDS",
           "Policy", "SQUASH_CHOICES", "make_policy"]
