"""Titles, panel labels and colour legends for the environments' ``rgb_array`` pictures (Pillow).

Shared by :mod:`zg_envs.render.shadow_view` and :mod:`zg_envs.render.tree_view`, so every env's picture
has the same look: a title line at the top, a caption under each panel, and a row of colour swatches
explaining every colour a panel uses.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (250, 250, 247)
INK = (30, 30, 30)
#: Layout used by every picture: outer padding, title band height, caption + legend band height.
PAD, HEAD, FOOT = 12, 30, 42
TITLE_SIZE, LABEL_SIZE, LEGEND_SIZE = 15, 13, 12
_LEGEND_ROW = 18  # pixels per legend row


@functools.lru_cache(maxsize=4)
def font(size: int):
    """DejaVu Sans (shipped with matplotlib) at ``size`` px, or Pillow's built-in font without it."""
    try:
        from matplotlib import font_manager

        path = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"))
        return ImageFont.truetype(path, size=size)
    except Exception:  # pragma: no cover - any Pillow can still draw with its built-in font
        return ImageFont.load_default()


def title(draw: ImageDraw.ImageDraw, text: str, x: int = PAD, y: int = 7) -> None:
    """The picture's title line."""
    draw.text((x, y), text, fill=INK, font=font(TITLE_SIZE))


def panel(canvas: Image.Image, image: np.ndarray, x: int, y: int, label: str) -> None:
    """Paste ``image`` with its top-left corner at ``(x, y)`` and write ``label`` under it."""
    canvas.paste(Image.fromarray(image), (x, y))
    ImageDraw.Draw(canvas).text((x, y + image.shape[0] + 3), label, fill=INK, font=font(LABEL_SIZE))


def _legend_positions(items, width: int | None) -> list[tuple[int, int]]:
    """(x offset, row) of each legend item, starting a new row when ``width`` pixels would be exceeded."""
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    out, x, row = [], 0, 0
    for _, text in items:
        w = 15 + int(probe.textlength(text, font=font(LEGEND_SIZE)))
        if width is not None and x > 0 and x + w > width:
            x, row = 0, row + 1
        out.append((x, row))
        x += w + 15
    return out


def legend_height(items, width: int | None = None) -> int:
    """Height in pixels of :func:`legend` for these items within ``width`` (one row when None)."""
    rows = 1 + max((row for _, row in _legend_positions(items, width)), default=0)
    return rows * _LEGEND_ROW


def legend(draw: ImageDraw.ImageDraw, x: int, y: int, items, width: int | None = None) -> None:
    """A colour swatch and a caption per ``(rgb, text)`` item, left to right, wrapped within ``width``."""
    for (color, text), (dx, row) in zip(items, _legend_positions(items, width)):
        sx, sy = x + dx, y + row * _LEGEND_ROW
        draw.rectangle((sx, sy + 2, sx + 11, sy + 13), fill=tuple(int(v) for v in color), outline=INK)
        draw.text((sx + 15, sy), text, fill=INK, font=font(LEGEND_SIZE))
