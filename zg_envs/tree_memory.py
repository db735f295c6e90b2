"""Memory bound of zg/TreeGrowth-v0: the most bytes a step or a render can need, from the env's arguments.

The env refuses arguments whose estimate exceeds ``zg_envs.utils.MEMORY_BOUND_BYTES``; the estimate follows
the rasteriser of :mod:`zg_envs.render.tree`, which unrolls every new primitive's bounding box at once.
"""

from __future__ import annotations

import numpy as np

from zg_envs import tree_grammar as tg

# Peak bytes per candidate pixel of the vectorised rasteriser (zg_envs.render.tree), measured: 105 for
# segments, 74 for leaves; both rounded up here.
_BYTES_PER_CANDIDATE = 112


def _segment_box(g: int, resolution: int) -> float:
    """Most candidate pixels of one generation-``g`` segment: its bounding box at the longest length
    (ratio 0.9 per generation), the thickest radius and the worst angle (45 degrees)."""
    length = tg.TRUNK_LENGTH * tg.LENGTH_RATIO_RANGE[1] ** g * resolution
    radius = max(tg.TRUNK_RADIUS * tg.TRUNK_TAPER * tg.THICKNESS_RATIO_RANGE[1] ** (g - 1) * resolution, 0.5)
    return min(length / np.sqrt(2.0) + 2.0 * radius + 1.0, resolution) ** 2


def _leaf_box(resolution: int) -> float:
    """Most candidate pixels of one leaf: the largest leaf's bounding box at the worst angle."""
    a = max(tg.MAX_LEAF * resolution, 0.5)
    b = max(tg.MAX_LEAF * tg.LEAF_ASPECT * resolution, 0.5)
    return min(2.0 * np.sqrt(0.5 * (a * a + b * b)) + 1.0, resolution) ** 2


def estimate_memory(resolution: int, generations: int, max_segments: int, render_resolution: int | None) -> float:
    """Upper bound (bytes) of the memory a TreeGrowth-v0 env with these arguments can need.

    The rasteriser unrolls every new primitive's bounding box into candidate pixels at once, so a step
    costs ``_BYTES_PER_CANDIDATE`` per candidate: at most ``min(4^g, max_segments - 1)`` new segments
    and as many leaves in generation ``g``, each at most the box of the largest such primitive. A render
    (``render_resolution`` not None) redraws the whole tree: the segments of every generation, filled
    greedily up to the cap, plus one largest leaf per segment. The tree's own arrays (segments, leaves,
    tips, with a copy when concatenated) and the images are added.
    """
    cap = max_segments - 1  # the trunk is there from the start
    step = 0.0
    redraw, left = 0.0, cap
    for g in range(1, generations + 1):
        n = min(4.0 ** g, cap)
        step = max(step, n * max(_segment_box(g, resolution), _leaf_box(resolution)))
        if render_resolution is not None:
            m = min(4.0 ** g, left)
            left -= m
            redraw += m * _segment_box(g, render_resolution)
    if render_resolution is not None:
        redraw = max(redraw, cap * _leaf_box(render_resolution))  # bark and leaves are drawn one after the other
    tree = 2.0 * max_segments * (6 + 5 + 5) * 8
    images = 4.0 * resolution**2 + (12.0 * render_resolution**2 if render_resolution is not None else 0.0)
    return _BYTES_PER_CANDIDATE * max(step, redraw) + tree + images
