"""Smoke runs of the benchmark scripts with tiny sizes: they run, and write what they promise."""

import importlib.util
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_optimizers_writes_a_table_and_keeps_the_reading(tmp_path):
    bench = load("bench_optimizers")
    out = tmp_path / "optimizers.md"
    out.write_text("old table\n\n## Reading\n\nA person's reading.\n")
    assert bench.main(["--quick", "--only", "toy-1d", "--seeds", "2", "--budget-scale", "0.05",
                       "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# Optimizer benchmark")
    assert "Command: `python scripts/bench_optimizers.py --quick --only toy-1d" in text
    for method in ("zerograds", "es", "cma", "random"):
        assert f"| toy-1d | 1 | 200 | {method} |" in text
    assert "old table" not in text and text.rstrip().endswith("A person's reading.")


@pytest.mark.parametrize("bad", [["--methods", "adam"], ["--seeds", "0"]])
def test_bench_optimizers_refuses_bad_arguments(tmp_path, bad):
    bench = load("bench_optimizers")
    with pytest.raises((SystemExit, ValueError)):
        bench.main(["--quick", "--only", "toy-1d", "--budget-scale", "0.05", "--out", str(tmp_path / "o.md"), *bad])


def test_shadow_art_decoder_example_runs_both_parameterisations_and_draws(tmp_path, capsys):
    example = load("example_shadow_art_decoder")
    out = tmp_path / "art.png"
    assert example.main(["--grid", "8", "--evaluations", "1600", "--out", str(out)]) == 0
    rows = {line.split("|")[1].strip(): line.split("|") for line in capsys.readouterr().out.splitlines()
            if line.startswith("| ")}
    empty, hull = float(rows["empty start"][3]), float(rows["visual hull"][3])
    voxels = float(rows["voxels (ZeroGrads + torch Adam)"][3])
    assert rows["voxels (ZeroGrads + torch Adam)"][2].strip() == "512" and "decoder (ZeroGrads + torch Adam)" in rows
    assert hull < voxels < empty  # it learns, and the visual hull stays ahead
    assert out.stat().st_size > 10_000


@pytest.mark.parametrize("bad", [["--evaluations", "4"], ["--popsize", "5"]])
def test_shadow_art_decoder_example_refuses_bad_sizes(tmp_path, bad, capsys):
    with pytest.raises(SystemExit):
        load("example_shadow_art_decoder").main([*bad, "--out", str(tmp_path / "a.png")])
    assert bad[0] in capsys.readouterr().err


def test_hard_raster_example_trains_through_the_black_box(tmp_path, capsys):
    example = load("example_hard_raster")
    out = tmp_path / "raster.png"
    assert example.main(["--steps", "30", "--resolution", "32", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "image.requires_grad=False" in printed
    row = next(line for line in printed.splitlines() if line.startswith("| ZeroGradsFunction"))
    initial = float(next(line for line in printed.splitlines() if line.startswith("| initial")).split("|")[2])
    assert float(row.split("|")[2]) < initial and "| 480 |" in row  # 30 steps x 16 evaluations
    assert out.stat().st_size > 10_000
