"""A deterministic 2-D branching grammar grown one generation at a time.

This module only builds geometry (no pixels, no Gymnasium); :mod:`zg_envs.render.tree` draws it.

Geometry lives on the unit canvas ``[0, 1] x [0, 1]`` with ``y`` pointing up. A direction is an angle
``theta`` measured from straight up, positive leaning right: the unit vector is ``(sin theta, cos theta)``.

The tree starts as one trunk segment. Each call of :meth:`Tree.grow` adds one generation: every live tip
sprouts ``children`` new segments under one :class:`GrowthRule`, and the ends of the new segments become
the next live tips (and carry a leaf when the rule's leaf size is above zero). The rule comes from a
6-vector in ``[-1, 1]`` (see :func:`rule_from_action`); the number of children is an integer chosen by
rounding, so the geometry is piecewise constant in that coordinate on purpose.

There is no randomness anywhere: the same actions always give the same tree.

Segment cap: the total number of segments (trunk included) never exceeds ``max_segments``. When growing
every tip of a generation would pass the cap, only ``k = max_segments - count`` of the ``m`` new children
are kept, spread evenly over the generation (indices ``round(linspace(0, m - 1, k))`` in the order tips and
children are generated, i.e. left to right within each fan), and only those become live tips and carry
leaves; the others are dropped for good. Once the cap is reached, later generations add nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Number of entries in one generation's action vector.
ACTION_DIM = 6
#: Names of the action entries, in order.
ACTION_NAMES = ("children", "spread", "length_ratio", "thickness_ratio", "bend", "leaf_size")

# Ranges the action entries map onto (linearly from [-1, 1], except where noted).
MIN_CHILDREN, MAX_CHILDREN = 1, 4
SPREAD_RANGE = (0.2, 2.4)  # radians between the outermost children of one fan
LENGTH_RATIO_RANGE = (0.5, 0.9)  # child length / parent length
THICKNESS_RATIO_RANGE = (0.5, 0.9)  # radius at a segment's end / radius at its start
MAX_BEND = 0.5  # tropism strength: theta <- theta - bend * MAX_BEND * sin(theta)
MAX_LEAF = 0.05  # leaf half-length in canvas units (leaf half-width is half of that)
LEAF_ASPECT = 0.5  # half-width / half-length of a leaf ellipse
LEAF_OFF = -0.5  # leaf-size action at or below this value means no leaves

# The trunk (generation 0): a slightly tapered vertical segment standing at the bottom centre.
TRUNK_BASE = (0.5, 0.03)
TRUNK_LENGTH = 0.22
TRUNK_RADIUS = 0.022
TRUNK_TAPER = 0.8

# Column layout of the arrays the tree hands to the renderer.
#: segments: one row per tapered segment ``(x0, y0, x1, y1, r0, r1)``.
SEGMENT_COLUMNS = ("x0", "y0", "x1", "y1", "r0", "r1")
#: leaves: one row per elliptical leaf ``(cx, cy, half_length, half_width, theta)``.
LEAF_COLUMNS = ("cx", "cy", "half_length", "half_width", "theta")


def _lerp(a: float, lo: float, hi: float) -> float:
    return lo + (hi - lo) * (a + 1.0) * 0.5


@dataclass(frozen=True)
class GrowthRule:
    """The rule one generation grows by (the decoded form of one action)."""

    children: int
    spread: float
    length_ratio: float
    thickness_ratio: float
    bend: float
    leaf_size: float


def rule_from_action(action) -> GrowthRule:
    """Decode a 6-vector in ``[-1, 1]`` into a :class:`GrowthRule`.

    ===  ===============  ==========================================================================
    idx  name             mapping of ``a`` in [-1, 1]
    ===  ===============  ==========================================================================
    0    children         ``rint(2.5 + 1.5 a)`` (round half to even): 1, 2, 3 or 4 children per tip
    1    spread           ``0.2 .. 2.4`` rad between the outermost children (unused for 1 child)
    2    length_ratio     ``0.5 .. 0.9`` child length / parent length
    3    thickness_ratio  ``0.5 .. 0.9`` radius shrink along each new segment
    4    bend             ``-1 .. 1`` tropism: > 0 bends towards up, < 0 droops towards down
    5    leaf_size        ``MAX_LEAF * max(0, (a + 0.5) / 1.5)``: no leaves for ``a <= -0.5``
    ===  ===============  ==========================================================================

    Values outside ``[-1, 1]`` are clipped; the caller is expected to have rejected NaN/inf.
    """
    # np.minimum / np.maximum: the values of np.clip without its Python-level wrapper (a hot path)
    a = np.minimum(np.maximum(np.asarray(action, dtype=np.float64).reshape(ACTION_DIM), -1.0), 1.0)
    children = int(min(max(np.rint(2.5 + 1.5 * a[0]), MIN_CHILDREN), MAX_CHILDREN))
    leaf = MAX_LEAF * max(0.0, (float(a[5]) - LEAF_OFF) / (1.0 - LEAF_OFF))
    return GrowthRule(
        children=children,
        spread=_lerp(float(a[1]), *SPREAD_RANGE),
        length_ratio=_lerp(float(a[2]), *LENGTH_RATIO_RANGE),
        thickness_ratio=_lerp(float(a[3]), *THICKNESS_RATIO_RANGE),
        bend=float(a[4]),
        leaf_size=leaf,
    )


def _evenly_kept(m: int, k: int) -> np.ndarray:
    """Indices of ``k`` of ``m`` items spread evenly, first and last included (the cap rule)."""
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    if k == 1:
        return np.array([m // 2], dtype=np.intp)
    return np.unique(np.rint(np.linspace(0.0, m - 1, k)).astype(np.intp))


def _fan_offsets(n: int) -> np.ndarray:
    """``linspace(-0.5, 0.5, n)``, computed once per child count (read-only; shared between calls)."""
    offsets = _FAN_OFFSETS.get(n)
    if offsets is None:
        offsets = np.linspace(-0.5, 0.5, n)
        offsets.flags.writeable = False
        _FAN_OFFSETS[n] = offsets
    return offsets


_FAN_OFFSETS: dict[int, np.ndarray] = {}


def _columns(*columns: np.ndarray) -> np.ndarray:
    """``np.stack(columns, axis=1)`` for 1-D float columns of one length, without its Python overhead."""
    out = np.empty((columns[0].shape[0], len(columns)))
    for j, column in enumerate(columns):
        out[:, j] = column
    return out


def grow_generation(tips: np.ndarray, rule: GrowthRule, budget: int):
    """Grow one generation from ``tips`` under ``rule``, adding at most ``budget`` segments.

    ``tips`` has one row per live tip ``(x, y, theta, length, radius)``: the tip's position, the direction
    and length of the segment that ends there, and its radius at the tip. Returns
    ``(segments, leaves, new_tips)`` with the layouts of :data:`SEGMENT_COLUMNS`, :data:`LEAF_COLUMNS` and
    the same tip layout. Pure function: nothing is modified in place.
    """
    n_tips = tips.shape[0]
    n = rule.children
    if n_tips == 0 or budget <= 0:
        return np.zeros((0, 6)), np.zeros((0, 5)), np.zeros((0, 5))
    offsets = _fan_offsets(n) * rule.spread if n > 1 else np.zeros(1)
    theta = (tips[:, 2:3] + offsets[None, :]).ravel()
    # tropism: pull every direction towards up (bend > 0) or push it towards down (bend < 0)
    theta = theta - rule.bend * MAX_BEND * np.sin(theta)
    x0 = tips[:, 0].repeat(n)
    y0 = tips[:, 1].repeat(n)
    length = tips[:, 3].repeat(n) * rule.length_ratio
    r0 = tips[:, 4].repeat(n)
    m = theta.shape[0]
    if m > budget:
        keep = _evenly_kept(m, budget)
        theta, x0, y0, length, r0 = theta[keep], x0[keep], y0[keep], length[keep], r0[keep]
    sin, cos = np.sin(theta), np.cos(theta)
    x1 = x0 + length * sin
    y1 = y0 + length * cos
    r1 = r0 * rule.thickness_ratio
    segments = _columns(x0, y0, x1, y1, r0, r1)
    new_tips = _columns(x1, y1, theta, length, r1)
    if rule.leaf_size > 0.0:
        half = np.empty_like(x1)
        half.fill(rule.leaf_size)
        # each leaf hangs on its tip, its base at the tip point, pointing along the branch
        leaves = _columns(x1 + half * sin, y1 + half * cos, half, half * LEAF_ASPECT, theta)
    else:
        leaves = np.zeros((0, 5))
    return segments, leaves, new_tips


def trunk() -> tuple[np.ndarray, np.ndarray]:
    """The generation-0 trunk: ``(segments (1, 6), tips (1, 5))``."""
    bx, by = TRUNK_BASE
    top = by + TRUNK_LENGTH
    r1 = TRUNK_RADIUS * TRUNK_TAPER
    segments = np.array([[bx, by, bx, top, TRUNK_RADIUS, r1]])
    tips = np.array([[bx, top, 0.0, TRUNK_LENGTH, r1]])
    return segments, tips


class Tree:
    """A growing tree: the trunk plus every generation grown so far, under a segment cap.

    Keeps every generation's arrays in lists (so a step costs only that generation's work);
    :attr:`segments` and :attr:`leaves` concatenate them on demand for a full redraw.
    """

    def __init__(self, max_segments: int = 512):
        if max_segments < 1:
            raise ValueError(f"max_segments must be an integer >= 1, got {max_segments!r}")
        self.max_segments = int(max_segments)
        seg, tips = trunk()
        self._segments = [seg]
        self._leaves: list[np.ndarray] = []
        self.tips = tips
        self.n_segments = 1
        self.n_leaves = 0
        self.generation = 0
        self.rules: list[GrowthRule] = []

    def grow(self, action) -> tuple[np.ndarray, np.ndarray]:
        """Grow one generation from ``action``; returns that generation's ``(segments, leaves)``."""
        rule = rule_from_action(action)
        budget = self.max_segments - self.n_segments
        seg, leaves, tips = grow_generation(self.tips, rule, budget)
        self.rules.append(rule)
        self.generation += 1
        self.tips = tips
        self.n_segments += seg.shape[0]
        self.n_leaves += leaves.shape[0]
        if seg.shape[0]:
            self._segments.append(seg)
        if leaves.shape[0]:
            self._leaves.append(leaves)
        return seg, leaves

    @property
    def segments(self) -> np.ndarray:
        """All segments so far, ``(n_segments, 6)``, trunk first, generation by generation."""
        return np.concatenate(self._segments, axis=0)

    @property
    def leaves(self) -> np.ndarray:
        """All leaves so far, ``(n_leaves, 5)``, generation by generation."""
        return np.concatenate(self._leaves, axis=0) if self._leaves else np.zeros((0, 5))

    @property
    def at_cap(self) -> bool:
        return self.n_segments >= self.max_segments


def grow_tree(actions, max_segments: int = 512) -> Tree:
    """Grow a tree from a ``(G, 6)`` array of actions (one row per generation)."""
    actions = np.asarray(actions, dtype=np.float64).reshape(-1, ACTION_DIM)
    tree = Tree(max_segments)
    for action in actions:
        tree.grow(action)
    return tree
