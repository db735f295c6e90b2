"""Target images shared by the image-based environments: glyphs and user images.

Hidden-scene targets (drawn from a ``target_seed`` so the optimum is exactly reachable) are made by each
environment from its own generator; this module only turns text and pictures into binary masks.
"""

from __future__ import annotations

import functools
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont


@functools.lru_cache(maxsize=1)
def _font_path() -> str:
    # matplotlib ships DejaVu Sans, so every install has a scalable font; no system font is assumed.
    from matplotlib import font_manager

    return font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight="bold"))


def glyph_mask(text: str, resolution: int, fill: float = 0.8) -> np.ndarray:
    """Render ``text`` (one or a few characters) centred into a ``resolution`` x ``resolution`` bool mask.

    The glyph's bounding box is scaled to cover ``fill`` of the image side, so every glyph uses the canvas
    comparably. Rendering happens at 4x resolution and is box-filtered down for clean edges.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"glyph text must be a non-empty string, got {text!r}")
    big = 4 * resolution
    font = ImageFont.truetype(_font_path(), size=big)
    left, top, right, bottom = font.getbbox(text)
    canvas = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(canvas).text((-left, -top), text, font=font, fill=255)
    scale = fill * big / max(canvas.size)
    w, h = max(1, round(canvas.width * scale)), max(1, round(canvas.height * scale))
    canvas = canvas.resize((w, h), Image.Resampling.LANCZOS)
    full = Image.new("L", (big, big), 0)
    full.paste(canvas, ((big - w) // 2, (big - h) // 2))
    small = full.resize((resolution, resolution), Image.Resampling.BOX)
    return np.asarray(small) >= 128


def load_image_mask(source, resolution: int, argument: str = "target") -> np.ndarray:
    """Turn a user image (a file path or an array) into a ``resolution`` x ``resolution`` bool mask.

    Dark pixels are "in" the mask (a silhouette drawn in black on white), unless the image is mostly dark,
    in which case bright pixels are (a white shape on black). Colour images are converted to luminance;
    an alpha channel, when present, is used as the mask directly.

    Raises ``ValueError`` naming ``argument`` when the file cannot be read or the array is not an image.
    """
    if isinstance(source, (str, os.PathLike)):
        try:
            with Image.open(source) as img:
                img.load()
                image = img.copy()
        except (OSError, ValueError) as err:
            raise ValueError(f"{argument}: cannot read image file {os.fspath(source)!r}: {err}") from err
        if image.mode in ("RGBA", "LA") or "transparency" in image.info:
            alpha = np.asarray(image.convert("RGBA"))[..., 3]
            if alpha.min() < 128 <= alpha.max():
                return _resize_mask(alpha >= 128, resolution)
        gray = np.asarray(image.convert("L"), dtype=np.float64) / 255.0
    else:
        arr = np.asarray(source)
        if arr.ndim == 3 and arr.shape[-1] in (3, 4):
            arr = arr[..., :3].astype(np.float64).mean(axis=-1)
        if arr.ndim != 2 or arr.size == 0 or not np.issubdtype(arr.dtype, np.number) and arr.dtype != bool:
            raise ValueError(
                f"{argument}: an image array must be 2-D (H, W) or (H, W, 3|4) and numeric, "
                f"got shape {arr.shape} and dtype {arr.dtype}"
            )
        arr = arr.astype(np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{argument}: the image array contains NaN or inf")
        if arr.dtype == bool or (arr.min() >= 0.0 and arr.max() <= 1.0 and set(np.unique(arr)) <= {0.0, 1.0}):
            return _resize_mask(arr > 0.5, resolution)  # already a mask: 1 means "in"
        lo, hi = arr.min(), arr.max()
        gray = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
    dark = gray < 0.5
    mask = dark if dark.mean() <= 0.5 else ~dark
    return _resize_mask(mask, resolution)


def _resize_mask(mask: np.ndarray, resolution: int) -> np.ndarray:
    if mask.shape == (resolution, resolution):
        return mask.copy()
    img = Image.fromarray(mask.astype(np.uint8) * 255).resize((resolution, resolution), Image.Resampling.BOX)
    return np.asarray(img) >= 128
