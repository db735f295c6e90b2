"""Hard shadows: occluders in, binary shadow masks out.

Two families of pure, vectorised renderers (numpy only, no per-pixel Python loops):

* **Occluders over a ground plane, lit by a point light** (``zg/ShadowCaster-v0``). The ground is the plane
  ``z = 0``; the imaged part is the square ``[-extent, extent]^2``, sampled at pixel centres. Pixel
  ``(row, col)`` sits at ``x = -extent + (col + 0.5) * 2 * extent / R`` and
  ``y = extent - (row + 0.5) * 2 * extent / R`` (row 0 is the far, ``+y`` edge; images read like a map
  seen from above). A ground point is in shadow when the segment from it to the light meets an occluder.
  Spheres (centre, radius) and axis-aligned boxes (centre, half-size) are supported; each occluder only
  touches the pixels inside a conservative bounding window of its shadow, so adding one occluder to an
  existing mask costs time proportional to its shadow, not to the image.

* **Voxel grids on screens** (``zg/ShadowArt-v0``). The grid of ``K^3`` cells fills the cube
  ``[-1, 1]^3``; ``occupancy[ix, iy, iz]`` indexes x, y, z. A screen pixel is lit only if every cell on its
  ray to the light is empty. For the three axis-aligned directional lights the projection is an OR
  reduction along one axis (:func:`axis_shadows`); any other light (a point light, or a slanted direction)
  goes through an exact grid traversal precomputed once per geometry (:func:`grid_ray_cells`), after which
  each evaluation is one gather and one OR reduction (:func:`ray_shadow`).

Conventions for screen images (rows top to bottom, columns left to right, as seen by someone standing on
the light's side looking at the screen):

==========  ======================  ===========  =================
screen      light travels along     image up     image right
==========  ======================  ===========  =================
0           ``+x``                  ``+z``       ``-y``
1           ``+y``                  ``+z``       ``+x``
2           ``-z`` (from above)     ``+y``       ``+x``
==========  ======================  ===========  =================
"""

from __future__ import annotations

import math

import numpy as np

#: Light directions (the way the light travels) and image "up" vectors of the three default screens.
SCREEN_DIRECTIONS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]])
SCREEN_UPS = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])


# ----------------------------------------------------------------------------------------------------
# Ground plane, point light
# ----------------------------------------------------------------------------------------------------
def ground_coordinates(resolution: int, extent: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """World x of every column and world y of every row of a ``resolution``-pixel ground image."""
    step = 2.0 * extent / resolution
    xs = -extent + (np.arange(resolution) + 0.5) * step
    ys = extent - (np.arange(resolution) + 0.5) * step
    return xs, ys


def _shadow_window(lo, hi, light, resolution: int, extent: float) -> tuple[int, int, int, int]:
    """Rows and columns (half-open) that can hold the shadow of anything inside the box ``[lo, hi]``.

    Interval arithmetic on the projection ``p = L + (q - L) * h / (h - q_z)`` of every point ``q`` of the
    box from the light ``L`` (height ``h``) onto ``z = 0``; one pixel of margin absorbs rounding. When the
    box is not strictly below the light the window is the whole image (the exact per-pixel test still
    decides).
    """
    h = light[2]
    if hi[2] >= h or lo[2] < 0.0:
        return 0, resolution, 0, resolution
    f_lo, f_hi = h / (h - lo[2]), h / (h - hi[2])
    scale = resolution / (2.0 * extent)
    bounds = []
    for axis in (0, 1):
        a, b = lo[axis] - light[axis], hi[axis] - light[axis]
        products = (a * f_lo, a * f_hi, b * f_lo, b * f_hi)
        bounds.append((light[axis] + min(products), light[axis] + max(products)))
    (x0, x1), (y0, y1) = bounds
    c0 = math.floor((x0 + extent) * scale - 0.5)
    c1 = math.ceil((x1 + extent) * scale - 0.5) + 1
    r0 = math.floor((extent - y1) * scale - 0.5)
    r1 = math.ceil((extent - y0) * scale - 0.5) + 1
    return max(r0, 0), min(r1, resolution), max(c0, 0), min(c1, resolution)


def sphere_shadow_window(center, radius: float, light, xs: np.ndarray, ys: np.ndarray, extent: float = 1.0):
    """Shadow of one sphere on the ground, restricted to its bounding window.

    Returns ``(r0, r1, c0, c1, mask)`` where ``mask`` is the bool shadow of rows ``r0:r1`` and columns
    ``c0:c1`` (``xs``/``ys`` come from :func:`ground_coordinates`). A pixel ``p`` is shadowed when the
    segment ``p -> light`` passes within ``radius`` of ``center``: with ``d = L - p`` and ``w = c - p`` the
    closest segment parameter is ``t = clip(w.d / d.d, 0, 1)`` and the squared distance is
    ``|w|^2 - 2 t w.d + t^2 |d|^2``.
    """
    cx, cy, cz = (float(v) for v in center)
    lx, ly, lz = (float(v) for v in light)
    r = float(radius)
    res = xs.shape[0]
    r0, r1, c0, c1 = _shadow_window((cx - r, cy - r, cz - r), (cx + r, cy + r, cz + r), (lx, ly, lz), res, extent)
    if r0 >= r1 or c0 >= c1:
        return r0, r0, c0, c0, np.zeros((0, 0), dtype=bool)
    x = xs[c0:c1]
    y = ys[r0:r1, None]
    dx, dy = lx - x, ly - y
    wx, wy = cx - x, cy - y
    wd = (wx * dx + cz * lz) + wy * dy
    dd = (dx * dx + lz * lz) + dy * dy
    ww = (wx * wx + cz * cz) + wy * wy
    t = np.clip(wd / dd, 0.0, 1.0)
    dist2 = ww - t * (2.0 * wd - t * dd)
    return r0, r1, c0, c1, dist2 <= r * r


def box_shadow_window(center, half_size, light, xs: np.ndarray, ys: np.ndarray, extent: float = 1.0):
    """Shadow of one axis-aligned box (``half_size`` a scalar or 3 values) on the ground, in its window.

    Slab test of the segment ``p + t (L - p)``, ``t in [0, 1]``, against the box. The x slab depends only on
    the column and the y slab only on the row, so most of the work is on 1-D arrays. Returns
    ``(r0, r1, c0, c1, mask)`` like :func:`sphere_shadow_window`.
    """
    c = np.asarray(center, dtype=np.float64)
    hs = np.broadcast_to(np.asarray(half_size, dtype=np.float64), (3,))
    lo, hi = c - hs, c + hs
    light = tuple(float(v) for v in light)
    res = xs.shape[0]
    r0, r1, c0, c1 = _shadow_window(lo, hi, light, res, extent)
    if r0 >= r1 or c0 >= c1:
        return r0, r0, c0, c0, np.zeros((0, 0), dtype=bool)
    tx0, tx1 = _slab(xs[c0:c1], light[0], lo[0], hi[0])
    ty0, ty1 = _slab(ys[r0:r1], light[1], lo[1], hi[1])
    tz0, tz1 = _slab(np.zeros(1), light[2], lo[2], hi[2])
    near_xz = np.maximum(np.maximum(tx0, tz0[0]), 0.0)
    far_xz = np.minimum(np.minimum(tx1, tz1[0]), 1.0)
    near = np.maximum(near_xz[None, :], ty0[:, None])
    far = np.minimum(far_xz[None, :], ty1[:, None])
    return r0, r1, c0, c1, near <= far


def _slab(p: np.ndarray, light_coord: float, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Entry and exit parameters of the segments ``p + t (light - p)`` through the slab ``[lo, hi]``."""
    d = light_coord - p
    parallel = d == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ta = (lo - p) / d
        tb = (hi - p) / d
    t0, t1 = np.minimum(ta, tb), np.maximum(ta, tb)
    if parallel.any():  # a segment parallel to the slab is inside it everywhere or nowhere
        inside = (p >= lo) & (p <= hi)
        t0 = np.where(parallel, np.where(inside, -np.inf, np.inf), t0)
        t1 = np.where(parallel, np.where(inside, np.inf, -np.inf), t1)
    return t0, t1


def ground_shadow(shapes, centers, sizes, light, resolution: int, extent: float = 1.0) -> np.ndarray:
    """Hard shadow mask (``resolution`` x ``resolution`` bool) of spheres and boxes under a point light.

    ``shapes`` is a sequence of ``"sphere"``/``"box"`` (or one string for all), ``centers`` an ``(n, 3)``
    array and ``sizes`` the radii (spheres) or half-sizes (cubes). ``light`` is the light position, above
    the ground. The mask is the union of the occluders' windowed shadows.
    """
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 3)
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1)
    if isinstance(shapes, str):
        shapes = [shapes] * len(centers)
    xs, ys = ground_coordinates(resolution, extent)
    mask = np.zeros((resolution, resolution), dtype=bool)
    for shape, center, size in zip(shapes, centers, sizes):
        window = sphere_shadow_window if shape == "sphere" else box_shadow_window
        r0, r1, c0, c1, sub = window(center, size, light, xs, ys, extent)
        mask[r0:r1, c0:c1] |= sub
    return mask


def sphere_disc_radius(height: float, radius: float, light_height: float) -> float:
    """Radius of the shadow disc of a sphere centred at ``height`` straight under a point light.

    The shadow is the cone from the light tangent to the sphere, with half-angle ``asin(r / (h_L - h))``;
    it meets the ground in a circle of radius ``h_L * r / sqrt((h_L - h)^2 - r^2)``.
    """
    gap = light_height - height
    return light_height * radius / math.sqrt(gap * gap - radius * radius)


# ----------------------------------------------------------------------------------------------------
# Voxel grids
# ----------------------------------------------------------------------------------------------------
def axis_shadows(occupancy: np.ndarray, screens=(0, 1, 2)) -> list[np.ndarray]:
    """Shadows of a bool ``(K, K, K)`` grid on the axis-aligned screens (directional lights), ``(K, K)`` each.

    Each is an OR reduction along the light's axis, oriented as in the module table. The returned arrays
    may be views of reduction results (no per-pixel work beyond the reduction).
    """
    out = []
    for s in screens:
        if s == 0:
            out.append(occupancy.any(axis=0).T[::-1, ::-1])
        elif s == 1:
            out.append(occupancy.any(axis=1).T[::-1, :])
        elif s == 2:
            out.append(occupancy.any(axis=2).T[::-1, :])
        else:
            raise ValueError(f"screen must be 0, 1 or 2, got {s!r}")
    return out



def axis_shadows_batch(occupancy: np.ndarray, screens=(0, 1, 2)) -> np.ndarray:
    """:func:`axis_shadows` of a batch of bool ``(n, K, K, K)`` grids at once: ``(n, S, K, K)`` bool, where
    row ``i`` equals ``np.stack(axis_shadows(occupancy[i], screens))``."""
    out = []
    for s in screens:
        if s == 0:
            out.append(occupancy.any(axis=1).transpose(0, 2, 1)[:, ::-1, ::-1])
        elif s == 1:
            out.append(occupancy.any(axis=2).transpose(0, 2, 1)[:, ::-1, :])
        elif s == 2:
            out.append(occupancy.any(axis=3).transpose(0, 2, 1)[:, ::-1, :])
        else:
            raise ValueError(f"screen must be 0, 1 or 2, got {s!r}")
    return np.stack(out, axis=1)


def axis_hull(views, screens=(0, 1, 2)) -> np.ndarray:
    """The largest bool ``(K, K, K)`` grid whose :func:`axis_shadows` on ``screens`` lie inside ``views``.

    ``views`` holds one bool ``(K, K)`` image per screen, oriented like :func:`axis_shadows`. A cell is
    kept when its column is inside the view on every screen: the visual hull of the views (it carves
    away every cell that would shadow a pixel outside a view). For views that are the shadows of one grid,
    the hull's shadows are exactly the views.
    """
    views = [np.asarray(v, dtype=bool) for v in views]
    k = views[0].shape[0]
    hull = np.ones((k, k, k), dtype=bool)
    for s, view in zip(screens, views):
        if view.shape != (k, k):
            raise ValueError(f"views must all be ({k}, {k}) bool images, got {view.shape} for screen {s}")
        if s == 0:  # the inverse of occupancy.any(axis=0).T[::-1, ::-1]: a (iy, iz) column mask
            hull &= view[::-1, ::-1].T[None, :, :]
        elif s == 1:  # (ix, iz)
            hull &= view[::-1, :].T[:, None, :]
        elif s == 2:  # (ix, iy)
            hull &= view[::-1, :].T[:, :, None]
        else:
            raise ValueError(f"screen must be 0, 1 or 2, got {s!r}")
    return hull


def grid_ray_cells(origins: np.ndarray, directions: np.ndarray, grid: int, t_max: float = 1.0,
                   lo: float = -1.0, hi: float = 1.0, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Every cell of the grid ``[lo, hi]^3`` (``grid`` cells a side) crossed by each ray, in order.

    A ray is ``o + t d`` for ``t in [0, t_max]``. All crossings of the ray with the ``3 (K + 1)`` cell
    planes are sorted; the midpoint of each piece between consecutive crossings lies in exactly one cell,
    so this is an exact traversal (pieces of zero length are dropped), done for all rays at once.

    Returns ``(cells, axes)``, both ``(P, M)`` arrays: ``cells`` holds flat C-order indices into the
    ``(K, K, K)`` grid, or ``K**3`` (a sentinel "outside" cell) where the ray has no more cells; ``axes``
    holds the axis (0, 1, 2) of the plane through which the ray entered each cell (-1 where unknown).
    Memory is ``O(P * K)``; rays are processed ``chunk`` at a time.
    """
    origins = np.asarray(origins, dtype=np.float64).reshape(-1, 3)
    directions = np.asarray(directions, dtype=np.float64).reshape(-1, 3)
    n_rays = origins.shape[0]
    k = int(grid)
    cell = (hi - lo) / k
    planes = lo + cell * np.arange(k + 1)
    sentinel = k ** 3
    width = 3 * k + 3
    cells = np.full((n_rays, width), sentinel, dtype=np.int32 if sentinel < 2**31 else np.int64)
    axes = np.full((n_rays, width), -1, dtype=np.int8)
    for start in range(0, n_rays, chunk):
        o = origins[start:start + chunk]
        d = directions[start:start + chunk]
        with np.errstate(divide="ignore", invalid="ignore"):
            ts = (planes[None, None, :] - o[:, :, None]) / d[:, :, None]  # (P, 3, K+1)
        ts = np.where(np.isfinite(ts), ts, np.inf).reshape(len(o), -1)
        ts = np.clip(ts, 0.0, t_max)
        order = np.argsort(ts, axis=1, kind="stable")
        ts = np.take_along_axis(ts, order, axis=1)
        ts = np.concatenate([np.zeros((len(o), 1)), ts], axis=1)  # start of the ray
        entry_axis = np.concatenate([np.full((len(o), 1), -1), order // (k + 1)], axis=1)
        mid = 0.5 * (ts[:, :-1] + ts[:, 1:])
        length = ts[:, 1:] - ts[:, :-1]
        pts = o[:, None, :] + mid[:, :, None] * d[:, None, :]
        idx = np.floor((pts - lo) / cell).astype(np.int64)
        valid = (length > 1e-12) & np.all((idx >= 0) & (idx < k), axis=2)
        flat = (idx[..., 0] * k + idx[..., 1]) * k + idx[..., 2]
        # entering a piece means crossing the plane at its start: the crossing sorted just before it
        ax = entry_axis[:, :-1]
        # compact: valid pieces first, in ray order
        rank = np.cumsum(valid, axis=1) - 1
        rows = np.broadcast_to(np.arange(len(o))[:, None], valid.shape)
        cells[start + rows[valid], rank[valid]] = flat[valid]
        axes[start + rows[valid], rank[valid]] = ax[valid]
    used = int(np.max(np.sum(cells != sentinel, axis=1), initial=1))
    return cells[:, :max(used, 1)].copy(), axes[:, :max(used, 1)].copy()


def ray_shadow(occupancy_padded: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Shadow bit of each ray: True if any cell on it is occupied.

    ``occupancy_padded`` is the flat C-order occupancy with one extra ``False`` at the end (the sentinel
    cell of :func:`grid_ray_cells`).
    """
    return occupancy_padded[cells].any(axis=1)


def screen_rays(direction, up, resolution: int, light: str = "directional", light_distance: float = 5.0,
                screen_distance: float = 2.0) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Ray origins and directions from every pixel centre of a screen toward its light.

    The screen is the plane perpendicular to ``direction`` at ``screen_distance`` past the grid centre, on
    the far side from the light. A directional light sends parallel rays; a point light sits at
    ``-light_distance * direction``. The screen's half-size covers the grid's whole shadow: ``1`` for a
    directional light, ``(light_distance + screen_distance) / (light_distance - 1)`` for a point light
    (the grid face nearest the light is the most magnified). Returns ``(origins, directions, t_max,
    half_size)``; rays reach the light at ``t = 1`` (point) or leave the grid before ``t = t_max``.
    """
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    u = np.asarray(up, dtype=np.float64)
    u = u - d * (u @ d)
    u = u / np.linalg.norm(u)
    right = np.cross(d, u)
    if light == "point":
        half = (light_distance + screen_distance) / (light_distance - 1.0)
    else:
        half = 1.0
    coords = -half + (np.arange(resolution) + 0.5) * (2.0 * half / resolution)
    cols = coords[None, :, None]
    rows = coords[::-1][:, None, None]
    pix = screen_distance * d + cols * right + rows * u  # (R, R, 3)
    pix = pix.reshape(-1, 3)
    if light == "point":
        lpos = -light_distance * d
        return pix, lpos[None, :] - pix, 1.0, half
    return pix, np.broadcast_to(-d, pix.shape).copy(), screen_distance + 2.0, half


def area_weights(source: int, target: int) -> np.ndarray:
    """``(target, source)`` matrix averaging a 1-D signal of ``source`` samples into ``target`` bins.

    Entry ``[i, j]`` is the fraction of bin ``i`` covered by source sample ``j``, so rows sum to one and
    ``W @ image @ W.T`` is an exact area downsampling, also when ``source`` is not a multiple of ``target``.
    """
    edges_t = np.arange(target + 1) * (source / target)
    lo = np.maximum(edges_t[:-1, None], np.arange(source)[None, :])
    hi = np.minimum(edges_t[1:, None], np.arange(1, source + 1)[None, :])
    w = np.clip(hi - lo, 0.0, None)
    return w / w.sum(axis=1, keepdims=True)
