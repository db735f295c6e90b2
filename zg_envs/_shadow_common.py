"""Pieces shared by the two shadow environments: target specs, image losses, observation downsampling."""

from __future__ import annotations

import functools
import os
import string

import numpy as np

from zg_envs.targets import glyph_mask, load_image_mask

#: Named shapes accepted as targets, drawn as glyphs of the bundled DejaVu font.
SHAPES = {"disc": "\u25cf", "square": "\u25a0", "triangle": "\u25b2", "star": "\u2605", "heart": "\u2665"}
#: What ``randomize_target=True`` draws from when the target is a glyph or a shape.
GLYPH_POOL = tuple(string.ascii_uppercase) + tuple(SHAPES.values())
LOSSES = ("l1", "iou")
TARGET_HELP = ("'random' (hidden scene from target_seed), 'glyph:<text>' (e.g. 'glyph:A'), one of "
               f"{sorted(SHAPES)}, an image file path, or a 2-D image array")


def target_rng(target_seed: int) -> np.random.Generator:
    """The generator of a hidden target scene. Salted, so that a target is not the same stream of numbers
    as ``action_space.seed(target_seed)`` samples (which would make random actions hit the target)."""
    return np.random.default_rng([int(target_seed), 0x5AD0])


def target_kind(spec, argument: str) -> str:
    """Classify a target spec as ``"random"``, ``"glyph"`` or ``"image"``; ValueError for anything else."""
    if isinstance(spec, str):
        if spec == "random":
            return "random"
        if spec in SHAPES or (spec.startswith("glyph:") and spec[len("glyph:"):].strip()):
            return "glyph"
        if os.path.splitext(spec)[1] or os.path.exists(spec):
            return "image"
        raise ValueError(f"{argument} must be {TARGET_HELP}; got {spec!r}")
    if isinstance(spec, os.PathLike):
        return "image"
    if isinstance(spec, np.ndarray) or isinstance(spec, (list, tuple)) and len(spec) and np.ndim(spec) == 2:
        return "image"
    raise ValueError(f"{argument} must be {TARGET_HELP}; got {type(spec).__name__} {spec!r}")


def glyph_text(spec: str) -> str:
    return SHAPES.get(spec, spec[len("glyph:"):] if spec.startswith("glyph:") else spec)


@functools.lru_cache(maxsize=256)
def cached_glyph(text: str, resolution: int) -> np.ndarray:
    mask = glyph_mask(text, resolution)
    mask.setflags(write=False)
    return mask


def mask_target(spec, resolution: int, argument: str) -> np.ndarray:
    """A fixed bool target mask from a glyph/shape name, an image path or an array."""
    kind = target_kind(spec, argument)
    if kind == "glyph":
        return cached_glyph(glyph_text(spec), resolution)
    if kind == "image":
        return load_image_mask(spec, resolution, argument)
    raise ValueError(f"{argument}: 'random' targets are made by the environment")  # pragma: no cover


def image_losses(mismatch: int, inter: int, union: int, n_pixels: int) -> tuple[float, float]:
    """(l1, iou) from pixel counts: l1 is the fraction of wrong pixels; IoU is 1 when both masks are empty."""
    return mismatch / n_pixels, (inter / union if union else 1.0)

