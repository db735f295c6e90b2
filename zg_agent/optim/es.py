"""OpenAI-style evolution strategies.

Salimans, Ho, Chen, Sidor & Sutskever, "Evolution Strategies as a Scalable Alternative to Reinforcement
Learning", arXiv:1703.03864 (2017): antithetic (mirrored) Gaussian perturbations, centred-rank fitness
shaping, the search-gradient estimate fed to Adam, and L2 weight decay; optionally (``step_control="auto"``,
see :mod:`zg_agent.optim.step_control`) a step size and ``sigma`` that adapt to what the batches show.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .adam import Adam
from .base import Optimizer, check_int, check_positive
from .sampling import gaussian_rows, single_threaded_blas
from .step_control import StepControl, check_saved_control, check_step_control


def centered_ranks(losses: np.ndarray) -> np.ndarray:
    """Map losses to ranks scaled into [-0.5, 0.5], the shaping of Salimans et al.

    Equal losses share their average rank: on a plateau, where a whole batch ties, every rank is 0 and the
    batch says nothing, instead of a direction made up from the order of the samples.
    """
    losses = np.asarray(losses)
    order = np.argsort(losses, kind="stable")
    ranks = np.empty(len(losses))
    ranks[order] = np.arange(len(losses))
    sorted_losses = losses[order]
    starts = np.flatnonzero(np.r_[True, sorted_losses[1:] != sorted_losses[:-1]])
    if len(starts) < len(losses):  # ties: each run of equal losses gets the mean of its ranks
        ends = np.r_[starts[1:], len(losses)]
        ranks[order] = np.repeat((starts + ends - 1) / 2.0, ends - starts)
    return ranks / max(len(losses) - 1, 1) - 0.5


class OpenES(Optimizer):
    """OpenAI-ES with antithetic sampling, centred ranks and Adam.

    Args:
        x0: starting point.
        sigma: standard deviation of the perturbations (in parameter units).
        lr: Adam step size.
        popsize: evaluations per iteration; must be even (antithetic pairs).
        weight_decay: L2 coefficient added to the gradient (0.005 in the paper).
        step_control: ``"none"`` (default): fixed ``sigma`` and ``lr``, the plain OpenAI-ES of the paper (the
            baseline as published). ``"auto"`` watches the smoothed loss (the mean of each batch's losses) in
            windows of ``control_window`` iterations: when it climbs beyond its noise, ``theta`` goes back to the
            best window's average and ``lr`` is multiplied by ``shrink``; after a stall, ``sigma`` and ``lr`` are
            multiplied by ``shrink`` (or, on a flat plateau, ``sigma`` is divided by it, up to 4x its start;
            right after a shrink, that shrink is undone). The rules are ZeroGrads'
            (:mod:`zg_agent.optim.step_control`). Measured (2 seeds, 100k evaluations):
            ``"auto"`` fixes ShadowArt (K = 16: 0.141 -> 0.032; K = 32: 0.696, worse than the start, -> 0.291,
            the start kept) and the 1,000-D step sphere (0.019 -> 0) but loses on 1,000-D threshold match
            (0.015 -> 0.041; 0.054 before the plateau undo, when ``lr`` ratcheted down while ``sigma`` shrank and
            widened in turn), so it is the shipped ShadowArt setting (``configs/es.yaml``), not the default.
        control_window: iterations per window of ``step_control``.
        patience: the least number of windows without improvement before ``step_control`` shrinks ``sigma`` and
            ``lr``; the wait is ``max(patience * control_window, ceil(d / popsize))`` iterations.
        shrink: factor of ``step_control``'s reductions, in (0, 1).
        seed, nonfinite: see :class:`~zg_agent.optim.base.Optimizer`.
    """

    name = "es"

    def __init__(self, x0, *, sigma: float = 0.1, lr: float = 0.02, popsize: int = 20,
                 weight_decay: float = 0.005, step_control: str = "none", control_window: int = 10,
                 patience: int = 3, shrink: float = 0.5, seed: int | None = None, nonfinite: str = "raise"):
        popsize = check_int("popsize", popsize, 2)
        if popsize % 2:
            raise ValueError(f"popsize must be even for antithetic pairs, got {popsize}")
        super().__init__(x0, popsize=popsize, seed=seed, nonfinite=nonfinite)
        self.sigma = check_positive("sigma", sigma)
        self.lr = check_positive("lr", lr)
        self.weight_decay = check_positive("weight_decay", weight_decay, allow_zero=True)
        self.step_control, self.control_window, self.patience, self.shrink = check_step_control(
            step_control, control_window, patience, shrink)
        self._theta = self._best.x.copy()
        self._adam = Adam(self.dim, self.lr)
        self._control = (StepControl(self._theta, self.sigma, dim=self.dim, popsize=self.popsize,
                                     control_window=self.control_window, patience=self.patience,
                                     shrink=self.shrink)
                         if self.step_control == "auto" else None)

    @property
    def mean(self) -> np.ndarray:
        return self._theta.copy()

    def _ask(self) -> np.ndarray:
        half = gaussian_rows(self.rng, self.popsize // 2, self.dim)  # one float32 draw per batch
        return self._theta + self.sigma * np.concatenate([half, -half]).astype(np.float64)

    def _tell(self, candidates, losses) -> dict[str, float]:
        with single_threaded_blas():
            noise = ((candidates - self._theta) / self.sigma).astype(np.float32)
            shaped = centered_ranks(losses).astype(np.float32)
            grad = (shaped @ noise).astype(np.float64) / (len(losses) * self.sigma)
            grad += self.weight_decay * self._theta
            drawn_around = self._theta
            self._theta = self._adam.step(self._theta, grad)
            metrics = {"grad_norm": float(np.linalg.norm(grad)), "sigma": self.sigma}
        if self._control is not None:
            change = self._control.update(losses, drawn_around, self._theta, self.sigma, self._adam.lr)
            if change is not None:
                self._theta, self.sigma, self._adam.lr = change.theta, change.sigma, change.lr
                if change.reverted:
                    self._adam.m[:] = 0.0
            metrics.update(lr=self._adam.lr, sigma=self.sigma, num_reverts=float(self._control.reverts))
        return metrics

    def _state_dict(self) -> dict[str, Any]:
        state = {"theta": self._theta.copy(), "adam": self._adam.state_dict()}
        if self._control is not None:
            state.update(control=self._control.state_dict(), lr_now=self._adam.lr, sigma=self.sigma)
        return state

    def _load_state_dict(self, state) -> None:
        check_saved_control(self._control is not None, state)
        self._theta = np.array(state["theta"], dtype=np.float64)
        self._adam.load_state_dict(state["adam"])
        if self._control is not None:
            self._control.load_state_dict(state["control"])
            self._adam.lr, self.sigma = float(state["lr_now"]), float(state["sigma"])
