"""Local random search: Gaussian samples around the best point seen so far, a (1 + lambda) strategy.

The simplest sensible baseline: it uses no gradient information at all, so any method that learns a
direction should beat it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Optimizer, check_positive


class RandomSearch(Optimizer):
    """(1 + lambda) random search around the incumbent.

    Args:
        x0: starting point.
        sigma: standard deviation of the Gaussian perturbations.
        popsize: samples per iteration.
        seed, nonfinite: see :class:`~zg_agent.optim.base.Optimizer`.
    """

    name = "random"

    def __init__(self, x0, *, sigma: float = 0.1, popsize: int = 20, seed: int | None = None,
                 nonfinite: str = "raise"):
        super().__init__(x0, popsize=popsize, seed=seed, nonfinite=nonfinite)
        self.sigma = check_positive("sigma", sigma)
        self._center = self._best.x.copy()

    @property
    def mean(self) -> np.ndarray:
        return self._center.copy()

    def _ask(self) -> np.ndarray:
        noise = self.rng.standard_normal((self.popsize, self.dim))
        if self.num_iterations == 0:
            noise[0] = 0.0  # evaluate the start itself, so the search never recentres on a worse point
        return self._center + self.sigma * noise

    def _tell(self, candidates, losses) -> dict[str, float]:
        # The base class has already updated best; the search recentres on it.
        self._center = self._best.x.copy()
        return {"sigma": self.sigma}

    def _state_dict(self) -> dict[str, Any]:
        return {"center": self._center.copy()}

    def _load_state_dict(self, state) -> None:
        self._center = np.array(state["center"], dtype=np.float64)
