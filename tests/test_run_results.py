"""scripts/run_results.py with tiny budgets: it resumes a stopped run exactly, skips finished ones, and writes
the report (references, normalised IQM, curves, summary, the kept Reading, the README table)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from zg_agent.config import load_config
from zg_agent.training import read_evaluations, read_status, run_dir_name, train

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "run_results.py"
ENV = "zg/ShadowCaster-v0"


def load():
    spec = importlib.util.spec_from_file_location("run_results", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_results"] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_results_script_resumes_a_stopped_run_and_writes_the_report(tmp_path, monkeypatch):
    rr = load()
    plan = next(p for p in rr.PLAN if p.env_id == ENV)
    budget, eval_every = rr.budget_of(plan, 0.02)
    out = tmp_path / "runs"
    run_dir = out / "zg_ShadowCaster-v0" / run_dir_name(ENV, "random", 0)
    cfg = load_config("random", ENV, seed=0, budget=budget, overrides=[f"eval_every={eval_every}"])

    # a run stopped after its first iteration, as a timeout's SIGTERM leaves it
    train(cfg, run_dir=run_dir, callback=lambda t: t.request_stop())
    assert read_status(run_dir)["state"] == "interrupted"
    first = read_evaluations(run_dir)
    # the same run without a stop, for comparison
    full = read_evaluations(train(cfg, run_dir=tmp_path / "full").run_dir)

    md, readme = tmp_path / "results.md", tmp_path / "README.md"
    md.write_text("# old\n\n## Reading\n\nA person's reading (kept).\n")
    readme.write_text("intro\n\n<!-- results:begin -->\nold table\n<!-- results:end -->\n\nmore\n")
    argv = ["--only", ENV, "--algos", "random", "--seeds", "1", "--scale", "0.02", "--backend", "serial",
            "--out", str(out), "--md", str(md), "--readme", str(readme), "--no-progress"]
    assert rr.main(argv) == 0
    assert read_status(run_dir)["state"] == "finished"
    resumed = read_evaluations(run_dir)
    assert resumed[:len(first)] == first and len(resumed) > len(first)
    assert [r["mean_reward"] for r in resumed] == [r["mean_reward"] for r in full]  # exactly where it stopped
    refs = json.loads((run_dir / "references.json").read_text())

    text = md.read_text()
    assert "python scripts/run_results.py --only zg/ShadowCaster-v0" in text.split("\n## ")[0]
    assert f"## {ENV}" in text and "## Summary" in text and "upper reference" in text
    assert "| random | 1 | " in text and f"{refs['upper']:.4g}" in text
    assert "No finished runs: not yet run" in text  # the character rows of the plan
    assert text.rstrip().endswith("A person's reading (kept).")
    assert (tmp_path / "results" / "zg_ShadowCaster-v0.png").is_file()
    assert (tmp_path / "results" / "summary.png").is_file()
    readme_text = readme.read_text()
    assert "old table" not in readme_text and "| random |" in readme_text and readme_text.endswith("more\n")

    # a second time everything is finished: nothing is trained again
    mtime = (run_dir / "evaluations.csv").stat().st_mtime_ns
    assert rr.main(argv) == 0
    assert (run_dir / "evaluations.csv").stat().st_mtime_ns == mtime


def test_bad_arguments_are_named(capsys):
    rr = load()
    for argv, words in ((["--only", "zg/Nope-v0"], "not in the plan"), (["--scale", "0"], "--scale must be > 0"),
                        (["--seeds", "0"], "--seeds must be >= 1")):
        with pytest.raises(SystemExit) as exc:
            rr.main(argv)
        assert exc.value.code == 2
        assert words in capsys.readouterr().err
