"""Plateau test problems: losses that are piecewise constant, so their gradients are zero almost everywhere
(and one smooth sphere for reference).

Each problem is a vectorised function ``f(X) -> (n,)`` over a batch ``X`` of shape ``(n, d)`` with a start
point ``x0`` and a known optimal value, used by the optimizer tests, benchmarks and the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class Problem:
    name: str
    fun: Callable[[np.ndarray], np.ndarray]  # (n, d) -> (n,)
    x0: np.ndarray
    f_opt: float

    @property
    def dim(self) -> int:
        return self.x0.size


def toy_1d() -> Problem:
    """A piecewise-smooth 1-D curve: a staircase (jumps of 0.25) on a shallow bowl, minimum 0 at x = 2.

    ``f(x) = floor(4 |x - 2|) / 4 + 0.05 (x - 2)^2``, started at x = -1 (f = 3.45). The steps dominate, so a
    local gradient points the right way but is tiny next to the jumps.
    """

    def fun(x):
        r = np.abs(x[:, 0] - 2.0)
        return np.floor(4.0 * r) / 4.0 + 0.05 * r**2

    return Problem("toy-1d", fun, np.array([-1.0]), 0.0)


def quantized_rosenbrock() -> Problem:
    """Rosenbrock's function evaluated on x rounded to a 0.25 grid; minimum 0 at (1, 1), start (-1.5, 2)."""

    def fun(x):
        q = np.round(x * 4.0) / 4.0
        return (1.0 - q[:, 0]) ** 2 + 100.0 * (q[:, 1] - q[:, 0] ** 2) ** 2

    return Problem("quantized-rosenbrock-2d", fun, np.array([-1.5, 2.0]), 0.0)


def step_sphere(dim: int, step: float = 0.25, seed: int = 1234) -> Problem:
    """``mean_i (step * round((x_i - c_i) / step))^2`` with centres ``c ~ U(-1, 1)^d``; start 0, minimum 0."""
    centre = np.random.default_rng(seed).uniform(-1.0, 1.0, dim)

    def fun(x):
        return np.mean((step * np.round((x - centre) / step)) ** 2, axis=1)

    return Problem(f"step-sphere-{dim}", fun, np.zeros(dim), 0.0)


def threshold_match(dim: int, seed: int = 1234) -> Problem:
    """Fraction of coordinates whose sign disagrees with hidden random bits; start -0.2 everywhere.

    A binary image matched through a hard threshold: the loss only changes when a coordinate crosses 0.
    """
    bits = np.random.default_rng(seed).random(dim) < 0.5

    def fun(x):
        return np.mean((x > 0.0) != bits, axis=1)

    return Problem(f"threshold-match-{dim}", fun, np.full(dim, -0.2), 0.0)


def sphere(dim: int, seed: int = 1234) -> Problem:
    """The smooth reference: ``mean_i (x_i - c_i)^2`` with centres ``c ~ U(-1, 1)^d``; start 0, minimum 0.

    Not a plateau problem: it shows whether an optimizer's step-size control converges where every gradient
    method would.
    """
    centre = np.random.default_rng(seed).uniform(-1.0, 1.0, dim)

    def fun(x):
        return np.mean((x - centre) ** 2, axis=1)

    return Problem(f"sphere-{dim}", fun, np.zeros(dim), 0.0)
