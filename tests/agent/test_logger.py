"""Logger and writers: TensorBoard events read back with tensorboard's reader, growing CSV header, stdout
table, resume purging, and bad input."""

import csv
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from zg_agent.log_writers import CSVWriter, Logger, stdout_writer  # noqa: E402
from zg_agent.logger import frame_strip, make_logger, to_uint8_image  # noqa: E402
from zg_agent.tables import markdown_table  # noqa: E402


def _events(run_dir):
    ea = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    ea.Reload()
    return ea


def _read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert len({len(r) for r in rows}) == 1, "every CSV row must have as many cells as the header"
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def test_tensorboard_holds_scalars_images_figures_text_and_hparams(tmp_path):
    out = io.StringIO()
    logger = make_logger(tmp_path, stream=out)
    logger.record("eval/mean_reward", -120.5)
    logger.record("time/fps", np.float32(900.0))
    logger.record_image("eval/render", np.full((6, 10, 3), 200, np.uint8))
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=50)
    ax.plot([0, 1], [1, 0])
    logger.record_figure("zerograds/slice", fig, close=True)
    logger.record_text("hyperparameters", markdown_table({"lr": 0.1, "policy": {"kind": "linear"}}))
    logger.record_hparams({"lr": 0.1, "algo": "zerograds", "hidden": (8, 8)}, {"eval/mean_reward": None})
    logger.dump(step=100)
    logger.record("eval/mean_reward", -80.0)
    logger.record("rollout/ep_rew_mean", -90.0)
    logger.dump(step=250)
    logger.close()

    ea = _events(tmp_path)
    tags = ea.Tags()
    assert {"eval/mean_reward", "time/fps", "rollout/ep_rew_mean"} <= set(tags["scalars"])
    assert [(e.step, e.value) for e in ea.Scalars("eval/mean_reward")] == [(100, -120.5), (250, -80.0)]
    assert [(e.step, e.value) for e in ea.Scalars("rollout/ep_rew_mean")] == [(250, -90.0)]
    assert set(tags["images"]) == {"eval/render", "zerograds/slice"}
    render = ea.Images("eval/render")[0]
    assert (render.step, render.width, render.height) == (100, 10, 6)
    slice_img = ea.Images("zerograds/slice")[0]
    assert (slice_img.width, slice_img.height) == (100, 75)
    assert "hyperparameters/text_summary" in tags["tensors"]
    text = ea.Tensors("hyperparameters/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| lr | 0.1 |" in text and "| policy.kind | linear |" in text
    hp = ea.PluginTagToContent("hparams")
    assert {"_hparams_/experiment", "_hparams_/session_start_info"} <= set(hp)
    assert b"zerograds" in hp["_hparams_/session_start_info"]
    assert b"eval/mean_reward" in hp["_hparams_/experiment"]

    # the same records in the CSV and the stdout table
    header, rows = _read_csv(tmp_path / "progress.csv")
    assert header[0] == "step" and rows[0]["eval/mean_reward"] == "-120.5"
    printed = out.getvalue()  # SB3's table: keys grouped under their prefix, numbers to 3 digits
    assert "| eval/" in printed and "mean_reward" in printed and "-120" in printed and "-80" in printed
    assert "hyperparameters" not in printed and "render" not in printed  # pictures and text: TensorBoard only
    assert "hyperparameters" not in header and "eval/render" not in header


def test_csv_header_grows_and_file_stays_valid(tmp_path):
    path = tmp_path / "sub" / "progress.csv"
    logger = Logger([CSVWriter(str(path))])
    logger.record("a", 1.0)
    logger.dump(10)
    logger.record("a", 2.0)
    logger.dump(20)
    logger.record("b", 3.5)  # a new key: header rewritten, earlier rows get empty cells
    logger.dump(30)
    logger.record("a", 4.0)
    logger.record("b", float("nan"))
    logger.dump(40)
    logger.close()
    header, rows = _read_csv(path)
    assert header == ["step", "a", "b"]
    assert [r["step"] for r in rows] == ["10", "20", "30", "40"]
    assert [r["a"] for r in rows] == ["1.0", "2.0", "", "4.0"]
    assert [r["b"] for r in rows] == ["", "", "3.5", "nan"]


def test_resume_drops_what_was_logged_after_the_checkpoint(tmp_path):
    logger = make_logger(tmp_path, formats=("tensorboard", "csv"))
    for step in (100, 200, 300):
        logger.record("eval/mean_reward", -step)
        logger.dump(step)
    logger.close()
    # killed after the checkpoint at step 200: the resumed run logs step 300 again
    logger = make_logger(tmp_path, formats=("tensorboard", "csv"), resume_step=200)
    logger.record("eval/mean_reward", 1.0)
    logger.record("time/fps", 5.0)
    logger.dump(300)
    logger.close()
    header, rows = _read_csv(tmp_path / "progress.csv")
    assert [(r["step"], r["eval/mean_reward"]) for r in rows] == [("100", "-100.0"), ("200", "-200.0"),
                                                                  ("300", "1.0")]
    assert header == ["step", "eval/mean_reward", "time/fps"]
    ea = _events(tmp_path)
    points = [(e.step, e.value) for e in ea.Scalars("eval/mean_reward")]
    assert points == [(100, -100.0), (200, -200.0), (300, 1.0)]


def test_stdout_writer_prints_a_table_per_dump():
    out = io.StringIO()
    logger = Logger([stdout_writer(out)])
    logger.record("train/loss", 0.123456789)
    logger.record("time/fps", 1000)
    logger.dump(7)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("---") and lines[-1].startswith("---")
    assert any("loss" in ln and "0.123" in ln for ln in lines)
    assert any("fps" in ln and "1e+03" in ln for ln in lines)
    # nothing recorded since: the next dump prints no table
    logger.dump(8)
    assert out.getvalue().count("loss") == 1


def test_image_helpers():
    np.testing.assert_array_equal(to_uint8_image(np.ones((2, 3)))[..., 1], 255)
    assert to_uint8_image(np.zeros((2, 3, 4), np.uint8)).shape == (2, 3, 3)
    assert to_uint8_image(np.zeros((2, 3), bool)).dtype == np.uint8
    strip = frame_strip([np.full((4, 5, 3), i, np.uint8) for i in range(20)], max_frames=4)
    assert strip.shape == (4, 20, 3)
    assert strip[0, 0, 0] == 0 and strip[0, -1, 0] == 19
    # a long strip is laid out in rows of at most per_row frames, each at its own size
    frames = [np.full((4, 5, 3), i + 1, np.uint8) for i in range(8)]
    grid = frame_strip(frames, max_frames=8, per_row=4)
    assert grid.shape == (8, 20, 3)
    assert [grid[0, 5 * c, 0] for c in range(4)] == [1, 2, 3, 4]
    assert [grid[4, 5 * c, 0] for c in range(4)] == [5, 6, 7, 8]
    grid = frame_strip(frames[:6], per_row=4)  # 4 + 2: the empty cells of the last row are black
    assert grid.shape == (8, 20, 3) and grid[4:, 10:].max() == 0 and grid[4, 5, 0] == 6
    assert frame_strip(frames[:3], per_row=4).shape == (4, 15, 3)  # fewer frames than a row: one row
    with pytest.raises(ValueError, match="per_row"):
        frame_strip(frames, per_row=0)
    table = markdown_table({"a|b": 1})
    assert table.splitlines()[0] == "| parameter | value |" and "a\\|b" in table


def test_bad_input_is_a_clear_error(tmp_path):
    logger = make_logger(tmp_path, formats=("csv",))
    with pytest.raises(ValueError, match="value for 'x' must be a real number"):
        logger.record("x", "fast")
    with pytest.raises(ValueError, match="key must be a non-empty string"):
        logger.record("", 1.0)
    with pytest.raises(ValueError, match="image for 'img' must be"):
        logger.record_image("img", np.zeros((2, 3, 5), np.uint8))
    with pytest.raises(ValueError, match="dtype int64"):
        logger.record_image("img", np.zeros((2, 3, 3), np.int64))
    with pytest.raises(ValueError, match="markdown for 't' must be a string"):
        logger.record_text("t", 3)
    with pytest.raises(ValueError, match="step must be a non-negative integer"):
        logger.dump(-1)
    with pytest.raises(ValueError, match=r"formats must be drawn from \['tensorboard', 'csv', 'stdout'\]"):
        make_logger(tmp_path, formats=("wandb",))
    with pytest.raises(ValueError, match="writers must be stable-baselines3 KVWriter instances"):
        Logger([object()])
    logger.close()
    with pytest.raises(RuntimeError, match="closed"):
        logger.dump(1)
