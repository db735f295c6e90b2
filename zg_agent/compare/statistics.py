"""Statistics over seeds: the mean with a percentile bootstrap interval, and bands of curves."""

from __future__ import annotations

import math

import numpy as np


# ---------------------------------------------------------------------------------------------- statistics
def bootstrap_ci(values, level: float = 0.95, n_boot: int = 10_000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``values`` and the percentile bootstrap interval of the mean, ``(mean, low, high)``.

    One value gives ``(v, v, v)``; no values gives NaNs."""
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return (math.nan, math.nan, math.nan)
    if x.size == 1:
        return (float(x[0]),) * 3
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return float(x.mean()), float(lo), float(hi)


def bootstrap_band(curves: np.ndarray, level: float = 0.95, n_boot: int = 2000, seed: int = 0):
    """Pointwise bootstrap interval of the mean over rows of ``curves`` (seeds x grid)."""
    n = curves.shape[0]
    if n < 2:
        return curves[0], curves[0]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    means = curves[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    return np.quantile(means, alpha, axis=0), np.quantile(means, 1.0 - alpha, axis=0)
