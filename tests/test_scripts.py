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


def test_bench_envs_reports_each_env_against_a_reference_of_the_same_run(tmp_path):
    bench = load("bench_envs")
    out = tmp_path / "envs.md"
    assert bench.main(["--seconds", "0.05", "--only", "hopper", "--out", str(out)]) == 0
    assert bench.main(["--seconds", "0.05", "--only", "TreeGrowth", "--out", str(tmp_path / "tree.md")]) == 0
    rows = {}
    for path in (out, tmp_path / "tree.md"):
        for line in path.read_text().splitlines():
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[0].startswith(("CharacterLocomotion", "TreeGrowth")):
                rows[cells[0]] = cells
    hopper, tree = rows["CharacterLocomotion-v0 hopper"], rows["TreeGrowth-v0 64x64, G=6"]
    assert hopper[4] == "HopperBulletEnv-v0" and tree[4] == "numpy workload"
    for cells in (hopper, tree):
        rate, ref_rate, ratio = (float(c.rstrip("/s").replace(",", "")) for c in cells[1:2] + cells[5:7])
        assert rate > 0 and ref_rate > 0 and ratio == pytest.approx(rate / ref_rate, rel=0.02, abs=0.001)


def test_reference_table_writes_the_references_of_each_row_between_the_markers(tmp_path, monkeypatch):
    script = load("reference_table")
    monkeypatch.setattr(script, "ROWS", (("zg/ShadowCaster-v0", "default", ()),
                                         ("zg/ShadowArt-v0", "`grid=8`", ("env_kwargs.grid=8",))))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{script.BEGIN}\nold table\n{script.END}\noutro\n")
    assert script.main(["--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old table" not in text and text.startswith("intro\n") and text.endswith("outro\n")
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| `zg/")]
    assert [r[1] for r in rows] == ["default", "`grid=8`"]
    art = script.compute_references(script.load_config("zerograds", "zg/ShadowArt-v0", overrides=["env_kwargs.grid=8"]),
                                    script.EVAL_SEED_BASE)
    assert rows[1][2:5] == [f"{art['start']:.4g}", f"{art['random']:.4g}", f"{art['upper']:.4g}"]
    assert art["upper"] > art["start"]  # the visual hull of the 8^3 grid's targets beats the empty start
    readme.write_text("no markers\n")
    with pytest.raises(SystemExit, match="markers"):
        script.main(["--readme", str(readme)])


def test_the_readme_reference_table_lists_the_scripts_rows():
    script = load("reference_table")
    text = (SCRIPTS.parent / "README.md").read_text()
    table = text[text.index(script.BEGIN):text.index(script.END)]
    listed = [line.split(" | ")[:2] for line in table.splitlines() if line.startswith("| `")]
    assert listed == [[f"| `{env_id}`", label] for env_id, label, _ in script.ROWS]


def test_kept_reading_is_the_section_from_its_heading_at_a_line_start_to_the_end(tmp_path):
    from zg_agent.tables import kept_reading

    report = tmp_path / "r.md"
    assert kept_reading(report) is None  # no file
    report.write_text("# Title\n\nA table that mentions ## Reading inline.\n")
    assert kept_reading(report) is None  # not a heading
    report.write_text("# Title\n\n## Reading\n\nA person's words.\n\n### More\n\nStill theirs.\n\n")
    assert kept_reading(report) == "## Reading\n\nA person's words.\n\n### More\n\nStill theirs."
    report.write_text("## Reading\n\nOnly this.\n")
    assert kept_reading(report) == "## Reading\n\nOnly this."


def test_bench_overhead_times_env_objective_and_optimizers_and_keeps_the_reading(tmp_path):
    bench = load("bench_overhead")
    out = tmp_path / "overhead.md"
    out.write_text("old table\n\n## Reading\n\nA person's reading.\n")
    assert bench.main(["--only", "ShadowArt-v0 K=16", "--seconds", "0.01", "--min-iterations", "1",
                       "--out", str(out)]) == 0
    text = out.read_text()
    assert "Command: `python scripts/bench_overhead.py --only 'ShadowArt-v0 K=16'" in text
    objective_row = next(line for line in text.splitlines() if line.startswith("| ShadowArt-v0 K=16 | 4,096 | 16 |"))
    cells = [c.strip() for c in objective_row.split("|")[1:-1]]
    assert float(cells[4]) > 0 and float(cells[5]) > 0 and float(cells[6]) > 0  # stepped, batched, objective
    optimizer_row = [line for line in text.splitlines() if line.startswith("| ShadowArt-v0 K=16 |")][1]
    assert len(optimizer_row.split("|")) == 2 + 3 + 3 * len(bench.METHODS)
    assert objective_row.rstrip(" |").endswith(("meets", "misses"))
    assert "old table" not in text and text.rstrip().endswith("A person's reading.")


@pytest.mark.parametrize("bad", [["--only", "NoSuchEnv"], ["--seconds", "0"], ["--seconds", "nan"],
                                 ["--seconds", "inf"], ["--min-iterations", "0"]])
def test_bench_overhead_refuses_bad_arguments(tmp_path, bad, capsys):
    with pytest.raises(SystemExit):
        load("bench_overhead").main([*bad, "--out", str(tmp_path / "o.md")])
    assert bad[0] in capsys.readouterr().err
