"""The run logger: stable-baselines3's ``Logger`` with input checks and helpers for pictures, text and
hparams, and this project's two writers, TensorBoard and CSV, both of which drop what a killed run logged
after its checkpoint when they are opened for a resume. Made by :func:`zg_agent.logger.make_logger`."""

from __future__ import annotations

import csv
import os
import sys
from typing import Any, Callable

import numpy as np
from stable_baselines3.common.logger import HParam, HumanOutputFormat, Image, KVWriter
from stable_baselines3.common.logger import Logger as SB3Logger

from .images import figure_to_image, to_uint8_image
from .tables import flatten_dict
from .validation import check_non_empty_str

#: what a picture, a text or an hparams entry is kept from (they are for TensorBoard only)
_NOT_SCALARS = ("stdout", "log", "csv", "json")


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _to_float(key: str, value) -> float:
    if hasattr(value, "item") and callable(value.item) and np.size(value) == 1:
        value = value.item()
    if not _is_number(value):
        raise ValueError(f"value for {key!r} must be a real number, got {value!r}")
    return float(value)


def _included(key_values: dict, key_excluded: dict, fmt: str):
    for key, value in key_values.items():
        excluded = key_excluded.get(key) or ()
        if fmt not in excluded:
            yield key, value


class Logger(SB3Logger):
    """SB3's ``Logger``: ``record`` keeps the last value of a key, ``dump(step)`` hands everything recorded
    since the last dump to every writer. Numbers are checked; pictures, text and hparams have their own
    ``record_*``. ``before_dump(logger, step)``, when set, runs first at every dump (PPO adds its run-wide
    ``time/*`` there)."""

    def __init__(self, writers: list[KVWriter]):
        writers = list(writers)
        for w in writers:
            if not isinstance(w, KVWriter):
                raise ValueError(f"writers must be stable-baselines3 KVWriter instances, got {type(w).__name__}")
        super().__init__(folder=None, output_formats=writers)
        self.before_dump: Callable[[Logger, int], None] | None = None
        self._closed = False

    def record(self, key: str, value: Any, exclude: str | tuple[str, ...] | None = None) -> None:
        """A number, e.g. ``record("eval/mean_reward", -150.0)``; the last value before a dump wins."""
        key = check_non_empty_str("key", key)
        super().record(key, _to_float(key, value), exclude)

    def record_image(self, key: str, image) -> None:
        """An image (``uint8 H x W x 3``; see :func:`~zg_agent.images.to_uint8_image` for what else is accepted)."""
        key = check_non_empty_str("key", key)
        super().record(key, Image(to_uint8_image(image, key), "HWC"), exclude=_NOT_SCALARS)

    def record_figure(self, key: str, fig, close: bool = False) -> None:
        """A matplotlib figure, rendered now to an image (``close=True`` also closes the figure)."""
        self.record_image(key, figure_to_image(fig))
        if close:
            import matplotlib.pyplot as plt

            plt.close(fig)

    def record_text(self, key: str, markdown: str) -> None:
        """Markdown text (TensorBoard's Text tab renders tables)."""
        key = check_non_empty_str("key", key)
        if not isinstance(markdown, str):
            raise ValueError(f"markdown for {key!r} must be a string, got {type(markdown).__name__}")
        super().record(key, markdown, exclude=_NOT_SCALARS)

    def record_hparams(self, hparams: dict, metrics: dict) -> None:
        """An entry of TensorBoard's HPARAMS plugin: ``hparams`` (nested dicts flattened; values that are not
        bool/int/float/str are shown as strings) and the metric tags it shows (``{"eval/mean_reward": None}``;
        a number is also recorded as that tag's scalar)."""
        if not isinstance(hparams, dict) or not isinstance(metrics, dict) or not metrics:
            raise ValueError("hparams must be a dict and metrics a non-empty dict of metric tags")
        clean = {k: v.item() if isinstance(v, (np.integer, np.floating)) else
                 v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in flatten_dict(hparams).items()}
        for k, v in metrics.items():
            if v is not None:
                self.record(k, v)
        super().record("hparams/entry", HParam(clean, {check_non_empty_str("metric", k): 0.0 for k in metrics}),
                    exclude=_NOT_SCALARS)

    def dump(self, step: int = 0) -> None:
        """Write everything recorded since the last dump at x = ``step`` (env steps) and clear it."""
        if self._closed:
            raise RuntimeError("the logger is closed")
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        if self.before_dump is not None:
            self.before_dump(self, int(step))
        if not self.name_to_value:  # nothing recorded: no empty row or table
            return
        super().dump(int(step))

    def close(self) -> None:
        """Close every writer (idempotent). Records not yet dumped are dropped."""
        if not self._closed:
            self._closed = True
            super().close()


class TensorBoardWriter(KVWriter):
    """TensorBoard event files in ``log_dir`` (``torch.utils.tensorboard.SummaryWriter``): scalars, images,
    text and the hparams-plugin entry.

    Args:
        log_dir: folder of the event files (created).
        purge_step: on resume, TensorBoard hides events of earlier files with ``step >= purge_step``.
    """

    def __init__(self, log_dir: str, purge_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        os.makedirs(log_dir, exist_ok=True)
        self.log_dir = log_dir
        self.writer = SummaryWriter(log_dir=log_dir, purge_step=purge_step)

    def write(self, key_values, key_excluded, step: int = 0) -> None:
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        for key, value in _included(key_values, key_excluded, "tensorboard"):
            if isinstance(value, str):
                self.writer.add_text(key, value, global_step=step)
            elif isinstance(value, Image):
                self.writer.add_image(key, value.image, global_step=step, dataformats=value.dataformats)
            elif isinstance(value, HParam):
                # into this run's own event file (SummaryWriter.add_hparams would open a sub-run instead)
                for summary in hparams_summary(value.hparam_dict, value.metric_dict):
                    self.writer.file_writer.add_summary(summary)
            elif _is_number(value):
                self.writer.add_scalar(key, value, global_step=step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class CSVWriter(KVWriter):
    """Scalars to a CSV file, one row per dump, first column ``step``.

    Columns are keys in order of first appearance. When a dump brings a new key, the file is rewritten with
    the wider header (earlier rows get empty cells), so the file is a valid CSV at every moment.

    Args:
        path: the CSV file (parent folders are created).
        resume_step: ``None`` starts a fresh file; an integer keeps an existing file's rows with
            ``step <= resume_step`` and appends after them.
    """

    def __init__(self, path: str, resume_step: int | None = None):
        self.path = str(path)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self.fields: list[str] = ["step"]
        rows: list[dict] = []
        if resume_step is not None and os.path.exists(self.path):
            with open(self.path, newline="") as f:
                reader = csv.DictReader(f)
                self.fields = list(reader.fieldnames or ["step"])
                rows = [r for r in reader
                        if r.get("step") not in (None, "") and float(r["step"]) <= resume_step]
        self._rewrite(rows)

    def _rewrite(self, rows: list[dict]) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.fields, restval="")
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, self.path)

    def write(self, key_values, key_excluded, step: int = 0) -> None:
        scalars = {k: v for k, v in _included(key_values, key_excluded, "csv") if _is_number(v)}
        if not scalars:
            return
        new = [k for k in scalars if k not in self.fields]
        row = {"step": int(step), **{k: repr(float(v)) for k, v in scalars.items()}}
        if new:
            with open(self.path, newline="") as f:
                rows = list(csv.DictReader(f))
            self.fields.extend(new)
            self._rewrite(rows + [row])
        else:
            with open(self.path, "a", newline="") as f:
                csv.DictWriter(f, fieldnames=self.fields, restval="").writerow(row)

    def close(self) -> None:
        pass


def stdout_writer(stream=None) -> HumanOutputFormat:
    """SB3's table of the scalars of each dump, on ``stream`` (default ``sys.stdout``)."""
    return HumanOutputFormat(stream if stream is not None else sys.stdout)
