"""The ask/tell base class shared by every black-box optimizer (minimisation convention).

A subclass writes only ``_ask`` (propose candidates) and ``_tell`` (learn from their losses) plus its
state; the base class validates input, keeps the counters and the best-so-far, and saves/restores the
random generator so that a resumed run follows the same trajectory as an uninterrupted one.
"""

from __future__ import annotations

import abc
import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

# Option validators live with every other zg_agent validator; imported here for the optimizers.
from ..validation import check_choice, check_int, check_positive  # noqa: F401

NONFINITE_POLICIES = ("raise", "worst")


@dataclass(frozen=True)
class Best:
    """The best point seen so far and its loss (``f = inf`` before the first ``tell``)."""

    x: np.ndarray
    f: float


class Optimizer(abc.ABC):
    """Base class of ask/tell optimizers.

    Args:
        x0: starting point, a finite 1-D array (a scalar is treated as d = 1).
        popsize: candidates returned by each ``ask()``.
        seed: seed of the optimizer's own random generator; the same seed gives the same trajectory.
        nonfinite: what ``tell`` does with NaN/inf losses: ``"raise"`` (default) stops with a
            ``ValueError`` naming the candidates; ``"worst"`` replaces them by the worst finite loss of
            the batch (or 0 if none is finite), counts them in ``metrics["num_nonfinite"]`` and the
            ``num_nonfinite`` attribute, and never lets them become ``best``.
    """

    #: registry name, set by each subclass
    name: ClassVar[str] = ""

    def __init__(self, x0, *, popsize: int, seed: int | None = None, nonfinite: str = "raise"):
        x = np.array(x0, dtype=np.float64, copy=True)
        if x.ndim == 0:
            x = x.reshape(1)
        if x.ndim != 1 or x.size == 0:
            raise ValueError(f"x0 must be a non-empty 1-D array, got shape {np.shape(x0)}")
        if not np.all(np.isfinite(x)):
            bad = np.flatnonzero(~np.isfinite(x))
            raise ValueError(f"x0 must be finite; NaN or inf at indices {bad[:10].tolist()}")
        if isinstance(popsize, bool) or not isinstance(popsize, (int, np.integer)) or popsize < 1:
            raise ValueError(f"popsize must be an integer >= 1, got {popsize!r}")
        if nonfinite not in NONFINITE_POLICIES:
            raise ValueError(f"nonfinite must be one of {list(NONFINITE_POLICIES)}, got {nonfinite!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        self.dim = int(x.size)
        self.popsize = int(popsize)
        self.seed = None if seed is None else int(seed)
        self.nonfinite = nonfinite
        self.rng = np.random.default_rng(seed)
        self.num_evaluations = 0
        self.num_iterations = 0
        self.num_nonfinite = 0
        self._best = Best(x.copy(), float("inf"))
        self._pending: np.ndarray | None = None

    # ------------------------------------------------------------------ public API
    @property
    @abc.abstractmethod
    def mean(self) -> np.ndarray:
        """The current solution (the distribution's centre, or the point being descended)."""

    @property
    def best(self) -> Best:
        return Best(self._best.x.copy(), self._best.f)

    def ask(self) -> np.ndarray:
        """Return the next batch of candidates, an ``(n, d)`` float64 array."""
        if self._pending is not None:
            raise RuntimeError(
                f"{type(self).__name__}.ask() called again before tell(): pass the losses of the "
                f"{len(self._pending)} pending candidates to tell() first"
            )
        candidates = np.asarray(self._ask(), dtype=np.float64)
        assert candidates.ndim == 2 and candidates.shape[1] == self.dim, candidates.shape
        self._pending = candidates
        return candidates.copy()

    def tell(self, candidates, losses) -> dict[str, float]:
        """Report the losses of the candidates from the last ``ask()``; returns a dict of metrics.

        ``candidates`` may differ in value from what ``ask`` returned (for example after clipping to
        bounds), but must have the same shape.
        """
        if self._pending is None:
            raise RuntimeError(f"{type(self).__name__}.tell() called without a pending ask()")
        candidates = np.asarray(candidates, dtype=np.float64)
        if candidates.shape != self._pending.shape:
            raise ValueError(
                f"candidates must have the shape asked, {self._pending.shape} "
                f"({len(self._pending)} candidates of dimension {self.dim}), got {candidates.shape}"
            )
        if not np.all(np.isfinite(candidates)):
            raise ValueError("candidates contain NaN or inf")
        raw = np.asarray(losses)
        if raw.dtype.kind not in "iuf":  # asarray(..., float64) would quietly turn '1.5' into 1.5
            raise TypeError(
                f"losses must be real numbers (int or float), got an array of dtype {raw.dtype}: "
                f"{raw.ravel()[:5].tolist()}{' ...' if raw.size > 5 else ''}"
            )
        losses = raw.astype(np.float64).reshape(-1)
        if losses.shape != (len(candidates),):
            raise ValueError(
                f"losses must hold one value per candidate ({len(candidates)}), got shape {np.shape(losses)}"
            )
        finite = np.isfinite(losses)
        num_bad = int((~finite).sum())
        if num_bad:
            if self.nonfinite == "raise":
                raise ValueError(
                    f"losses contain NaN or inf for candidates {np.flatnonzero(~finite)[:10].tolist()} "
                    f"of iteration {self.num_iterations}; fix the objective or pass nonfinite='worst' to "
                    f"treat them as the worst loss of the batch"
                )
            losses = losses.copy()
            losses[~finite] = losses[finite].max() if finite.any() else 0.0
            self.num_nonfinite += num_bad
        self._pending = None
        self.num_evaluations += len(candidates)
        self.num_iterations += 1
        valid = np.flatnonzero(finite)
        if valid.size:
            i = valid[np.argmin(losses[valid])]
            if losses[i] < self._best.f:
                self._best = Best(candidates[i].copy(), float(losses[i]))
        metrics = dict(self._tell(candidates, losses))
        metrics.update(
            batch_loss_mean=float(losses.mean()),
            batch_loss_min=float(losses.min()),
            best_loss=self._best.f,
            num_evaluations=float(self.num_evaluations),
        )
        if self.nonfinite == "worst":
            metrics["num_nonfinite"] = float(num_bad)
        return metrics

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: counters, best, RNG state and the subclass's own state."""
        return {
            "class": type(self).__name__,
            "dim": self.dim,
            "num_evaluations": self.num_evaluations,
            "num_iterations": self.num_iterations,
            "num_nonfinite": self.num_nonfinite,
            "best_x": self._best.x.copy(),
            "best_f": self._best.f,
            "rng": copy.deepcopy(self.rng.bit_generator.state),
            "pending": None if self._pending is None else self._pending.copy(),
            "algo": self._state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("class") != type(self).__name__ or state.get("dim") != self.dim:
            raise ValueError(
                f"state is for {state.get('class')} with dim {state.get('dim')}, "
                f"not {type(self).__name__} with dim {self.dim}"
            )
        self.num_evaluations = int(state["num_evaluations"])
        self.num_iterations = int(state["num_iterations"])
        self.num_nonfinite = int(state.get("num_nonfinite", 0))
        self._best = Best(np.array(state["best_x"], dtype=np.float64), float(state["best_f"]))
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        self._pending = None if state["pending"] is None else np.array(state["pending"])
        self._load_state_dict(state["algo"])

    # ------------------------------------------------------------------ subclass hooks
    @abc.abstractmethod
    def _ask(self) -> np.ndarray: ...

    @abc.abstractmethod
    def _tell(self, candidates: np.ndarray, losses: np.ndarray) -> dict[str, float]: ...

    @abc.abstractmethod
    def _state_dict(self) -> dict[str, Any]: ...

    @abc.abstractmethod
    def _load_state_dict(self, state: dict[str, Any]) -> None: ...
