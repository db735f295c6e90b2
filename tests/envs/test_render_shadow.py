"""Shadow renderers against hand-computed shadows."""

import math

import numpy as np
import pytest

from zg_envs.render import shadow as S
from zg_envs.render.shadow_view import art_picture, caster_picture, outline

LIGHT = (0.0, 0.0, 2.0)


def _pixel_grid(res):
    xs, ys = S.ground_coordinates(res)
    return xs[None, :], ys[:, None]


@pytest.mark.parametrize("height,radius", [(0.8, 0.2), (0.5, 0.1), (1.2, 0.25)])
def test_sphere_under_light_casts_disc_of_predicted_radius(height, radius):
    res = 128
    mask = S.ground_shadow("sphere", [[0.0, 0.0, height]], [radius], LIGHT, res)
    # tangent cone from the light: sin(theta) = r / (h_L - h), ground radius h_L * tan(theta)
    theta = math.asin(radius / (LIGHT[2] - height))
    expected_radius = LIGHT[2] * math.tan(theta)
    assert S.sphere_disc_radius(height, radius, LIGHT[2]) == pytest.approx(expected_radius)
    x, y = _pixel_grid(res)
    dist = np.hypot(x, y)
    pixel = 2.0 / res
    assert mask[dist <= expected_radius - pixel].all()
    assert not mask[dist >= expected_radius + pixel].any()
    assert mask.sum() == pytest.approx(math.pi * expected_radius ** 2 / pixel ** 2, rel=0.05)


def test_cube_under_light_casts_square_of_predicted_half_size():
    res, z, s = 64, 0.8, 0.2
    mask = S.ground_shadow("box", [[0.0, 0.0, z]], [s], LIGHT, res)
    half = s * LIGHT[2] / (LIGHT[2] - (z + s))  # the top face's edges are the silhouette
    x, y = _pixel_grid(res)
    expected = (np.abs(x) <= half) & (np.abs(y) <= half)
    assert np.array_equal(mask, expected)


def test_offset_sphere_shadow_is_shifted_by_the_projection_of_its_centre():
    res, c = 128, (0.3, -0.2, 1.0)
    mask = S.ground_shadow("sphere", [c], [0.05], LIGHT, res)
    x, y = _pixel_grid(res)
    k = LIGHT[2] / (LIGHT[2] - c[2])
    centroid = (np.broadcast_to(x, mask.shape)[mask].mean(), np.broadcast_to(y, mask.shape)[mask].mean())
    assert centroid == pytest.approx((c[0] * k, c[1] * k), abs=0.03)


def test_occluder_above_the_light_casts_nothing():
    mask = S.ground_shadow(["sphere", "box"], [[0.0, 0.0, 3.0], [0.2, 0.0, 2.6]], [0.3, 0.3], LIGHT, 32)
    assert not mask.any()


@pytest.mark.parametrize("window", [S.sphere_shadow_window, S.box_shadow_window])
def test_windowed_shadow_equals_full_image_shadow(window, monkeypatch):
    """The bounding window must be conservative: the same pixels as testing every pixel."""
    res = 48
    xs, ys = S.ground_coordinates(res)
    rng = np.random.default_rng(0)
    cases = [(rng.uniform([-0.6, -0.6, 0.3], [0.6, 0.6, 1.2]), rng.uniform(0.03, 0.25)) for _ in range(40)]
    windowed = []
    for c, r in cases:
        r0, r1, c0, c1, sub = window(c, r, (0.3, -0.2, 2.0), xs, ys)
        full = np.zeros((res, res), dtype=bool)
        full[r0:r1, c0:c1] = sub
        windowed.append(full)
    monkeypatch.setattr(S, "_shadow_window", lambda lo, hi, light, n, extent: (0, n, 0, n))
    for (c, r), got in zip(cases, windowed):
        *_, everything = window(c, r, (0.3, -0.2, 2.0), xs, ys)
        assert np.array_equal(got, everything)


def test_empty_grid_casts_nothing_and_full_grid_casts_everything():
    k = 8
    empty = np.zeros((k, k, k), dtype=bool)
    full = np.ones((k, k, k), dtype=bool)
    assert not any(img.any() for img in S.axis_shadows(empty))
    assert all(img.all() for img in S.axis_shadows(full))
    for s in range(3):
        origins, dirs, t_max, _ = S.screen_rays(S.SCREEN_DIRECTIONS[s], S.SCREEN_UPS[s], 16, "point")
        cells, _ = S.grid_ray_cells(origins, dirs, k, t_max=t_max)
        padded = np.zeros(k ** 3 + 1, dtype=bool)
        assert not S.ray_shadow(padded, cells).any()
        padded[:-1] = True
        # the screen is sized to the magnified face nearest the light: a full grid darkens all of it
        assert S.ray_shadow(padded, cells).all()


def test_point_light_shadow_of_the_far_layer_is_the_predicted_square():
    k, res = 8, 32
    occ = np.zeros((k, k, k), dtype=bool)
    occ[-1] = True  # the layer x in [1 - 2/k, 1], farthest from the light at x = -5
    origins, dirs, t_max, half = S.screen_rays(S.SCREEN_DIRECTIONS[0], S.SCREEN_UPS[0], res, "point", 5.0, 2.0)
    cells, _ = S.grid_ray_cells(origins, dirs, k, t_max=t_max)
    padded = np.zeros(k ** 3 + 1, dtype=bool)
    padded[:-1] = occ.ravel()
    got = S.ray_shadow(padded, cells).reshape(res, res)
    magnified = (5.0 + 2.0) / (5.0 + 1.0 - 2.0 / k)  # the layer's face nearer the light sets the silhouette
    coords = -half + (np.arange(res) + 0.5) * (2 * half / res)
    inside = np.abs(coords) <= magnified
    assert np.array_equal(got, inside[:, None] & inside[None, :])


def test_axis_shadows_orientation_matches_the_documented_table():
    k = 8
    occ = np.zeros((k, k, k), dtype=bool)
    occ[1, 6, 7] = True  # x index 1 (near -x), y index 6 (near +y), z index 7 (top)
    s0, s1, s2 = S.axis_shadows(occ)
    # screen 0: up +z, right -y -> row 0 (top), column k-1-6
    assert s0[0, k - 1 - 6] and s0.sum() == 1
    # screen 1: up +z, right +x -> row 0, column 1
    assert s1[0, 1] and s1.sum() == 1
    # screen 2: up +y, right +x -> row k-1-6, column 1
    assert s2[k - 1 - 6, 1] and s2.sum() == 1


def test_ray_traversal_agrees_with_axis_projection_and_dense_sampling():
    k = 12
    rng = np.random.default_rng(3)
    occ = rng.random((k, k, k)) < 0.03
    padded = np.zeros(k ** 3 + 1, dtype=bool)
    padded[:-1] = occ.ravel()
    for s, expected in enumerate(S.axis_shadows(occ)):
        origins, dirs, t_max, _ = S.screen_rays(S.SCREEN_DIRECTIONS[s], S.SCREEN_UPS[s], k)
        cells, _ = S.grid_ray_cells(origins, dirs, k, t_max=t_max)
        assert np.array_equal(S.ray_shadow(padded, cells).reshape(k, k), expected)
    # a slanted ray: the exact traversal equals the distinct cells of a very fine sampling
    o, d = np.array([[-3.0, 0.13, 0.21]]), np.array([[1.0, 0.31, -0.17]])
    cells, _ = S.grid_ray_cells(o, d, k, t_max=10.0)
    ts = np.linspace(0.0, 10.0, 400001)
    idx = np.floor((o + ts[:, None] * d + 1.0) / (2.0 / k)).astype(int)
    inside = np.all((idx >= 0) & (idx < k), axis=1)
    flat = (idx[inside, 0] * k + idx[inside, 1]) * k + idx[inside, 2]
    distinct = flat[np.r_[True, flat[1:] != flat[:-1]]]
    assert cells[0][cells[0] != k ** 3].tolist() == distinct.tolist()


def test_area_weights_downsample_exactly():
    w = S.area_weights(6, 4)
    assert np.allclose(w.sum(axis=1), 1.0)
    img = np.zeros((6, 6))
    img[:3, :] = 1.0
    small = w @ img @ w.T
    assert np.allclose(small[:2], 1.0) and np.allclose(small[2:], 0.0)
    assert np.allclose(S.area_weights(64, 16) @ np.ones((64, 64)) @ S.area_weights(64, 16).T, 1.0)


def test_pictures_are_uint8_rgb_and_show_the_target_outline():
    shadow = np.zeros((16, 16), dtype=bool)
    target = np.zeros((16, 16), dtype=bool)
    target[4:12, 4:12] = True
    pic = caster_picture(shadow, target, ["sphere"], [(0.0, 0.0, 0.8)], [0.1], LIGHT, 1.0, "title")
    assert pic.dtype == np.uint8 and pic.ndim == 3 and pic.shape[2] == 3
    assert (pic == np.array([220, 30, 30], dtype=np.uint8)).all(axis=2).sum() > 100
    occ = np.zeros((8, 8, 8), dtype=bool)
    occ[2:6, 2:6, 2:6] = True
    art = art_picture(occ, [target] * 3, [target] * 3, ["a", "b", "c"], "title", panel=64)
    assert art.dtype == np.uint8 and art.shape[2] == 3
    assert outline(target, width=1).sum() == 28


def test_axis_hull_is_the_largest_grid_inside_the_views():
    rng = np.random.default_rng(3)
    occ = rng.random((6, 6, 6)) < 0.15
    views = S.axis_shadows(occ)
    hull = S.axis_hull(views)
    assert np.all(hull >= occ)  # contains the grid that cast the views
    for got, want in zip(S.axis_shadows(hull), views):
        np.testing.assert_array_equal(got, want)  # and casts exactly the same shadows
    # any cell outside the hull shadows a pixel outside some view
    for cell in zip(*np.nonzero(~hull)):
        one = np.zeros_like(occ)
        one[cell] = True
        assert any((s & ~v).any() for s, v in zip(S.axis_shadows(one), views))
    # arbitrary views: the hull's shadows stay inside them
    free = [rng.random((6, 6)) < 0.7 for _ in range(3)]
    for got, view in zip(S.axis_shadows(S.axis_hull(free)), free):
        assert not (got & ~view).any()
    with pytest.raises(ValueError, match="screen must be 0, 1 or 2"):
        S.axis_hull(free, screens=(0, 1, 5))
