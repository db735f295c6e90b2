"""One logger, swappable writers: algorithms record key/value pairs, writers decide where they go.

Usage (the pattern of stable-baselines3's logger)::

    logger = make_logger("runs/my_run")                    # TensorBoard + progress.csv + stdout table
    logger.record("eval/mean_reward", -150.0)
    logger.record_image("eval/render", image_uint8_hwc)
    logger.dump(step=env_steps)                             # everything since the last dump, at x = env steps
    logger.close()

Writers (each ignores what it cannot show):

* :class:`TensorBoardWriter` - scalars, images, figures, text and the hparams-plugin entry, through
  ``torch.utils.tensorboard.SummaryWriter``;
* :class:`CSVWriter` - scalars, one row per dump; when a new key appears the file is rewritten with the
  wider header, so it always stays a valid CSV;
* :class:`StdoutWriter` - scalars as a table.

Resuming: ``make_logger(run_dir, resume_step=S)`` drops what a killed run logged after step ``S`` (its last
checkpoint) - TensorBoard events through ``purge_step = S + 1``, CSV rows by rewriting - so the resumed
curve continues the uninterrupted one without duplicates.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
from typing import Any, Iterable

import numpy as np

from .validation import check_non_empty_str

FORMATS = ("tensorboard", "csv", "stdout")


# ---------------------------------------------------------------------------------------------- helpers
def _check_key(key) -> str:
    return check_non_empty_str("key", key)


def _to_float(key: str, value) -> float:
    if hasattr(value, "item") and callable(value.item) and np.size(value) == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"value for {key!r} must be a real number, got {value!r}")
    return float(value)


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


def _md_cell(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(params: dict, header: tuple[str, str] = ("Parameter", "Value")) -> str:
    """A two-column Markdown table of ``params`` (nested dicts flattened with ``/``)."""
    rows = [f"| {header[0]} | {header[1]} |", "| --- | --- |"]
    for k, v in flatten_dict(params).items():
        rows.append(f"| {_md_cell(k)} | {_md_cell(v)} |")
    return "\n".join(rows)


def flatten_dict(d: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}} -> {"a/b": 1}``."""
    out = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_dict(v, name + "/"))
        else:
            out[name] = v
    return out


def _format_value(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        return str(v)
    if v == int(v) and abs(v) < 1e12:
        return str(int(v))
    return f"{v:.5g}"


# ---------------------------------------------------------------------------------------------- writers
class Writer:
    """Base writer: every method is optional; a writer ignores what it cannot show."""

    def write_scalars(self, scalars: dict[str, float], step: int) -> None:
        pass

    def write_image(self, key: str, image: np.ndarray, step: int) -> None:
        pass

    def write_text(self, key: str, text: str, step: int) -> None:
        pass

    def write_hparams(self, hparams: dict, metrics: dict, step: int) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class TensorBoardWriter(Writer):
    """TensorBoard event files in ``log_dir`` (``torch.utils.tensorboard.SummaryWriter``).

    Args:
        log_dir: folder of the event files (created).
        purge_step: on resume, TensorBoard hides events of earlier files with ``step >= purge_step``.
    """

    def __init__(self, log_dir: str, purge_step: int | None = None):
        from torch.utils.tensorboard import SummaryWriter

        os.makedirs(log_dir, exist_ok=True)
        self.log_dir = log_dir
        self._w = SummaryWriter(log_dir=log_dir, purge_step=purge_step)

    def write_scalars(self, scalars, step):
        for k, v in scalars.items():
            self._w.add_scalar(k, v, global_step=step)

    def write_image(self, key, image, step):
        self._w.add_image(key, image, global_step=step, dataformats="HWC")

    def write_text(self, key, text, step):
        self._w.add_text(key, text, global_step=step)

    def write_hparams(self, hparams, metrics, step):
        # Written into this run's own event file (SummaryWriter.add_hparams would open a sub-run instead).
        from torch.utils.tensorboard.summary import hparams as hparams_summary

        clean = {}
        for k, v in flatten_dict(hparams).items():
            if isinstance(v, (bool, int, float, str)):
                clean[k] = v
            elif isinstance(v, (np.integer, np.floating)):
                clean[k] = v.item()
            else:
                clean[k] = str(v)
        metric_tags = {k: 0.0 for k in metrics}
        exp, ssi, sei = hparams_summary(clean, metric_tags)
        fw = self._w._get_file_writer()
        for summary in (exp, ssi, sei):
            fw.add_summary(summary)
        for k, v in metrics.items():
            if v is not None:
                self._w.add_scalar(k, v, global_step=step)

    def flush(self):
        self._w.flush()

    def close(self):
        self._w.close()


class CSVWriter(Writer):
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

    def _read_rows(self) -> list[dict]:
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))

    def write_scalars(self, scalars, step):
        if not scalars:
            return
        new = [k for k in scalars if k not in self.fields]
        row = {"step": int(step), **{k: repr(float(v)) for k, v in scalars.items()}}
        if new:
            rows = self._read_rows()
            self.fields.extend(new)
            rows.append(row)
            self._rewrite(rows)
        else:
            with open(self.path, "a", newline="") as f:
                csv.DictWriter(f, fieldnames=self.fields, restval="").writerow(row)


class StdoutWriter(Writer):
    """Scalars as a two-column table (one per dump) on ``stream`` (default ``sys.stdout``); images and
    figures are listed by key and size, text by key."""

    def __init__(self, stream=None):
        self.stream = stream

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def write_scalars(self, scalars, step):
        rows = [("step", str(int(step)))] + [(k, _format_value(v)) for k, v in sorted(scalars.items())]
        kw = max(len(k) for k, _ in rows)
        vw = max(len(v) for _, v in rows)
        line = "-" * (kw + vw + 7)
        text = [line] + [f"| {k:<{kw}} | {v:>{vw}} |" for k, v in rows] + [line]
        print("\n".join(text), file=self._out(), flush=True)

    def write_image(self, key, image, step):
        print(f"[step {int(step)}] image {key}: {image.shape[1]}x{image.shape[0]}", file=self._out(),
              flush=True)

    def write_text(self, key, text, step):
        print(f"[step {int(step)}] text {key} ({len(text)} characters)", file=self._out(), flush=True)


# ---------------------------------------------------------------------------------------------- logger
class Logger:
    """Collects records between dumps and hands them to every writer at :meth:`dump`.

    ``record`` keeps the last value of a key since the previous dump. ``latest`` holds the scalars of the
    last dump (handy for progress bars).
    """

    def __init__(self, writers: list[Writer]):
        writers = list(writers)
        for w in writers:
            if not isinstance(w, Writer):
                raise ValueError(f"writers must be Writer instances, got {type(w).__name__}")
        self.writers = writers
        self.latest: dict[str, float] = {}
        self._scalars: dict[str, float] = {}
        self._images: dict[str, np.ndarray] = {}
        self._texts: dict[str, str] = {}
        self._hparams: tuple[dict, dict] | None = None
        self._closed = False

    def record(self, key: str, value: float) -> None:
        """A scalar, e.g. ``record("eval/mean_reward", -150.0)``; the last value before a dump wins."""
        key = _check_key(key)
        self._scalars[key] = _to_float(key, value)

    def record_dict(self, values: dict[str, Any], prefix: str = "") -> None:
        """``record(prefix + k, v)`` for every real-valued item (others are skipped)."""
        for k, v in values.items():
            try:
                self.record(f"{prefix}{k}", v)
            except ValueError:
                continue

    def record_image(self, key: str, image) -> None:
        """An image (``uint8 H x W x 3``; see :func:`to_uint8_image` for what else is accepted)."""
        key = _check_key(key)
        self._images[key] = to_uint8_image(image, key)

    def record_figure(self, key: str, fig, close: bool = False) -> None:
        """A matplotlib figure, rendered now to an image (``close=True`` also closes the figure)."""
        key = _check_key(key)
        self._images[key] = figure_to_image(fig)
        if close:
            import matplotlib.pyplot as plt

            plt.close(fig)

    def record_text(self, key: str, markdown: str) -> None:
        """Markdown text (TensorBoard's Text tab renders tables), e.g. ``markdown_table(config)``."""
        key = _check_key(key)
        if not isinstance(markdown, str):
            raise ValueError(f"markdown for {key!r} must be a string, got {type(markdown).__name__}")
        self._texts[key] = markdown

    def record_hparams(self, hparams: dict, metrics: dict) -> None:
        """An entry of TensorBoard's HPARAMS plugin.

        Args:
            hparams: hyperparameters (nested dicts are flattened with ``/``; values that are not
                bool/int/float/str are shown as strings).
            metrics: metric tags the plugin should show (e.g. ``{"eval/mean_reward": None}``). A ``None``
                value only references a tag logged elsewhere; a number is also written as a scalar of that
                tag at the dump step.
        """
        if not isinstance(hparams, dict) or not isinstance(metrics, dict):
            raise ValueError("hparams and metrics must be dicts")
        clean_metrics = {_check_key(k): (None if v is None else _to_float(k, v)) for k, v in metrics.items()}
        self._hparams = (dict(hparams), clean_metrics)

    def dump(self, step: int) -> None:
        """Write everything recorded since the last dump at x = ``step`` (env steps) and clear it."""
        if self._closed:
            raise RuntimeError("the logger is closed")
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise ValueError(f"step must be a non-negative integer, got {step!r}")
        step = int(step)
        for w in self.writers:
            if self._scalars:
                w.write_scalars(dict(self._scalars), step)
            for k, img in self._images.items():
                w.write_image(k, img, step)
            for k, text in self._texts.items():
                w.write_text(k, text, step)
            if self._hparams is not None:
                w.write_hparams(self._hparams[0], self._hparams[1], step)
            w.flush()
        if self._scalars:
            self.latest = dict(self._scalars)
        self._scalars, self._images, self._texts, self._hparams = {}, {}, {}, None

    def close(self) -> None:
        """Close every writer (idempotent). Records not yet dumped are dropped."""
        if self._closed:
            return
        self._closed = True
        for w in self.writers:
            w.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_logger(run_dir: str, formats: Iterable[str] = FORMATS, resume_step: int | None = None,
                stream=None) -> Logger:
    """A :class:`Logger` writing into ``run_dir``: TensorBoard events in ``run_dir`` itself, ``progress.csv``,
    and a stdout table.

    Args:
        run_dir: the run folder (created).
        formats: any of ``"tensorboard"``, ``"csv"``, ``"stdout"``.
        resume_step: when resuming, the step of the checkpoint; whatever the interrupted run logged after
            it is dropped (TensorBoard ``purge_step``, CSV rows).
        stream: where ``"stdout"`` writes (default ``sys.stdout``).
    """
    formats = list(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"formats must be drawn from {list(FORMATS)}, got unknown {unknown}")
    os.makedirs(run_dir, exist_ok=True)
    writers: list[Writer] = []
    for f in formats:
        if f == "tensorboard":
            purge = None if resume_step is None else resume_step + 1
            writers.append(TensorBoardWriter(run_dir, purge_step=purge))
        elif f == "csv":
            writers.append(CSVWriter(os.path.join(run_dir, "progress.csv"), resume_step=resume_step))
        else:
            writers.append(StdoutWriter(stream))
    return Logger(writers)
