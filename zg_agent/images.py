"""Pictures for the logger: images checked and converted to ``uint8 H x W x 3``, matplotlib figures rendered
to images, and a strip of an episode's frames."""

from __future__ import annotations

import io
from typing import Iterable

import numpy as np


def to_uint8_image(image, key: str = "image") -> np.ndarray:
    """Validate / convert an image to ``uint8`` ``H x W x 3``.

    Accepts ``uint8`` or float-in-[0, 1] arrays shaped ``H x W`` (grey), ``H x W x 1``, ``H x W x 3`` or
    ``H x W x 4`` (alpha dropped); booleans become black/white.
    """
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] in (1, 3, 4):
        pass
    elif img.ndim == 2:
        img = img[:, :, None]
    else:
        raise ValueError(f"image for {key!r} must be H x W, H x W x 1, H x W x 3 or H x W x 4, "
                         f"got shape {img.shape}")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise ValueError(f"image for {key!r} is empty: shape {img.shape}")
    if img.dtype == np.bool_:
        img = img.astype(np.uint8) * 255
    elif np.issubdtype(img.dtype, np.floating):
        if not np.all(np.isfinite(img)):
            raise ValueError(f"image for {key!r} contains NaN or inf")
        img = np.round(np.clip(img, 0.0, 1.0) * 255.0).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ValueError(f"image for {key!r} must be uint8, bool or float in [0, 1], got dtype {img.dtype}")
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.shape[2] == 4:
        img = img[:, :, :3]
    return np.ascontiguousarray(img)


def figure_to_image(fig) -> np.ndarray:
    """A matplotlib figure -> ``uint8 H x W x 3`` (rendered through PNG, whatever the figure's backend)."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def frame_strip(frames: Iterable, max_frames: int = 8, per_row: int | None = None) -> np.ndarray:
    """Up to ``max_frames`` evenly spaced frames of an episode in one image, each at its own size.

    ``per_row=None`` puts them side by side in one row; ``per_row=k`` lays them out in rows of at most ``k``
    (a grid: 8 frames with ``per_row=4`` give 2 rows of 4), so a long strip of wide frames stays readable.
    Smaller frames are padded with black to the largest; empty cells of the last row stay black."""
    frames = [to_uint8_image(f, "frames") for f in frames]
    if not frames:
        raise ValueError("frames must contain at least one image")
    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    if per_row is not None and per_row < 1:
        raise ValueError(f"per_row must be None or >= 1, got {per_row}")
    idx = np.unique(np.linspace(0, len(frames) - 1, min(max_frames, len(frames))).round().astype(int))
    picked = [frames[i] for i in idx]
    h = max(f.shape[0] for f in picked)
    w = max(f.shape[1] for f in picked)
    cols = len(picked) if per_row is None else min(per_row, len(picked))
    rows = -(-len(picked) // cols)
    if per_row is None:  # one row: only the heights need to agree
        return np.concatenate([np.pad(f, ((0, h - f.shape[0]), (0, 0), (0, 0))) for f in picked], axis=1)
    grid = np.zeros((rows * h, cols * w, 3), np.uint8)
    for k, f in enumerate(picked):
        r, c = divmod(k, cols)
        grid[r * h:r * h + f.shape[0], c * w:c * w + f.shape[1]] = f
    return grid
