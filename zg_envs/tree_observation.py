"""The observation of zg/TreeGrowth-v0: pooled silhouettes and the tree's statistics (layout in its docstring).

Written for speed without changing a bit: the same numpy reductions as ``ndarray.mean`` and ``ndarray.std``
(the same sums, in the same order), called directly, since their Python-level wrappers cost more than the
arithmetic on these small arrays.
"""

from __future__ import annotations

import numpy as np

from zg_envs import tree_grammar as tg

#: Number of tree statistics at the end of the observation (see TreeGrowthEnv's docstring).
N_STATS = 14


def pooled_mask(mask: np.ndarray, k: int, p: int) -> np.ndarray:
    """``mask.reshape(k, p, k, p).mean(axis=(1, 3), dtype=np.float32).ravel()``: the fraction covered per cell."""
    pooled = np.add.reduce(mask.reshape(k, p, k, p), axis=(1, 3), dtype=np.float32)
    # divided by the count as a numpy int, as ndarray.mean does
    return np.true_divide(pooled, np.intp(p * p), out=pooled, casting="unsafe").ravel()


def tree_statistics(tree: tg.Tree, generations: int, max_segments: int, scores) -> np.ndarray:
    """The ``N_STATS`` statistics (float64, clipped to [0, 1]); ``scores`` are entries 4 to 8 (IoU, ...)."""
    tips = tree.tips
    cap = float(max_segments)
    stats = np.zeros(N_STATS, dtype=np.float64)
    stats[0] = tree.generation / generations
    stats[1] = tree.n_segments / cap
    stats[2] = tips.shape[0] / cap
    stats[3] = tree.n_leaves / cap
    stats[4:9] = scores
    n = tips.shape[0]
    if n:
        x = tips[:, 0]
        stats[9] = np.add.reduce(x) / n  # x.mean()
        stats[10] = np.add.reduce(tips[:, 1]) / n
        deviation = np.subtract(x, np.add.reduce(x, keepdims=True) / n)
        stats[11] = np.sqrt(np.add.reduce(np.square(deviation)) / n)  # x.std()
        stats[12] = tips[0, 3] / tg.TRUNK_LENGTH
        stats[13] = tips[0, 4] / tg.TRUNK_RADIUS
    np.clip(stats, 0.0, 1.0, out=stats)
    return stats
