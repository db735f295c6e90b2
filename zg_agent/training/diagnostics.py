"""Pictures for TensorBoard: the frames of an evaluation episode, and ZeroGrads' surrogate slice plot.

The slice plot asks the optimizer through a small protocol (:class:`SurrogateOptimizer`: an optimizer that
holds a model of the loss it can :meth:`~SurrogateOptimizer.predict`), so any optimizer with a surrogate gets
the plot and the others are skipped.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class SurrogateOptimizer(Protocol):
    """An ask/tell optimizer with a surrogate of the loss (ZeroGrads)."""

    mean: np.ndarray
    sigma: float
    """width of the sampling distribution, in parameter units (the slice spans +-3 sigma)"""

    def predict(self, x) -> np.ndarray:
        """Surrogate values at points ``x`` (n, d), in loss units (up to a shift)."""


def numeric(value) -> float | None:
    """A logger-friendly float for a number or a one-element array; ``None`` for anything else."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1:
        return float(value.reshape(()))
    return None


def log_frames(logger, frames) -> None:
    """``eval/render`` (the last frame) and ``eval/frames`` (a strip of up to 8 frames) of one episode."""
    if not frames:
        return
    frames = [np.asarray(f) for f in frames if f is not None]
    if not frames or frames[-1].ndim != 3:
        return
    logger.record_image("eval/render", frames[-1].astype(np.uint8)[:, :, :3])
    if len(frames) > 2:
        from ..images import frame_strip

        # up to 8 frames in rows of at most 4 (fewer when the frames are wide), each at its own size; only a
        # frame wider than ~2048 pixels by itself is downscaled
        width = max(f.shape[1] for f in frames)
        strip = frame_strip(frames, max_frames=8, per_row=max(1, min(4, 2048 // max(width, 1))))
        stride = -(-strip.shape[1] // 2048)
        logger.record_image("eval/frames", strip[::stride, ::stride] if stride > 1 else strip)


def log_surrogate_slice(logger, opt: SurrogateOptimizer, objective, mean_before: np.ndarray, seeds: list[int],
                        metrics: dict, *, seed: int, iteration: int, env_steps: int, points: int) -> int:
    """Plot the surrogate vs the true loss along the last update direction through the current theta as
    ``zerograds/surrogate_slice``; returns the env steps its episodes used (counted as evaluation)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    centre = opt.mean
    direction = centre - mean_before
    norm = float(np.linalg.norm(direction))
    if norm < 1e-12:
        direction = np.random.default_rng([seed, iteration]).standard_normal(centre.size)
        norm = float(np.linalg.norm(direction))
    direction /= norm
    sigma = numeric(metrics.get("sigma"))
    sigma = sigma if sigma and sigma > 0 else float(opt.sigma or 0.1)
    radius = 3.0 * sigma
    ts = np.linspace(-radius, radius, points)
    res = objective.evaluate(centre[None, :] + ts[:, None] * direction[None, :], seeds)
    dense = np.linspace(-radius, radius, 101)
    pred = np.asarray(opt.predict(centre[None, :] + dense[:, None] * direction[None, :]), dtype=float).ravel()
    fig = Figure(figsize=(5, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    # The surrogate is fitted to rank-transformed or standardised losses of a sliding window, so its
    # level is arbitrary; its slope and shape are what it claims. Shift it to meet the true loss at t = 0.
    pred = pred - np.interp(0.0, dense, pred) + np.interp(0.0, ts, res.losses)
    ax.plot(dense, pred, label="surrogate (shifted to the true loss at t = 0)", color="tab:blue")
    ax.plot(ts, res.losses, "o", label="true loss", color="tab:red")
    ax.axvline(0.0, color="gray", lw=0.8, ls="--")
    ax.set_xlabel("t along the last update direction (theta = mean + t d)")
    ax.set_ylabel("loss (-return)")
    ax.set_title(f"iteration {iteration}, {env_steps} env steps")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    logger.record_figure("zerograds/surrogate_slice", fig, close=False)
    return int(res.env_steps)
