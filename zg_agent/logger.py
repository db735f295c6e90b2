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

import os
from typing import Iterable

from .images import figure_to_image, frame_strip, to_uint8_image

#: the writers a logger can have
FORMATS = ("tensorboard", "csv", "stdout")


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


__all__ = ["FORMATS", "figure_to_image", "frame_strip", "make_logger", "to_uint8_image"]


def __getattr__(name: str):
    # the logger classes, imported on first use (they pull in stable-baselines3 and torch)
    if name in ("CSVWriter", "Logger", "TensorBoardWriter"):
        from . import log_writers

        return getattr(log_writers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
