"""Rasterise trees: tapered segments and elliptical leaves into silhouettes and coloured pictures.

Pure numpy, vectorised across primitives: every primitive's pixel bounding box is unrolled into one
flat list of candidate pixels for all primitives together, and one inside-test over that list decides
which pixels it covers. There is no Python loop over primitives or pixels.

Conventions (shared with :mod:`zg_envs.tree_grammar`):

* Geometry lives on the unit canvas ``[0, 1]^2`` with ``y`` up. An image of ``resolution`` pixels has
  pixel ``(row, col)`` centred at ``x = (col + 0.5) / resolution``, ``y = 1 - (row + 0.5) / resolution``;
  a pixel is covered when its centre is inside the primitive. Anything off the canvas is cut off.
* A segment row is ``(x0, y0, x1, y1, r0, r1)``: a capsule whose radius goes linearly from ``r0`` at the
  start to ``r1`` at the end. A pixel centre ``p`` is inside when its distance to the closest point of the
  axis, at parameter ``t = clip(<p - a, b - a> / |b - a|^2, 0, 1)``, is at most ``r0 + t (r1 - r0)``
  (round caps of radius ``r0`` and ``r1`` at the ends).
* A leaf row is ``(cx, cy, half_length, half_width, theta)``: an ellipse whose long axis points along
  ``(sin theta, cos theta)``.
* Radii and leaf half-axes below ``min_radius_px`` pixels are raised to it (default 0.5 px), so thin twigs
  stay visible as connected one-pixel lines instead of vanishing between pixel centres.
"""

from __future__ import annotations

import numpy as np

#: Default colours of :func:`tree_picture` (uint8 RGB).
BACKGROUND = (243, 239, 226)
BARK = (96, 64, 38)
LEAF_SHADES = ((58, 128, 52), (74, 148, 60), (46, 108, 48), (92, 160, 70))
TARGET_OUTLINE = (30, 100, 230)


def _candidates(u, v, reach_u, reach_v, resolution: int):
    """Unroll each primitive's clipped pixel bounding box into flat ``(owner, rows, cols)`` arrays.

    ``u, v`` are the primitive centres (or box centres) in pixel units (``u`` along columns, ``v`` along
    rows, pixel centres at ``k + 0.5``) and ``reach_u, reach_v`` the half-extents of the boxes. Indices are
    ``int32`` (a canvas side is at most a few thousand pixels), which halves the memory traffic of the
    unrolling, the hot spot of every step.
    """
    c_lo = np.maximum(np.ceil(u - reach_u - 0.5), 0).astype(np.int32)
    c_hi = np.minimum(np.floor(u + reach_u - 0.5), resolution - 1).astype(np.int32)
    r_lo = np.maximum(np.ceil(v - reach_v - 0.5), 0).astype(np.int32)
    r_hi = np.minimum(np.floor(v + reach_v - 0.5), resolution - 1).astype(np.int32)
    w = np.maximum(c_hi - c_lo + 1, 0)
    h = np.maximum(r_hi - r_lo + 1, 0)
    counts = w * h
    ends = counts.cumsum(dtype=np.int64)
    total = int(ends[-1])
    if total == 0:
        empty = np.zeros(0, dtype=np.int32)
        return empty, empty, empty
    owner = np.repeat(np.arange(counts.shape[0], dtype=np.int32), counts)
    local = np.arange(total, dtype=np.int32)
    local -= (ends - counts).astype(np.int32)[owner]
    rows, cols = np.divmod(local, w[owner])
    rows += r_lo[owner]
    cols += c_lo[owner]
    return owner, rows, cols


def _empty():
    empty = np.zeros(0, dtype=np.int32)
    return empty, empty, empty


def segment_pixels(segments, resolution: int, min_radius_px: float = 0.5):
    """Pixels covered by tapered segments: ``(owner, rows, cols)`` flat index arrays.

    ``owner[i]`` is the segment covering pixel ``(rows[i], cols[i])``; a pixel covered by several
    segments appears once per segment.
    """
    seg = np.asarray(segments, dtype=np.float64).reshape(-1, 6)
    if seg.shape[0] == 0:
        return _empty()
    res = float(resolution)
    ax, ay = seg[:, 0] * res, (1.0 - seg[:, 1]) * res
    bx, by = seg[:, 2] * res, (1.0 - seg[:, 3]) * res
    r0 = np.maximum(seg[:, 4] * res, min_radius_px)
    r1 = np.maximum(seg[:, 5] * res, min_radius_px)
    rmax = np.maximum(r0, r1)
    cu, cv = 0.5 * (ax + bx), 0.5 * (ay + by)
    owner, rows, cols = _candidates(cu, cv, 0.5 * np.abs(bx - ax) + rmax, 0.5 * np.abs(by - ay) + rmax, resolution)
    if owner.size == 0:
        return owner, rows, cols
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    inv = np.where(len2 > 0.0, 1.0 / np.where(len2 > 0.0, len2, 1.0), 0.0)
    # the same arithmetic as the plain formula, term by term (so the same pixels), with fewer temporaries
    px = cols + 0.5
    px -= ax[owner]
    py = rows + 0.5
    py -= ay[owner]
    sdx, sdy = dx[owner], dy[owner]
    t = px * sdx
    t += py * sdy
    t *= inv[owner]
    np.minimum(np.maximum(t, 0.0, out=t), 1.0, out=t)  # clip to [0, 1]; t is never NaN
    ex = t * sdx
    np.subtract(px, ex, out=ex)
    ey = t * sdy
    np.subtract(py, ey, out=ey)
    r = (r1 - r0)[owner]
    r *= t
    r += r0[owner]
    ex *= ex
    ey *= ey
    ex += ey
    r *= r
    inside = ex <= r
    return owner[inside], rows[inside], cols[inside]


def leaf_pixels(leaves, resolution: int, min_radius_px: float = 0.5):
    """Pixels covered by elliptical leaves: ``(owner, rows, cols)`` flat index arrays."""
    lv = np.asarray(leaves, dtype=np.float64).reshape(-1, 5)
    if lv.shape[0] == 0:
        return _empty()
    res = float(resolution)
    cu, cv = lv[:, 0] * res, (1.0 - lv[:, 1]) * res
    a = np.maximum(lv[:, 2] * res, min_radius_px)
    b = np.maximum(lv[:, 3] * res, min_radius_px)
    # long axis in pixel coordinates (rows grow downwards): (sin theta, -cos theta)
    su, sv = np.sin(lv[:, 4]), -np.cos(lv[:, 4])
    reach_u = np.sqrt((a * su) ** 2 + (b * sv) ** 2)
    reach_v = np.sqrt((a * sv) ** 2 + (b * su) ** 2)
    owner, rows, cols = _candidates(cu, cv, reach_u, reach_v, resolution)
    if owner.size == 0:
        return owner, rows, cols
    px = cols + 0.5
    px -= cu[owner]
    py = rows + 0.5
    py -= cv[owner]
    su_o, sv_o = su[owner], sv[owner]
    along = px * su_o
    along += py * sv_o
    along /= a[owner]
    across = py * su_o
    across -= px * sv_o
    across /= b[owner]
    along *= along
    across *= across
    along += across
    inside = along <= 1.0
    return owner[inside], rows[inside], cols[inside]


def tree_silhouette(segments, leaves=None, resolution: int = 64, out=None, min_radius_px: float = 0.5):
    """Binary silhouette of segments and leaves as a ``(resolution, resolution)`` bool array.

    With ``out`` given, covered pixels are OR-ed into it in place (for incremental drawing) and ``out``
    is returned.
    """
    if out is None:
        out = np.zeros((resolution, resolution), dtype=bool)
    elif out.shape != (resolution, resolution) or out.dtype != bool:
        raise ValueError(f"out must be a bool array of shape {(resolution, resolution)}, got {out.dtype} {out.shape}")
    _, rows, cols = segment_pixels(segments, resolution, min_radius_px)
    out[rows, cols] = True
    if leaves is not None:
        _, rows, cols = leaf_pixels(leaves, resolution, min_radius_px)
        out[rows, cols] = True
    return out


def mask_outline(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with at least one 4-neighbour outside it (image borders count as outside)."""
    m = np.pad(np.asarray(mask, dtype=bool), 1)
    interior = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    return np.asarray(mask, dtype=bool) & ~interior


def tree_picture(
    segments,
    leaves=None,
    resolution: int = 256,
    target=None,
    background=BACKGROUND,
    bark=BARK,
    leaf_shades=LEAF_SHADES,
    outline=TARGET_OUTLINE,
    min_radius_px: float = 0.5,
) -> np.ndarray:
    """Coloured ``(resolution, resolution, 3)`` uint8 picture of a tree, leaves drawn over the bark.

    Leaves cycle through ``leaf_shades`` by index for a little texture. With ``target`` (a bool mask of any
    square size) its outline is drawn on top, scaled to the picture by nearest-neighbour sampling.
    """
    img = np.empty((resolution, resolution, 3), dtype=np.uint8)
    img[...] = np.asarray(background, dtype=np.uint8)
    _, rows, cols = segment_pixels(segments, resolution, min_radius_px)
    img[rows, cols] = np.asarray(bark, dtype=np.uint8)
    if leaves is not None:
        owner, rows, cols = leaf_pixels(leaves, resolution, min_radius_px)
        shades = np.asarray(leaf_shades, dtype=np.uint8).reshape(-1, 3)
        img[rows, cols] = shades[owner % shades.shape[0]]
    if target is not None:
        big = upscale_mask(target, resolution)
        edge = mask_outline(big)
        # thicken the outline to about 1/128 of the picture so it reads at any size
        for _ in range(max(0, resolution // 128 - 1)):
            edge = _dilate(edge) & big
        img[edge] = np.asarray(outline, dtype=np.uint8)
    return img


def _dilate(mask: np.ndarray) -> np.ndarray:
    m = np.pad(mask, 1)
    return m[1:-1, 1:-1] | m[:-2, 1:-1] | m[2:, 1:-1] | m[1:-1, :-2] | m[1:-1, 2:]


def upscale_mask(mask, resolution: int) -> np.ndarray:
    """Nearest-neighbour resample of a square bool mask to ``(resolution, resolution)``."""
    mask = np.asarray(mask, dtype=bool)
    idx = (np.arange(resolution) * mask.shape[0]) // resolution
    jdx = (np.arange(resolution) * mask.shape[1]) // resolution
    return mask[idx[:, None], jdx[None, :]]


#: Colours of :func:`comparison_picture`: background, only target (missed), only tree (extra), both.
COMPARE_COLOURS = ((250, 250, 250), (160, 195, 245), (235, 140, 40), (30, 70, 170))


def comparison_picture(silhouette, target, resolution: int = 256, colours=COMPARE_COLOURS) -> np.ndarray:
    """Overlap of a silhouette and a target as a ``(resolution, resolution, 3)`` uint8 picture.

    Each pixel is coloured by class: neither, target only (missed), silhouette only (extra), both.
    """
    s = upscale_mask(silhouette, resolution)
    t = upscale_mask(target, resolution)
    cls = t.astype(np.intp) + 2 * s.astype(np.intp)
    return np.asarray(colours, dtype=np.uint8)[cls]
