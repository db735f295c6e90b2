"""Step control (``step_control="auto"``) for any optimizer with a mean ``theta``, a ``sigma`` and a step size.

The control watches the smoothed loss (the mean of each batch's losses) in windows of ``control_window``
iterations. When it climbs beyond its noise (a least-squares slope above 2.5 standard errors over the last 3
windows), ``theta`` goes back to the best window's average ``theta`` and the step size is multiplied by
``shrink``: the steps were too long for the gradient's noise, which in high dimension makes every coordinate
random-walk. When no window has been better for as long as it takes to see every coordinate once
(``d / popsize`` iterations, at least ``patience`` windows), ``sigma`` and the step size are multiplied by
``shrink`` (a finer look near a minimum of the smoothed loss; ``sigma`` not below ``sigma_min`` nor 1e-4 of its
start), unless every batch since the best window was flat (all its losses equal: a plateau), where ``sigma`` is
divided by ``shrink`` instead, up to 4x its starting value. A plateau reached right after a stall's shrink (no
revert between) undoes that shrink instead: ``sigma`` and the step size both go back, and that ``sigma`` becomes
the least a later shrink goes to (until a revert). Without that, shrinking into a plateau and widening out of it
again halved the step size on every round (seen on threshold match at d = 1,000, where it fell to 1e-10).

An optimizer holds one :class:`StepControl` and, after its own update of each batch, calls
:meth:`StepControl.update` with the batch's losses, the ``theta`` the batch was drawn around, and its current
``theta``, ``sigma`` and step size; it applies the :class:`Adjustment` it gets back (or nothing on ``None``).
:func:`check_step_control` validates the options and :func:`check_saved_control` refuses a state saved with
the other mode, with the same messages for every optimizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import check_choice, check_int, check_positive

__all__ = ["STEP_CONTROLS", "Adjustment", "StepControl", "check_saved_control", "check_step_control"]

STEP_CONTROLS = ("auto", "none")


def check_step_control(step_control: str, control_window: int, patience: int, shrink: float) -> tuple:
    """The validated ``(step_control, control_window, patience, shrink)``; a bad one is a ``ValueError``."""
    step_control = check_choice("step_control", step_control, STEP_CONTROLS)
    control_window = check_int("control_window", control_window, 1)
    patience = check_int("patience", patience, 1)
    checked = check_positive("shrink", shrink)
    if checked >= 1:
        raise ValueError(f"shrink must be in (0, 1), got {shrink!r}")
    return step_control, control_window, patience, checked


def check_saved_control(auto: bool, state: dict[str, Any]) -> None:
    """Refuse a state saved with the other ``step_control`` (``auto``: this optimizer's mode is ``"auto"``)."""
    if not auto and "control" in state:
        raise ValueError("state was saved with step_control='auto'; load it with step_control='auto' "
                         "(this optimizer has step_control='none')")
    if auto and "control" not in state:
        raise ValueError("state was saved with step_control='none' (as is every state saved before step "
                         "control existed); load it with step_control='none'")


@dataclass(frozen=True)
class Adjustment:
    """What :meth:`StepControl.update` changes: the new ``theta``, ``sigma`` and step size, and whether
    ``theta`` went back to the best window (then the step's momentum should be cleared)."""

    theta: np.ndarray
    sigma: float
    lr: float
    reverted: bool


class StepControl:
    """The state and decisions of ``step_control="auto"`` (see the module docstring).

    Args:
        theta: the starting ``theta`` (the first best window's).
        sigma: the starting ``sigma`` (the widening stops at 4x it, the shrinking at 1e-4 of it).
        dim, popsize: the problem's dimension and evaluations per iteration (a stall lasts ``dim / popsize``
            iterations at least).
        control_window, patience, shrink: see the module docstring.
        sigma_min: the least ``sigma`` a shrink goes to (at least 1e-4 of the start).

    The bookkeeping: the batch means since the last change of the step or of ``sigma`` (smoothed losses at
    different ``sigma`` are not comparable), and the best window.
    """

    def __init__(self, theta: np.ndarray, sigma: float, *, dim: int, popsize: int, control_window: int,
                 patience: int, shrink: float, sigma_min: float = 0.0):
        self.dim, self.popsize = int(dim), int(popsize)
        self.control_window, self.patience, self.shrink = control_window, patience, shrink
        self.sigma_min = sigma_min
        self.sigma0 = float(sigma)
        #: ``(sigma, step size)`` before the last stall's shrink, until a revert or another change
        self.shrunk_from: tuple[float, float] | None = None
        #: a ``sigma`` whose shrink led onto a plateau: shrinks stop there
        self.flat_floor = 0.0
        self.keep = 3 * control_window  # batch means kept: as many as the rise test reads
        self.reverts = 0
        self.best_theta = theta.copy()
        self.theta_sum = np.zeros_like(theta)
        self.restart()

    def restart(self) -> None:
        self.means: list[float] = []
        self.open_count = 0
        self.theta_sum[:] = 0.0
        self.open_flat = self.flat_since_best = True
        self.best_mean, self.since_best = float("inf"), 0

    def sigma_floor(self, sigma_min: float) -> float:
        """The least ``sigma`` a shrink goes to: ``sigma_min``, and never below 1e-4 of the starting ``sigma``
        (samples are stored in float32, whose spacing would otherwise swallow the perturbations)."""
        return max(sigma_min, 1e-4 * self.sigma0, self.flat_floor)

    def add(self, batch_mean: float, flat: bool, theta: np.ndarray) -> None:
        self.means.append(batch_mean)
        if len(self.means) > self.keep:
            del self.means[0]
        self.open_count += 1
        self.open_flat = self.open_flat and flat
        self.theta_sum += theta

    def close_window(self) -> tuple[float, np.ndarray, bool]:
        """``(mean, average theta, flat)`` of the open window, which starts afresh."""
        out = float(np.mean(self.means[-self.open_count:])), self.theta_sum / self.open_count, self.open_flat
        self.flat_since_best = (self.flat_since_best and self.open_flat) if self.since_best else self.open_flat
        self.open_count, self.open_flat = 0, True
        self.theta_sum[:] = 0.0
        return out

    def rising(self, span: int) -> bool:
        """Whether the last ``span`` batch means rise: least-squares slope above 2.5 standard errors."""
        if len(self.means) < span:
            return False
        y = np.asarray(self.means[-span:])
        t = np.arange(span) - (span - 1) / 2.0
        slope = float(t @ y / (t @ t))
        residual = y - y.mean() - slope * t
        se = float(np.sqrt(residual @ residual / (span - 2) / (t @ t)))
        return slope > 2.5 * se and slope > 0

    def update(self, losses: np.ndarray, drawn_around: np.ndarray, theta: np.ndarray, sigma: float,
               lr: float) -> Adjustment | None:
        """One iteration: the batch's ``losses``, drawn around ``drawn_around``; ``theta``, ``sigma`` and ``lr``
        are the optimizer's after its update. Returns what to change, or ``None`` to change nothing."""
        self.add(float(losses.mean()), bool(losses.max() == losses.min()), drawn_around)
        if self.open_count < self.control_window:
            return None
        window_mean, theta_avg, _ = self.close_window()
        if window_mean < self.best_mean:
            self.best_mean, self.best_theta, self.since_best = window_mean, theta_avg, 0
        else:
            self.since_best += self.control_window
        if self.rising(3 * self.control_window):
            # the smoothed loss climbs beyond its noise: go back to the best window, with shorter steps
            adjustment = Adjustment(self.best_theta.copy(), sigma, lr * self.shrink, True)
            self.reverts += 1
            self.shrunk_from, self.flat_floor = None, 0.0  # the search moved back: the plateau may be gone
            self.restart()
            return adjustment
        if self.since_best >= max(self.patience * self.control_window, -(-self.dim // self.popsize)):
            # No better window for as long as it takes to see every coordinate once (d / popsize iterations)
            # or `patience` windows: at this resolution the search is done.
            if self.flat_since_best and self.shrunk_from is not None:  # the shrink led onto a plateau: undo it
                sigma, lr = self.shrunk_from
                self.flat_floor, self.shrunk_from = sigma, None
            elif self.flat_since_best:  # one loss value seen all along: look wider
                sigma = min(sigma / self.shrink, 4.0 * self.sigma0)
                self.shrunk_from = None
            elif sigma > self.sigma_floor(self.sigma_min):  # look closer, with shorter steps
                self.shrunk_from = (sigma, lr)
                sigma = max(sigma * self.shrink, self.sigma_floor(self.sigma_min))
                lr *= self.shrink
            else:  # at the floor: nothing to change, and the last shrink is no longer "right before"
                self.shrunk_from = None
            self.best_theta = theta.copy()
            self.restart()
            return Adjustment(theta, sigma, lr, False)
        return None

    def state_dict(self) -> dict[str, Any]:
        return {"sigma0": self.sigma0, "reverts": self.reverts, "best_theta": self.best_theta.copy(),
                "theta_sum": self.theta_sum.copy(), "means": list(self.means), "open_count": self.open_count,
                "open_flat": self.open_flat, "flat_since_best": self.flat_since_best, "best_mean": self.best_mean,
                "since_best": self.since_best, "shrunk_from": self.shrunk_from, "flat_floor": self.flat_floor}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sigma0, self.reverts = float(state["sigma0"]), int(state["reverts"])
        self.best_theta = np.array(state["best_theta"], dtype=np.float64)
        self.theta_sum = np.array(state["theta_sum"], dtype=np.float64)
        self.means = [float(v) for v in state["means"]]
        self.open_count = int(state["open_count"])
        self.open_flat, self.flat_since_best = bool(state["open_flat"]), bool(state["flat_since_best"])
        self.best_mean, self.since_best = float(state["best_mean"]), int(state["since_best"])
        shrunk_from = state.get("shrunk_from")  # absent from states saved before the plateau undo existed
        self.shrunk_from = None if shrunk_from is None else (float(shrunk_from[0]), float(shrunk_from[1]))
        self.flat_floor = float(state.get("flat_floor", 0.0))
