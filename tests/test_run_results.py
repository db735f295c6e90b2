"""scripts/run_results.py with tiny budgets: it resumes a stopped run exactly, skips finished ones, and writes
the report (references, normalised IQM, curves, summary, the kept Reading, the README table)."""

import importlib.util
import json
import shutil
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

    # the record beside the figures rebuilds the same report without the run folders
    record = json.loads((tmp_path / "results" / "zg_ShadowCaster-v0.json").read_text())
    assert [(r["algo"], r["seed"]) for r in record["runs"]] == [("random", 0)] and record["budget"] == budget
    rows = [line for line in md.read_text().splitlines() if line.startswith("| random |")]
    shutil.rmtree(out)
    assert rr.main(argv + ["--report-only"]) == 0
    assert [line for line in md.read_text().splitlines() if line.startswith("| random |")] == rows
    assert "No finished runs: not finished" not in md.read_text()


def test_an_env_without_runs_or_record_keeps_the_previous_section_and_column(tmp_path):
    rr = load()
    hopper = "zg/CharacterLocomotion-v0"
    md, readme = tmp_path / "results.md", tmp_path / "README.md"
    md.write_text("# old\n\n## Summary\n\n"
                  f"| method | {ENV} | {hopper} (not pooled) | pooled (IQM, stratified) |\n| --- | --- | --- | --- |\n"
                  "| zerograds | 0.5 [0.4, 0.6] | 0.678 [0.578, 0.848] | 0.5 [0.4, 0.6] |\n"
                  "| es | 0.4 [0.3, 0.5] | - | 0.4 [0.3, 0.5] |\n"
                  "| cma | - | 0.844 [0.75, 0.886] | - |\n\n"
                  f"## {hopper}\n\nBudget and settings.\n\n| method | seeds |\n| --- | --- |\n| cma | 5 |\n\n"
                  "## Reading\n\nKept.\n")
    readme.write_text("<!-- results:begin -->\nold\n<!-- results:end -->\n")
    argv = ["--report-only", "--out", str(tmp_path / "runs"), "--md", str(md), "--readme", str(readme)]
    assert rr.main(argv) == 0
    text = md.read_text()
    section = text.split(f"\n## {hopper}\n")[1].split("\n## ")[0]
    assert section.startswith("\nBudget and settings.") and "| cma | 5 |" in section
    assert section.count(rr.CARRIED_MARK) == 1 and f"`--only {hopper}` runs it again" in section
    assert f"{hopper} (not pooled, carried over)" in readme.read_text()
    assert "| cma | 0.844 [0.75, 0.886] | - |" in readme.read_text()  # its column; the pool is empty
    assert (tmp_path / "results" / "summary.png").is_file()
    assert rr.main(argv) == 0  # a second rebuild does not mark it twice
    assert md.read_text().count(rr.CARRIED_MARK) == 1


def test_bad_arguments_are_named(capsys):
    rr = load()
    for argv, words in ((["--only", "zg/Nope-v0"], "not in the plan"), (["--scale", "0"], "--scale must be > 0"),
                        (["--seeds", "0"], "--seeds must be >= 1")):
        with pytest.raises(SystemExit) as exc:
            rr.main(argv)
        assert exc.value.code == 2
        assert words in capsys.readouterr().err


def _result(rr, env_id, finals, lengths=None, completed=None):
    """An EnvResult of made-up final scores (algo -> one normalised score per seed), with curves to plot."""
    import numpy as np

    from zg_agent.compare.runs import RunSummary

    plan = rr.EnvPlan(env_id, 1.0, algos=tuple(finals), segment=completed is not None)
    refs = {"start": 0.0, "random": -1.0, "upper": 1.0, "upper_source": "made up", "start_source": "made up"}
    res = rr.EnvResult(plan, 100, len(next(iter(finals.values()))), refs)
    for algo, values in finals.items():
        res.finals[algo], res.returns[algo], res.steps[algo] = list(values), list(values), [100] * len(values)
        res.lengths[algo] = list((lengths or {}).get(algo, [1.0] * len(values)))
        if completed is not None:
            res.completed[algo] = list(completed[algo])
        res.runs += [RunSummary(algo, s, Path("."), "finished", np.array([0.0, 100.0]), np.array([0.0, 1.0]),
                                np.array([0.0, v]), 100, np.array([1.0, 1.0])) for s, v in enumerate(values)]
    return res


def test_the_summary_pools_only_envs_where_every_method_ran_and_the_length_column_shows(tmp_path):
    rr = load()
    full = _result(rr, "zg/A-v0", {"zerograds": [0.9] * 5, "es": [0.5] * 5})
    part = _result(rr, "zg/B-v0", {"zerograds": [0.1] * 5}, lengths={"zerograds": [38, 38, 37, 38, 38]},
                   completed={"zerograds": [True, False, False, True, True]})
    text, table = rr.summary([full, part], tmp_path)
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()[2:]}
    assert "zg/B-v0 (not pooled)" in table.splitlines()[0] and "zg/A-v0 (not pooled)" not in table
    assert rows["zerograds"].rstrip(" |").endswith("0.9 [0.9, 0.9]")  # B's 0.1 is not in the pool
    assert rows["es"].rstrip(" |").endswith("0.5 [0.5, 0.5]") and "| - |" in rows["es"]
    assert (tmp_path / "summary.png").stat().st_size > 5_000
    section = rr.env_section(part, 1.0, 5, 10, tmp_path, tmp_path, ran=True)
    assert "| env steps used | final episode length per seed | completed the segment | start |" in section
    assert "| 38, 38, 37, 38, 38 | 3 of 5 |" in section
    assert "final episode length" not in rr.env_section(full, 1.0, 5, 10, tmp_path, tmp_path, ran=True)


def test_a_segment_is_completed_only_by_a_truncated_episode(tmp_path):
    rr = load()
    # Pendulum's episodes always last to their time limit; pure tracking of the walk cycle pitches over at 23
    for env_id, budget, overrides, completes in (
            ("Pendulum-v1", 160, ["max_episode_steps=40", "options.popsize=4"], True),
            ("zg/CharacterMimicOpenLoop-v0", 76, ["options.popsize=2", "options.sigma=0.0001"], False)):
        cfg = load_config("random", env_id, seed=0, budget=budget, overrides=["eval_every=1000000", *overrides])
        run = train(cfg, run_dir=tmp_path / env_id.replace("/", "_")).run_dir
        assert rr.completes_segment(run) is completes


def test_a_record_round_trips_every_seed_and_flag_and_ignores_other_settings(tmp_path):
    rr = load()
    env = "zg/CharacterMimicOpenLoop-v0"
    res = _result(rr, env, {"zerograds": [0.1, 0.2, 0.3, 0.4, 0.5], "cma": [0.5, 0.4, 0.3, 0.2, 0.1]},
                  completed={"zerograds": [True, False, False, True, False], "cma": [False] * 4 + [True]})
    res.refs["random"] = float("nan")  # strict JSON has no NaN: stored as null, read back as NaN
    res.runs.reverse()  # the flags follow the seeds, not the order of the runs
    record, settings = tmp_path / "r.json", rr.record_settings(res.plan, 100, 10)
    rr.write_record(res, record, settings)
    assert "NaN" not in record.read_text()
    back = rr.collect(res.plan, tmp_path / "no-runs", 100, 5, record, settings)
    assert back.finals == res.finals and back.completed == res.completed and back.lengths == res.lengths
    assert back.refs["upper"] == 1.0 and back.refs["random"] != back.refs["random"]  # NaN again

    # fewer seeds read fewer runs, but writing them back keeps the others
    three = rr.collect(res.plan, tmp_path / "no-runs", 100, 3, record, settings)
    assert three.finals["cma"] == [0.5, 0.4, 0.3]
    rr.write_record(three, record, settings)
    assert rr.collect(res.plan, tmp_path / "no-runs", 100, 5, record, settings).finals == res.finals
    # a record of another budget or evaluation interval is not read
    for other in (rr.record_settings(res.plan, 200, 10), rr.record_settings(res.plan, 100, 20)):
        assert not rr.collect(res.plan, tmp_path / "no-runs", other["budget"], 5, record, other).runs


def test_a_smoke_run_leaves_the_committed_records_alone(tmp_path):
    rr = load()
    committed = Path("benchmarks/results.md")  # relative, as the default --md is
    assert rr.records_writable(rr.ROOT / committed, None, None)
    assert not rr.records_writable(rr.ROOT / committed, 0.02, None)
    assert not rr.records_writable(rr.ROOT / committed, None, 2)
    assert rr.records_writable(tmp_path / "results.md", 0.02, 2)  # a smoke report elsewhere keeps its own


def test_a_stored_run_made_with_other_settings_is_left_out_and_named(tmp_path):
    rr = load()
    env = "zg/CharacterMimicOpenLoop-v0"
    res = _result(rr, env, {"zerograds": [0.1, 0.2, 0.3], "cma": [0.3, 0.2, 0.1]},
                  completed={"zerograds": [False] * 3, "cma": [False] * 3})
    now = {algo: rr.planned_settings(res.plan, algo, 100) for algo in res.plan.algos}
    res.settings = {(r.algo, r.seed): now[r.algo] for r in res.runs}
    changed = json.loads(json.dumps(now["zerograds"]))
    changed["options"]["sigma"] = 0.5
    res.settings[("zerograds", 1)] = changed
    res.settings[("cma", 2)] = None  # a run stored before records held settings is read as before
    record, settings = tmp_path / "r.json", rr.record_settings(res.plan, 100, 10)
    rr.write_record(res, record, settings)

    back = rr.collect(res.plan, tmp_path / "no-runs", 100, 3, record, settings)
    assert back.finals == {"zerograds": [0.1, 0.3], "cma": [0.3, 0.2, 0.1]}
    assert back.stale == [f"zerograds seed 1, stored (options.sigma 0.5, now {now['zerograds']['options']['sigma']!r})"]
    section = rr.env_section(back, 1.0, 3, 10, tmp_path, tmp_path, ran=False)
    assert "Runs left out, made with other settings" in section and "zerograds seed 1, stored" in section
    # writing the report back keeps the stale run in the record, where a rerun of that seed replaces it
    rr.write_record(back, record, settings)
    rows = json.loads(record.read_text())["runs"]
    assert [(r["algo"], r["seed"]) for r in rows] == [("zerograds", s) for s in range(3)] + [("cma", s)
                                                                                             for s in range(3)]
    assert rows[1]["settings"] == changed and rows[5]["settings"] is None and rows[0]["settings"] == now["zerograds"]
    # an option added later with the default None changes nothing
    assert rr.settings_diff({"options": {"a": 1}}, {"options": {"a": 1, "b": None}}) == []


def test_a_run_folder_gives_the_settings_that_the_configs_plan(tmp_path):
    """What a run folder's config.yaml says equals what the plan's configs give, so a fresh run is never stale;
    a folder made with other settings is left out and named."""
    rr = load()
    budget, overrides = 160, ["eval_every=1000000", "max_episode_steps=40", "options.popsize=4"]
    out = tmp_path / "runs"
    for seed, extra in ((0, []), (1, ["options.sigma=0.7"])):
        cfg = load_config("random", "Pendulum-v1", seed=seed, budget=budget, overrides=[*overrides, *extra])
        train(cfg, run_dir=out / run_dir_name("Pendulum-v1", "random", seed))
    plan = rr.EnvPlan("Pendulum-v1", 1.0, algos=("random",), overrides=("max_episode_steps=40",
                                                                       "random:options.popsize=4"))
    res = rr.collect(plan, out, budget, 2, None, rr.record_settings(plan, budget, 1000000))
    assert [r.seed for r in res.runs] == [0]
    assert len(res.stale) == 1 and res.stale[0].startswith("random seed 1, folder") and "options.sigma 0.7" in \
        res.stale[0]
    assert res.settings[("random", 0)] == rr.planned_settings(plan, "random", budget)
