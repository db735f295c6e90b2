"""Readable RGB pictures of the shadow environments (for ``render()`` and the docs), not used in ``step()``.

Colour code of every shadow-versus-target image:

* dark blue-grey: shadow where the target wants shadow (correct),
* blue: shadow where the target wants light (extra),
* light orange: target pixels still lit (missing),
* cream: lit and not in the target,
* a red line: the target's outline.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw

from zg_envs.render import annotate
from zg_envs.render.annotate import BACKGROUND, FOOT, HEAD, INK, PAD
from zg_envs.render.shadow import grid_ray_cells

CORRECT = np.array([52, 60, 84], dtype=np.uint8)
EXTRA = np.array([92, 128, 200], dtype=np.uint8)
MISSING = np.array([250, 196, 120], dtype=np.uint8)
LIT = np.array([240, 235, 220], dtype=np.uint8)
OUTLINE = np.array([220, 30, 30], dtype=np.uint8)
OCCLUDER_COLORS = [(70, 130, 200), (90, 170, 110), (200, 140, 60), (150, 100, 190),
                   (60, 170, 170), (200, 90, 140), (120, 120, 60), (100, 100, 210)]


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling of a 2-D or 3-D image by an integer factor."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def outline(mask: np.ndarray, width: int = 2) -> np.ndarray:
    """Pixels of ``mask`` within ``width`` pixels of its border (4-neighbour erosion)."""
    inner = mask.copy()
    for _ in range(width):
        eroded = inner.copy()
        eroded[1:, :] &= inner[:-1, :]
        eroded[:-1, :] &= inner[1:, :]
        eroded[:, 1:] &= inner[:, :-1]
        eroded[:, :-1] &= inner[:, 1:]
        inner = eroded
    return mask & ~inner


def compare_image(shadow: np.ndarray, target: np.ndarray, size: int) -> np.ndarray:
    """Colour-coded shadow versus target, upscaled to about ``size`` pixels, target outline drawn on top."""
    factor = max(1, size // shadow.shape[0])
    img = np.empty(shadow.shape + (3,), dtype=np.uint8)
    img[...] = LIT
    img[shadow & target] = CORRECT
    img[shadow & ~target] = EXTRA
    img[~shadow & target] = MISSING
    big = upscale(img, factor)
    big[outline(upscale(target, factor), width=max(1, factor // 3))] = OUTLINE
    return big


def caster_picture(shadow, target, shapes, centers, sizes, light, extent: float, title: str,
                   panel: int = 256) -> np.ndarray:
    """ShadowCaster picture: the ground seen from above (shadow vs target, occluders outlined, light marked)
    beside a side view (x-z) of the light, the occluders and the shadowed stretch of ground."""
    top = compare_image(shadow, target, panel)
    n = top.shape[0]
    pad, head, foot = PAD, HEAD, FOOT
    canvas = Image.new("RGB", (3 * pad + 2 * n, head + n + foot), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    annotate.title(draw, title)

    # --- top view: occluder footprints and the light
    ox, oy = pad, head
    scale = n / (2.0 * extent)

    def to_top(x, y):
        return ox + (x + extent) * scale, oy + (extent - y) * scale

    annotate.panel(canvas, top, ox, oy, "ground seen from above")
    for i, (shape, c, s) in enumerate(zip(shapes, centers, sizes)):
        px, py = to_top(c[0], c[1])
        rr = s * scale
        color = OCCLUDER_COLORS[i % len(OCCLUDER_COLORS)]
        box = (px - rr, py - rr, px + rr, py + rr)
        outline_fn = draw.ellipse if shape == "sphere" else draw.rectangle
        outline_fn(box, outline=(255, 255, 255), width=4)
        outline_fn(box, outline=color, width=2)
    lx, ly = to_top(light[0], light[1])
    draw.regular_polygon((lx, ly, 7), 4, rotation=45, fill=(250, 200, 30), outline=INK)

    # --- side view (x right, z up)
    sx = 2 * pad + n
    z_top = 1.1 * light[2]
    zs = n / z_top

    def to_side(x, z):
        return sx + (x + extent) * scale, head + n - z * zs

    draw.rectangle((sx, head, sx + n, head + n), fill=(228, 238, 248))
    ground_y = head + n
    draw.rectangle((sx, ground_y - 6, sx + n, ground_y), fill=(200, 185, 160))
    covered = np.flatnonzero(shadow.any(axis=0))
    col_w = n / shadow.shape[1]
    for j in covered:
        draw.rectangle((sx + j * col_w, ground_y - 6, sx + (j + 1) * col_w, ground_y), fill=tuple(CORRECT))
    order = np.argsort([-c[1] for c in centers]) if len(centers) else []
    for i in order:  # far (large y) first
        shape, c, s = shapes[i], centers[i], sizes[i]
        px, pz = to_side(c[0], c[2])
        rr = s * scale
        color = OCCLUDER_COLORS[i % len(OCCLUDER_COLORS)]
        box = (px - rr, pz - rr * zs / scale, px + rr, pz + rr * zs / scale)
        if shape == "sphere":
            draw.ellipse(box, fill=color, outline=INK)
        else:
            draw.rectangle(box, fill=color, outline=INK)
    lx, lz = to_side(light[0], light[2])
    draw.ellipse((lx - 8, lz - 8, lx + 8, lz + 8), fill=(250, 200, 30), outline=INK)
    draw.text((sx, head + n + 3), "side view (x-z)", fill=INK, font=annotate.font(annotate.LABEL_SIZE))
    annotate.legend(draw, pad, head + n + 21, LEGEND)
    return np.asarray(canvas)


#: What each colour of a shadow-versus-target panel means (see the module docstring).
LEGEND = [(CORRECT, "correct shadow"), (EXTRA, "extra shadow"), (MISSING, "missing shadow"),
          (OUTLINE, "target outline")]


@functools.lru_cache(maxsize=4)
def _voxel_view_rays(grid: int, size: int):
    """Orthographic camera looking at the cube [-1, 1]^3 from the lights' side (-x, -y, +z)."""
    view = np.array([1.0, 1.0, -0.8])
    view /= np.linalg.norm(view)
    right = np.cross(view, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, view)
    half = 1.8
    coords = -half + (np.arange(size) + 0.5) * (2 * half / size)
    pix = coords[None, :, None] * right + coords[::-1][:, None, None] * up - 6.0 * view
    cells, axes = grid_ray_cells(pix.reshape(-1, 3), np.broadcast_to(view, (size * size, 3)), grid, t_max=12.0)
    return cells, axes


def voxel_view(occupancy: np.ndarray, size: int = 256) -> np.ndarray:
    """Flat-shaded picture of a bool voxel grid (first occupied cell along each camera ray)."""
    k = occupancy.shape[0]
    cells, axes = _voxel_view_rays(k, size)
    padded = np.zeros(k ** 3 + 1, dtype=bool)
    padded[:-1] = occupancy.ravel()
    hit = padded[cells]
    any_hit = hit.any(axis=1)
    first = hit.argmax(axis=1)
    face = axes[np.arange(len(first)), first]
    shades = np.array([[205, 150, 90], [165, 110, 60], [235, 190, 130], [200, 150, 100]], dtype=np.uint8)
    img = np.empty((size * size, 3), dtype=np.uint8)
    img[:] = (228, 238, 248)
    img[any_hit] = shades[face[any_hit]]
    img = img.reshape(size, size, 3)
    # cube outline for scale: rays that cross the grid but hit nothing are a touch darker
    inside = (cells[:, 0] != k ** 3).reshape(size, size) & ~any_hit.reshape(size, size)
    img[inside] = (212, 224, 236)
    return img


def art_picture(occupancy, shadows, targets, screen_names, title: str, panel: int = 192) -> np.ndarray:
    """ShadowArt picture: the voxel sculpture, then one shadow-versus-target panel per screen."""
    n_screens = len(shadows)
    view = voxel_view(occupancy, size=panel)
    faces = [compare_image(s, t, panel) for s, t in zip(shadows, targets)]
    pad, head, foot = PAD, HEAD, FOOT
    width = pad + (view.shape[1] + pad) + sum(f.shape[1] + pad for f in faces)
    height = head + max([view.shape[0]] + [f.shape[0] for f in faces]) + foot
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    annotate.title(draw, title)
    x = pad
    annotate.panel(canvas, view, x, head, "sculpture")
    x += view.shape[1] + pad
    for i in range(n_screens):
        annotate.panel(canvas, faces[i], x, head, screen_names[i])
        x += faces[i].shape[1] + pad
    annotate.legend(draw, pad, height - 20, LEGEND)
    return np.asarray(canvas)
