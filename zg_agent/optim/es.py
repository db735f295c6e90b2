"""OpenAI-style evolution strategies.

Salimans, Ho, Chen, Sidor & Sutskever, "Evolution Strategies as a Scalable Alternative to Reinforcement
Learning", arXiv:1703.03864 (2017): antithetic (mirrored) Gaussian perturbations, centred-rank fitness
shaping, the search-gradient estimate fed to Adam, and L2 weight decay.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .adam import Adam
from .base import Optimizer, check_int, check_positive


def centered_ranks(losses: np.ndarray) -> np.ndarray:
    """Map losses to ranks scaled into [-0.5, 0.5] (ties broken by order), the shaping of Salimans et al."""
    ranks = np.empty(len(losses))
    ranks[np.argsort(losses, kind="stable")] = np.arange(len(losses))
    return ranks / max(len(losses) - 1, 1) - 0.5


class OpenES(Optimizer):
    """OpenAI-ES with antithetic sampling, centred ranks and Adam.

    Args:
        x0: starting point.
        sigma: standard deviation of the perturbations (in parameter units).
        lr: Adam step size.
        popsize: evaluations per iteration; must be even (antithetic pairs).
        weight_decay: L2 coefficient added to the gradient (0.005 in the paper).
        seed, nonfinite: see :class:`~zg_agent.optim.base.Optimizer`.
    """

    name = "es"

    def __init__(self, x0, *, sigma: float = 0.1, lr: float = 0.02, popsize: int = 20,
                 weight_decay: float = 0.005, seed: int | None = None, nonfinite: str = "raise"):
        popsize = check_int("popsize", popsize, 2)
        if popsize % 2:
            raise ValueError(f"popsize must be even for antithetic pairs, got {popsize}")
        super().__init__(x0, popsize=popsize, seed=seed, nonfinite=nonfinite)
        self.sigma = check_positive("sigma", sigma)
        self.lr = check_positive("lr", lr)
        self.weight_decay = check_positive("weight_decay", weight_decay, allow_zero=True)
        self._theta = self._best.x.copy()
        self._adam = Adam(self.dim, self.lr)

    @property
    def mean(self) -> np.ndarray:
        return self._theta.copy()

    def _ask(self) -> np.ndarray:
        half = self.rng.standard_normal((self.popsize // 2, self.dim))
        noise = np.concatenate([half, -half])
        return self._theta + self.sigma * noise

    def _tell(self, candidates, losses) -> dict[str, float]:
        noise = (candidates - self._theta) / self.sigma
        shaped = centered_ranks(losses)
        grad = noise.T @ shaped / (len(losses) * self.sigma)
        grad += self.weight_decay * self._theta
        self._theta = self._adam.step(self._theta, grad)
        return {"grad_norm": float(np.linalg.norm(grad)), "sigma": self.sigma}

    def _state_dict(self) -> dict[str, Any]:
        return {"theta": self._theta.copy(), "adam": self._adam.state_dict()}

    def _load_state_dict(self, state) -> None:
        self._theta = np.array(state["theta"], dtype=np.float64)
        self._adam.load_state_dict(state["adam"])
