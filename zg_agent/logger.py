"""One logger for every algorithm: stable-baselines3's ``Logger`` (algorithms record key/value pairs, then
``dump(step)``) with this project's writers; PPO's model logs into the same object.

Usage::

    logger = make_logger("runs/my_run")                    # TensorBoard + progress.csv + stdout table
    logger.record("eval/mean_reward", -150.0)
    logger.record_image("eval/render", image_uint8_hwc)
    logger.dump(step=env_steps)                             # everything since the last dump, at x = env steps
    logger.close()

Writers (:mod:`zg_agent.log_writers`; each ignores what it cannot show): TensorBoard events (scalars,
images, text, the hparams-plugin entry); ``progress.csv`` (scalars, one row per dump; a new key rewrites the
file with the wider header, so it is a valid CSV at every moment); SB3's own stdout table.

Resuming: ``make_logger(run_dir, resume_step=S)`` drops what a killed run logged after step ``S`` (its last
checkpoint) - TensorBoard events through ``purge_step = S + 1``, CSV rows by rewriting - so the resumed
curve continues the uninterrupted one without duplicates.

This module stays light (no SB3 or torch import) so that the config can read :data:`FORMATS`; the logger
classes are imported when a logger is made.
"""

from __future__ import annotations

import io
import os
from typing import Iterable

import numpy as np


FORMATS = ("tensorboard", "csv", "stdout")


# ---------------------------------------------------------------------------------------------- helpers
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


def make_logger(run_dir: str, formats: Iterable[str] = FORMATS, resume_step: int | None = None,
                stream=None):
    """A :class:`~zg_agent.log_writers.Logger` writing into ``run_dir``: TensorBoard events in ``run_dir``
    itself, ``progress.csv`` and SB3's stdout table (``formats`` picks).

    Args:
        run_dir: the run folder (created).
        formats: any of ``"tensorboard"``, ``"csv"``, ``"stdout"``.
        resume_step: when resuming, the step of the checkpoint; whatever the interrupted run logged after
            it is dropped (TensorBoard ``purge_step``, CSV rows).
        stream: where ``"stdout"`` writes (default ``sys.stdout``).
    """
    from .log_writers import CSVWriter, Logger, TensorBoardWriter, stdout_writer

    formats = list(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"formats must be drawn from {list(FORMATS)}, got unknown {unknown}")
    os.makedirs(run_dir, exist_ok=True)
    writers = []
    for f in formats:
        if f == "tensorboard":
            writers.append(TensorBoardWriter(str(run_dir), purge_step=None if resume_step is None else resume_step + 1))
        elif f == "csv":
            writers.append(CSVWriter(os.path.join(run_dir, "progress.csv"), resume_step=resume_step))
        else:
            writers.append(stdout_writer(stream))
    return Logger(writers)


def __getattr__(name: str):
    # the logger classes, imported on first use (they pull in stable-baselines3 and torch)
    if name in ("CSVWriter", "Logger", "TensorBoardWriter"):
        from . import log_writers

        return getattr(log_writers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
