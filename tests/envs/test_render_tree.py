"""Tree rasteriser (zg_envs.render.tree) and grammar (zg_envs.tree_grammar) on hand-made inputs."""

import numpy as np
import pytest

from zg_envs import tree_grammar as tg
from zg_envs.render.tree import (
    BARK,
    COMPARE_COLOURS,
    LEAF_SHADES,
    TARGET_OUTLINE,
    comparison_picture,
    leaf_pixels,
    mask_outline,
    segment_pixels,
    tree_picture,
    tree_silhouette,
)

R = 64


def _dense_reference(segments, leaves, resolution, min_radius_px=0.5):
    """Every pixel tested against every primitive (slow, obviously correct) for comparison."""
    out = np.zeros((resolution, resolution), dtype=bool)
    rows, cols = np.mgrid[0:resolution, 0:resolution]
    pu, pv = cols + 0.5, rows + 0.5
    for x0, y0, x1, y1, r0, r1 in segments:
        a = np.array([x0 * resolution, (1 - y0) * resolution])
        b = np.array([x1 * resolution, (1 - y1) * resolution])
        r0, r1 = max(r0 * resolution, min_radius_px), max(r1 * resolution, min_radius_px)
        d = b - a
        len2 = d @ d
        t = np.clip(((pu - a[0]) * d[0] + (pv - a[1]) * d[1]) / len2, 0, 1) if len2 > 0 else np.zeros_like(pu)
        dist2 = (pu - a[0] - t * d[0]) ** 2 + (pv - a[1] - t * d[1]) ** 2
        out |= dist2 <= (r0 + t * (r1 - r0)) ** 2
    for cx, cy, hl, hw, theta in leaves:
        c = np.array([cx * resolution, (1 - cy) * resolution])
        a, b = max(hl * resolution, min_radius_px), max(hw * resolution, min_radius_px)
        axis = np.array([np.sin(theta), -np.cos(theta)])
        du, dv = pu - c[0], pv - c[1]
        along = (du * axis[0] + dv * axis[1]) / a
        across = (-du * axis[1] + dv * axis[0]) / b
        out |= along**2 + across**2 <= 1.0
    return out


def test_vertical_segment_covers_the_predicted_pixels():
    # axis x = 0.5 (pixel column coordinate 32), from y = 0.25 to y = 0.75 (rows 48 .. 16), radius 2 px
    seg = np.array([[0.5, 0.25, 0.5, 0.75, 2.0 / R, 2.0 / R]])
    got = tree_silhouette(seg, None, R)
    expected = np.zeros((R, R), dtype=bool)
    expected[15:49, 30:34] = True  # body rows 16..47 plus the first cap row on each side (|dv| = 0.5)
    expected[14, 31:33] = True  # cap rows at |dv| = 1.5 keep only |du| = 0.5
    expected[49, 31:33] = True
    assert got.sum() == 34 * 4 + 2 * 2
    np.testing.assert_array_equal(got, expected)


def test_taper_narrows_the_segment_towards_its_end():
    # radius 3 px at the bottom, 0.5 px at the top
    seg = np.array([[0.5, 0.1, 0.5, 0.9, 3.0 / R, 0.5 / R]])
    got = tree_silhouette(seg, None, R)
    widths = got.sum(axis=1)
    bottom_row, top_row = int(R * 0.85), int(R * 0.15)  # rows near the start (y = 0.15) and end (y = 0.85)
    assert widths[bottom_row] == 6 and widths[top_row] == 2
    assert np.all(np.diff(widths[top_row:bottom_row]) >= 0)  # never wider further up


def test_leaf_ellipse_extent_and_rotation():
    leaf = np.array([[0.5, 0.5, 10.0 / R, 5.0 / R, 0.0]])  # long axis straight up
    got = tree_silhouette(np.zeros((0, 6)), leaf, R)
    rows, cols = np.nonzero(got)
    assert (rows.min(), rows.max()) == (22, 41)  # centres within 10 px of row coordinate 32
    assert (cols.min(), cols.max()) == (27, 36)  # centres within 5 px of column coordinate 32
    assert abs(got.sum() - np.pi * 10 * 5) < 10
    turned = tree_silhouette(np.zeros((0, 6)), leaf + [0, 0, 0, 0, np.pi / 2], R)
    np.testing.assert_array_equal(turned, got.T)


def test_vectorised_rasteriser_matches_a_dense_reference():
    rng = np.random.default_rng(1)
    n = 40
    p0 = rng.uniform(-0.1, 1.1, (n, 2))
    p1 = p0 + rng.normal(0, 0.15, (n, 2))
    radii = rng.uniform(0.0, 0.05, (n, 2))
    segments = np.concatenate([p0, p1, radii], axis=1)
    segments[0, 2:4] = segments[0, 0:2]  # a zero-length segment is a disc
    leaves = np.column_stack(
        [rng.uniform(0, 1, (n, 2)), rng.uniform(0, 0.08, n), rng.uniform(0, 0.04, n), rng.uniform(-4, 4, n)]
    )
    np.testing.assert_array_equal(tree_silhouette(segments, leaves, R), _dense_reference(segments, leaves, R))


def test_off_canvas_and_empty_input():
    assert not tree_silhouette(np.array([[2.0, 2.0, 3.0, 3.0, 0.1, 0.1]]), None, R).any()
    assert not tree_silhouette(np.zeros((0, 6)), np.zeros((0, 5)), R).any()
    owner, rows, cols = segment_pixels(np.array([[-0.5, 0.5, 0.5, 0.5, 0.01, 0.01]]), R)
    assert rows.size and rows.min() >= 0 and cols.min() == 0 and cols.max() < R
    assert set(owner.tolist()) == {0}
    owner, _, _ = leaf_pixels(np.zeros((0, 5)), R)
    assert owner.size == 0


def test_zero_radius_twig_stays_a_connected_line():
    seg = np.array([[0.1, 0.2, 0.9, 0.55, 0.0, 0.0]])  # shallow diagonal, no thickness
    got = tree_silhouette(seg, None, R)
    cols_hit = np.nonzero(got.any(axis=0))[0]
    first, last = int(0.1 * R), int(0.9 * R) - 1
    assert set(range(first, last + 1)) <= set(cols_hit.tolist())  # a pixel in every column it spans


def test_incremental_drawing_equals_a_full_redraw():
    tree = tg.Tree(300)
    out = tree_silhouette(tree.segments, None, R)
    rng = np.random.default_rng(5)
    for action in rng.uniform(-1, 1, (6, tg.ACTION_DIM)):
        seg, leaves = tree.grow(action)
        tree_silhouette(seg, leaves, R, out=out)
    np.testing.assert_array_equal(out, tree_silhouette(tree.segments, tree.leaves, R))


def test_silhouette_rejects_a_wrong_out_buffer():
    with pytest.raises(ValueError, match="out must be a bool array"):
        tree_silhouette(np.zeros((0, 6)), None, R, out=np.zeros((R, R), dtype=np.uint8))


def test_tree_picture_colours():
    seg = np.array([[0.5, 0.1, 0.5, 0.5, 0.03, 0.02]])
    leaf = np.array([[0.5, 0.7, 0.1, 0.05, 0.0]])
    target = np.zeros((16, 16), dtype=bool)
    target[2:6, 2:6] = True
    img = tree_picture(seg, leaf, 128, target=target)
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    assert tuple(img[int(128 * 0.7), 64]) == BARK  # on the trunk, below the leaf
    assert tuple(img[int(128 * 0.3), 64]) in LEAF_SHADES  # in the leaf
    outline = np.all(img == np.array(TARGET_OUTLINE, dtype=np.uint8), axis=-1)
    assert outline[16, 16:48].all() and not outline[32, 32]  # the square's top edge, not its inside


def test_mask_outline_and_comparison_picture():
    mask = np.zeros((8, 8), dtype=bool)
    mask[2:6, 2:6] = True
    edge = mask_outline(mask)
    assert edge.sum() == 12 and not edge[3:5, 3:5].any()
    sil = np.zeros((8, 8), dtype=bool)
    sil[4:8, 4:8] = True
    pic = comparison_picture(sil, mask, 16)
    assert tuple(pic[0, 0]) == COMPARE_COLOURS[0]  # neither
    assert tuple(pic[5, 5]) == COMPARE_COLOURS[1]  # target only
    assert tuple(pic[15, 15]) == COMPARE_COLOURS[2]  # silhouette only
    assert tuple(pic[9, 9]) == COMPARE_COLOURS[3]  # both


# ----------------------------------------------------------------------------- grammar


def test_rule_decoding_rounds_children_and_maps_ranges():
    def children(a):
        return tg.rule_from_action([a, 0, 0, 0, 0, 0]).children

    assert [children(a) for a in (-1.0, -0.7, -0.6, 0.1, 0.6, 0.7, 1.0, 5.0)] == [1, 1, 2, 3, 3, 4, 4, 4]
    lo = tg.rule_from_action(-np.ones(6))
    hi = tg.rule_from_action(np.ones(6))
    assert (lo.spread, lo.length_ratio, lo.thickness_ratio, lo.bend, lo.leaf_size) == (
        tg.SPREAD_RANGE[0], tg.LENGTH_RATIO_RANGE[0], tg.THICKNESS_RATIO_RANGE[0], -1.0, 0.0
    )
    assert (hi.spread, hi.length_ratio, hi.thickness_ratio, hi.bend, hi.leaf_size) == (
        tg.SPREAD_RANGE[1], tg.LENGTH_RATIO_RANGE[1], tg.THICKNESS_RATIO_RANGE[1], 1.0, tg.MAX_LEAF
    )
    assert tg.rule_from_action([0, 0, 0, 0, 0, -0.5]).leaf_size == 0.0


def test_generation_geometry_by_hand():
    # two children, spread pi/2, no bend: directions +-45 degrees from straight up
    rule = tg.rule_from_action([-0.5, (np.pi / 2 - 0.2) / 1.1 - 1, 0, 0, 0, 1])
    assert rule.children == 2 and np.isclose(rule.spread, np.pi / 2)
    _, tips = tg.trunk()
    seg, leaves, new_tips = tg.grow_generation(tips, rule, budget=10)
    length = tg.TRUNK_LENGTH * 0.7
    top = tg.TRUNK_BASE[1] + tg.TRUNK_LENGTH
    d = length / np.sqrt(2)
    np.testing.assert_allclose(seg[:, :4], [[0.5, top, 0.5 - d, top + d], [0.5, top, 0.5 + d, top + d]])
    np.testing.assert_allclose(seg[:, 4], tips[0, 4])
    np.testing.assert_allclose(seg[:, 5], tips[0, 4] * 0.7)
    assert leaves.shape == (2, 5) and np.allclose(leaves[:, 2], tg.MAX_LEAF)
    np.testing.assert_allclose(new_tips[:, 2], [-np.pi / 4, np.pi / 4])


def test_segment_cap_keeps_children_spread_evenly_and_stops_growth():
    tree = tg.Tree(max_segments=10)
    tree.grow([1, 0, 0, 0, 0, 0])  # 4 children: 5 segments
    seg, leaves = tree.grow([1, 0, 0, 0, 0, 0])  # 16 children wanted, 5 fit
    assert tree.n_segments == 10 and tree.at_cap and seg.shape[0] == 5 and leaves.shape[0] == 5
    assert tree.tips.shape[0] == 5
    # the kept children are indices 0, 4, 8, 11, 15 of the 16 an uncapped tree grows: outermost ones kept
    full = tg.Tree(max_segments=100)
    full.grow([1, 0, 0, 0, 0, 0])
    full_seg, _ = full.grow([1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(seg, full_seg[[0, 4, 8, 11, 15]])
    seg, leaves = tree.grow([1, 0, 0, 0, 0, 0])
    assert seg.shape[0] == 0 and tree.n_segments == 10 and tree.generation == 3
    np.testing.assert_array_equal(tg._evenly_kept(16, 5), [0, 4, 8, 11, 15])


def test_tree_is_deterministic_and_rejects_a_bad_cap():
    actions = np.random.default_rng(2).uniform(-1, 1, (6, tg.ACTION_DIM))
    a, b = tg.grow_tree(actions), tg.grow_tree(actions.copy())
    np.testing.assert_array_equal(a.segments, b.segments)
    np.testing.assert_array_equal(a.leaves, b.leaves)
    with pytest.raises(ValueError, match="max_segments"):
        tg.Tree(0)


def test_growth_picture_has_title_panels_and_a_legend_of_every_colour():
    from zg_envs.render.tree_view import LEGEND, growth_picture

    seg = np.array([[0.5, 0.0, 0.5, 0.5, 0.04, 0.02]])
    sil = tree_silhouette(seg, None, 32)
    target = np.zeros((32, 32), dtype=bool)
    target[8:24, 10:20] = True
    blank = growth_picture(seg, None, sil, target, "", size=96)
    titled = growth_picture(seg, None, sil, target, "a title", size=96)
    assert titled.dtype == np.uint8 and titled.shape == blank.shape and titled.shape[1] == 3 * 12 + 2 * 96
    assert (titled[:30] != blank[:30]).any() and (titled[30:] == blank[30:]).all()  # the title is on top
    assert [c for c, _ in LEGEND] == [COMPARE_COLOURS[3], COMPARE_COLOURS[2], COMPARE_COLOURS[1], TARGET_OUTLINE]
    footer = titled[30 + 96:].reshape(-1, 3)
    for colour, _ in LEGEND:  # one swatch per colour under the panels
        assert np.all(footer == colour, axis=1).sum() >= 50, colour
    # the right panel is the overlap picture, pasted unchanged
    np.testing.assert_array_equal(titled[30:30 + 96, 2 * 12 + 96:2 * 12 + 192], comparison_picture(sil, target, 96))


def test_legend_wraps_within_the_given_width():
    from zg_envs.render import annotate
    from zg_envs.render.tree_view import LEGEND

    assert annotate.legend_height(LEGEND) == annotate.legend_height(LEGEND, 10_000)
    assert annotate.legend_height(LEGEND, 150) == 4 * annotate.legend_height(LEGEND)  # one item per row
    from zg_envs.render.tree_view import growth_picture

    narrow = growth_picture(np.zeros((0, 6)), None, np.zeros((16, 16), bool), np.ones((16, 16), bool), "t", size=32)
    wide = growth_picture(np.zeros((0, 6)), None, np.zeros((16, 16), bool), np.ones((16, 16), bool), "t", size=256)
    assert narrow.shape[0] - 30 - 32 > wide.shape[0] - 30 - 256  # the narrow picture's legend takes more rows
