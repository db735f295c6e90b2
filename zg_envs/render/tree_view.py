"""Readable RGB picture of the TreeGrowth environment (for ``render()`` and the docs), not used in ``step()``.

Two panels side by side: the coloured tree with the target's outline, and the overlap of the tree's
silhouette with the target at the env's working resolution (what the reward measures), with a title and
a legend in the same style as the shadow environments' pictures (:mod:`zg_envs.render.annotate`).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from zg_envs.render import annotate
from zg_envs.render.tree import COMPARE_COLOURS, TARGET_OUTLINE, comparison_picture, tree_picture

#: What each colour of the overlap panel means, in the order of ``COMPARE_COLOURS[1:]``, then the outline.
LEGEND = [
    (COMPARE_COLOURS[3], "tree on target"),
    (COMPARE_COLOURS[2], "extra (tree only)"),
    (COMPARE_COLOURS[1], "missed (target only)"),
    (TARGET_OUTLINE, "target outline"),
]


def growth_picture(segments, leaves, silhouette, target, title: str, size: int = 256) -> np.ndarray:
    """TreeGrowth picture: ``title`` above the tree (``size`` px square, target outline in blue) and the
    colour-coded overlap of ``silhouette`` and ``target`` (bool masks of the same shape), each captioned,
    with a colour legend under them. Returns an ``(H, W, 3)`` uint8 array."""
    pad, head = annotate.PAD, annotate.HEAD
    left = tree_picture(segments, leaves, size, target=target)
    right = comparison_picture(silhouette, target, size)
    width = 3 * pad + 2 * size
    legend_h = annotate.legend_height(LEGEND, width - 2 * pad)
    caption = 21  # caption line under the panels
    canvas = Image.new("RGB", (width, head + size + caption + legend_h + 4), annotate.BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    annotate.title(draw, title)
    annotate.panel(canvas, left, pad, head, "tree")
    res = np.shape(silhouette)[0]
    annotate.panel(canvas, right, 2 * pad + size, head, f"silhouette vs target ({res}x{res} px)")
    annotate.legend(draw, pad, head + size + caption, LEGEND, width=width - 2 * pad)
    return np.asarray(canvas)
