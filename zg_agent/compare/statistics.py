"""Statistics over seeds: the interquartile mean (IQM) with stratified-bootstrap intervals, through rliable
(Agarwal et al., "Deep Reinforcement Learning at the Edge of the Statistical Precipice", NeurIPS 2021), for
one task, across tasks and along curves; and the older mean with a percentile bootstrap interval.

With a handful of seeds a bootstrap interval is wide and its ends are close to the extreme seeds; the IQM
(the mean of the middle half of the runs, ``scipy.stats.trim_mean(x, 0.25)``) is less swayed by one outlier
than the mean and less coarse than the median. Every interval here is seeded, so a report is reproducible.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

#: bootstrap replications of the IQM intervals (rliable's default is 50,000; 2,000 keeps reports quick and
#: moves the interval ends by well under the spread between seeds)
REPS = 2000


def _rliable():
    # imported on use: rliable pulls in arch, pandas and seaborn, which the trainer never needs
    from rliable import library, metrics

    return library, metrics


def _estimates(library, scores, func, reps, level, seed):
    # rliable 1.2's StratifiedBootstrap draws its resamples from numpy's global generator whatever random_state
    # says, so that generator is seeded here and given back its state afterwards (callers' streams unchanged)
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        with warnings.catch_warnings():  # arch's notice that RandomState seeding will change
            warnings.simplefilter("ignore", FutureWarning)
            return library.get_interval_estimates(scores, func, reps=reps, confidence_interval_size=level,
                                                  random_state=np.random.RandomState(seed))
    finally:
        np.random.set_state(saved)


def iqm_ci(values, level: float = 0.95, reps: int = REPS, seed: int = 0) -> tuple[float, float, float]:
    """``(IQM, low, high)`` of one task's per-seed ``values`` (non-finite ones dropped), the interval a
    stratified (here: plain, one task) percentile bootstrap over runs. One value gives ``(v, v, v)``; none gives
    NaNs."""
    return iqm_cis([values], level, reps, seed)[0]


def iqm_cis(columns, level: float = 0.95, reps: int = REPS, seed: int = 0) -> list[tuple[float, float, float]]:
    """:func:`iqm_ci` of several per-seed columns at once (one bootstrap for the columns whose finite runs
    coincide, so a table row costs one resampling, not one per column)."""
    cols = [np.asarray(c, dtype=np.float64).ravel() for c in columns]
    out: list = [None] * len(cols)
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(cols):
        ok = np.isfinite(c)
        if ok.sum() == 0:
            out[i] = (math.nan, math.nan, math.nan)
        elif ok.sum() == 1:
            out[i] = (float(c[ok][0]),) * 3
        else:
            groups.setdefault((c.size, *ok.tolist()), []).append(i)
    for key, idx in groups.items():
        ok = np.array(key[1:], dtype=bool)
        data = np.stack([cols[i][ok] for i in idx], axis=1)  # (runs, columns)
        mid, lo, hi = iqm_band(data, level, reps, seed)
        for j, i in enumerate(idx):
            out[i] = (float(mid[j]), float(lo[j]), float(hi[j]))
    return out


def iqm_across(scores: dict, level: float = 0.95, reps: int = REPS, seed: int = 0):
    """IQM over runs x tasks per method with stratified-bootstrap intervals (runs resampled within each task).

    ``scores``: ``{method: array (runs, tasks)}``, e.g. normalised scores of several envs. Returns
    ``({method: iqm}, {method: (low, high)})``."""
    library, metrics = _rliable()
    arrays = {k: np.asarray(v, dtype=np.float64).reshape(np.shape(v)[0], -1) for k, v in scores.items()}
    point, ci = _estimates(library, arrays, lambda s: np.array([metrics.aggregate_iqm(s)]), reps, level, seed)
    return ({k: float(v[0]) for k, v in point.items()}, {k: (float(v[0, 0]), float(v[1, 0])) for k, v in ci.items()})


def _iqm_columns(x: np.ndarray) -> np.ndarray:
    """``scipy.stats.trim_mean(x, 0.25, axis=0)`` (rliable's ``aggregate_iqm`` of each column), without scipy's
    per-call overhead, which dominated a bootstrap of a few thousand resamples."""
    n = x.shape[0]
    cut = int(0.25 * n)
    return np.sort(x, axis=0)[cut:n - cut].mean(axis=0)


def iqm_band(curves: np.ndarray, level: float = 0.95, reps: int = REPS, seed: int = 0):
    """IQM over the rows of ``curves`` (seeds x grid) at each grid point, and its stratified-bootstrap band
    ``(iqm, low, high)``; a single row is its own band."""
    curves = np.asarray(curves, dtype=np.float64)
    if curves.shape[0] < 2:
        return curves[0], curves[0], curves[0]
    library, metrics = _rliable()

    def per_point(s):  # s: (runs, 1, points); metrics.aggregate_iqm at every point at once
        return _iqm_columns(s[:, 0, :])

    point, ci = _estimates(library, {"_": curves[:, None, :]}, per_point, reps, level, seed)
    return point["_"], ci["_"][0], ci["_"][1]


# ---------------------------------------------------------------------------------------------- the mean
def bootstrap_ci(values, level: float = 0.95, n_boot: int = 10_000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``values`` and the percentile bootstrap interval of the mean, ``(mean, low, high)``.

    One value gives ``(v, v, v)``; no values gives NaNs. Reports use :func:`iqm_ci` instead."""
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
