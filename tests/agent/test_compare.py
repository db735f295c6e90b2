"""Comparison harness: bootstrap intervals, the summary table, and a tiny end-to-end comparison."""

import math
from pathlib import Path

import numpy as np
import pytest

from zg_agent.compare import (RunSummary, bootstrap_ci, plot_curves, report_from_dir, run_comparison, summarize,
                               write_report)
from zg_agent.config import ConfigError
from zg_agent.trainers import read_status


def test_bootstrap_ci_properties():
    assert bootstrap_ci([3.0]) == (3.0, 3.0, 3.0)
    assert bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    m, lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0, 10.0])
    assert m == pytest.approx(4.0) and lo < m < hi and lo >= 1.0 and hi <= 10.0
    _, lo2, hi2 = bootstrap_ci([3.0, 4.0, 4.0, 4.0, 5.0])
    assert hi2 - lo2 < hi - lo
    assert bootstrap_ci([1.0, 5.0], seed=1) == bootstrap_ci([1.0, 5.0], seed=1)


def _run(algo, seed, steps, returns, times=None):
    steps = np.asarray(steps, float)
    return RunSummary(algo, seed, Path(f"/x/{algo}{seed}"), "finished", steps,
                      np.asarray(times if times is not None else steps / 100.0, float), np.asarray(returns, float))


def test_summary_numbers_match_a_hand_computation():
    runs = [_run("es", 0, [0, 100, 200], [-10, -2, 0]),       # best of all: R* = 0
            _run("es", 1, [0, 100, 200], [-10, -5, -4]),
            _run("ppo", 0, [0, 100, 200], [-10, -9, -8])]
    refs = {"start": -10.0, "random": -12.0, "upper": 10.0, "upper_source": "test", "start_source": "test"}
    table, numbers = summarize(runs, fraction=0.5, references=refs)
    ref = numbers["_reference"]
    assert ref["initial_return"] == -10 and ref["best_return"] == 0 and ref["threshold"] == -5
    es = numbers["es"]
    assert es["final"][0] == pytest.approx(-2.0) and es["best"][0] == pytest.approx(-2.0)
    assert es["reached"] == 2 and es["steps_to"] == pytest.approx(100.0) and es["time_to"] == pytest.approx(1.0)
    ppo = numbers["ppo"]
    assert ppo["reached"] == 0 and math.isnan(ppo["steps_to"]) and ppo["final"][0] == -8
    # normalised: (return - start) / (upper - start); es finals 0 and -4 -> 0.5 and 0.3, IQM of two = mean
    assert es["final_normalized"][0] == pytest.approx(0.4) and ppo["final_normalized"][0] == pytest.approx(0.1)
    lines = table.splitlines()
    assert lines[0].startswith("| algorithm | seeds | final return | final, normalised | best return | best, "
                               "normalised | env steps to 50%")
    assert lines[0].endswith("| start | random | upper |")
    assert lines[2].startswith("| es | 2 | -2 [") and "| 0.4 [0.3, 0.5] |" in lines[2] and "(2/2)" in lines[2]
    assert lines[3].startswith("| ppo | 1 | -8 | 0.1 | -8 | 0.1 |") and "(0/1)" in lines[3]
    assert all(line.endswith("| -10 | -12 | 10 |") for line in lines[2:])
    with pytest.raises(ValueError, match="fraction"):
        summarize(runs, fraction=1.5)


OVERRIDES = ["max_episode_steps=40", "eval_every=320", "eval_episodes=1", "random:options.popsize=4",
             "ppo:options.n_steps=160", "ppo:options.batch_size=80", "ppo:options.n_epochs=1",
             "ppo:options.n_envs=2", "ppo:options.use_sde=false"]


def test_tiny_comparison_end_to_end_accumulates_and_rerun_skips_finished_runs(tmp_path):
    out = tmp_path / "cmp"
    # 700 is a multiple of neither iteration (random 4 x 40 = 160, PPO 160 x 2 = 320): runs stop at 640
    first = run_comparison("Pendulum-v1", ["random"], seeds=[0, 1], budget=700, out_dir=out,
                           overrides=OVERRIDES, progress=False, command="zg-compare (random)")
    assert not first.failed and "| random | 2 |" in first.table and "| ppo |" not in first.table
    # a second command with another algorithm into the same folder: the report keeps the random runs
    result = run_comparison("Pendulum-v1", ["ppo"], seeds=[0, 1], budget=700, out_dir=out,
                            overrides=OVERRIDES, progress=False, command="zg-compare (ppo)")
    assert not result.failed and not result.interrupted
    assert (out / "comparison.md").is_file() and (out / "comparison.png").stat().st_size > 1000
    md = (out / "comparison.md").read_text()
    assert "zg-compare (ppo)" in md and "| random | 2 |" in md and "| ppo | 2 |" in md
    assert "Budget rule" in md and "PPO never exceeds its budget" in md
    assert len(result.runs) == 4 and all(r.steps[-1] == 640 and r.budget == 700 for r in result.runs)
    for algo in ("random", "ppo"):
        for seed in (0, 1):
            run = out / f"Pendulum-v1__{algo}__s{seed}"
            assert read_status(run)["state"] == "finished" and read_status(run)["env_steps"] == 640
    # the same commands again: every run is finished with this budget, nothing is reopened or rewritten
    watched = [out / "Pendulum-v1__ppo__s1" / "evaluations.csv", out / "Pendulum-v1__ppo__s1" / "final_model.zip",
               out / "Pendulum-v1__ppo__s1" / "checkpoints" / "ppo_model.zip",
               out / "Pendulum-v1__random__s0" / "solution.pkl"]
    stamps = [p.stat().st_mtime_ns for p in watched]
    again = run_comparison("Pendulum-v1", ["random", "ppo"], seeds=[0, 1], budget=700, out_dir=out,
                           overrides=OVERRIDES, progress=False)
    assert [p.stat().st_mtime_ns for p in watched] == stamps
    for algo in ("random", "ppo"):
        assert len((out / f"Pendulum-v1__{algo}__s0" / "command.txt").read_text().splitlines()) == 1
    assert again.table == result.table
    assert report_from_dir(out) == result.table
    # a larger budget resumes the finished runs instead of skipping them
    more = run_comparison("Pendulum-v1", ["random"], seeds=[0], budget=900, out_dir=out, overrides=OVERRIDES,
                          progress=False)
    (grown,) = [r for r in more.runs if r.algo == "random" and r.seed == 0]
    assert grown.steps[-1] == 800 and grown.budget == 900
    assert "do not share one budget" in (out / "comparison.md").read_text()
    # runs scored on another reward do not join the table: finished or resumable, they are refused
    for budget in (700, 1100):
        with pytest.raises(ConfigError, match=r"Pendulum-v1__random__s0 is evaluated with env kwargs \{\}, this "
                                              r"comparison with \{'g': 12\.0\}"):
            run_comparison("Pendulum-v1", ["random"], seeds=[0], budget=budget, out_dir=out, progress=False,
                           overrides=[*OVERRIDES, "eval_env_kwargs.g=12.0"])
    # nor do runs made with other settings, whether the command sets them or its config file does
    for budget in (700, 1100):
        with pytest.raises(ConfigError, match=r"(?s)random__s0 was started with other settings than this command "
                                              r"gives:.*options\.sigma: the run has .*, this command gives 0\.123.*"
                                              r"move the run away or give another output folder"):
            run_comparison("Pendulum-v1", ["random"], seeds=[0], budget=budget, out_dir=out, progress=False,
                           overrides=[*OVERRIDES, "random:options.sigma=0.123"])
    edited = tmp_path / "random.yaml"
    edited.write_text("Pendulum-v1:\n  options:\n    sigma: 0.456\n")
    with pytest.raises(ConfigError, match=r"options\.sigma: the run has .*, this command gives 0\.456"):
        run_comparison("Pendulum-v1", ["random"], seeds=[0], budget=700, out_dir=out, progress=False,
                       overrides=OVERRIDES, config_dir=tmp_path)


def test_comparison_input_errors(tmp_path, capsys):
    with pytest.raises(ConfigError, match="algos must be drawn from"):
        run_comparison("Pendulum-v1", ["random", "sgd"], out_dir=tmp_path)
    with pytest.raises(ConfigError, match="algorithm prefix"):
        run_comparison("Pendulum-v1", ["random"], overrides=["sgd:budget=3"], out_dir=tmp_path)
    with pytest.raises(ValueError, match="not a registered"):
        run_comparison("NoSuchEnv-v9", ["random"], out_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown config key"):
        run_comparison("Pendulum-v1", ["random"], overrides=["random:options.lr=3"], out_dir=tmp_path)
    # every algorithm's setup and budget is checked before any run starts; all failures are listed
    with pytest.raises(ConfigError) as info:
        run_comparison("Pendulum-v1", ["random", "es", "ppo"], budget=300, out_dir=tmp_path / "cmp",
                       overrides=OVERRIDES + ["es:options.sigma=-1"], progress=False)
    msg = str(info.value)
    assert "nothing was started" in msg and "ppo: budget 300" in msg and "320" in msg and "es:" in msg
    assert "random:" not in msg
    assert not any(tmp_path.iterdir())  # nothing was started
    # an override for an algorithm that is not run is said, not silently dropped
    with pytest.raises(ConfigError):
        run_comparison("Pendulum-v1", ["random"], budget=10, overrides=OVERRIDES + ["es:options.sigma=0.1"],
                       out_dir=tmp_path / "cmp", progress=False)
    assert "--set es:options.sigma=0.1 is for es, which is not in --algos (random)" in capsys.readouterr().err


def test_curves_end_at_the_final_evaluations_of_finished_runs():
    from matplotlib.figure import Figure

    # one budget, ends an iteration apart: the curve runs to the longest run and ends at the finals' mean (IQM of 2)
    runs = [_run("es", 0, [0, 50, 100], [0.0, 4.0, 1.0]), _run("es", 1, [0, 50, 95], [0.0, 4.0, 3.0])]
    ax = Figure().add_subplot(1, 1, 1)
    plot_curves(runs, None, ax=ax, grid_points=21)
    x, y = ax.get_lines()[0].get_data()
    assert x[-1] == 100.0 and y[-1] == pytest.approx(2.0)
    # a finished run of a smaller budget is not drawn on as if it had trained longer
    short = _run("es", 2, [0, 50], [0.0, 4.0])
    short.budget, runs[0].budget, runs[1].budget = 50, 100, 100
    ax = Figure().add_subplot(1, 1, 1)
    plot_curves(runs + [short], None, ax=ax, grid_points=21)
    x, y = ax.get_lines()[0].get_data()
    assert x[-1] == 50.0 and y[-1] == pytest.approx(4.0)
    # a run still going is not extended past its last evaluation: the curve stops where every seed has data
    runs[1].status = "running"
    runs[1].steps, runs[1].returns = np.array([0.0, 50.0]), np.array([0.0, 4.0])
    ax = Figure().add_subplot(1, 1, 1)
    plot_curves(runs, None, ax=ax, grid_points=21)
    x, y = ax.get_lines()[0].get_data()
    assert x[-1] == 50.0 and y[-1] == pytest.approx(4.0)


def test_no_data_writes_no_report(tmp_path):
    import warnings

    empty = _run("es", 0, [], [])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. matplotlib's "No artists with labels found to put in legend"
        assert write_report(tmp_path, "Pendulum-v1", [empty]) is None
        plot_curves([empty], tmp_path / "empty.png")
    assert not (tmp_path / "comparison.md").exists() and not (tmp_path / "comparison.png").exists()
    assert report_from_dir(tmp_path) is None


def test_compare_config_file_and_resume_keeps_each_runs_settings(tmp_path):
    from zg_agent.config import load_run_config
    from zg_agent.trainers import train

    out = tmp_path / "cmp"
    # --config [ALGO:]FILE, as zg-train's --config: the file's entry for the env applies to that algorithm
    mine = tmp_path / "my_random.yaml"
    mine.write_text("default:\n  eval_episodes: 1\nPendulum-v1:\n  options: {sigma: 0.25}\n")
    first = run_comparison("Pendulum-v1", ["random"], seeds=[0], budget=320, out_dir=out, overrides=OVERRIDES,
                           config=[f"random:{mine}"], progress=False)
    run = out / "Pendulum-v1__random__s0"
    assert not first.failed and "sigma: 0.25" in (run / "config.yaml").read_text()
    with pytest.raises(ConfigError, match="algorithm prefix must be one of"):
        run_comparison("Pendulum-v1", ["random"], out_dir=out, config=[f"sgd:{mine}"])
    # an interrupted run: resuming it with another setting is refused, naming the run and the setting
    stopped = load_run_config(run)
    stopped.budget, stopped.seed = 100_000, 1
    train(stopped, run_dir=out / "Pendulum-v1__random__s1", callback=lambda t: t.request_stop())
    with pytest.raises(ConfigError, match=r"the run .*Pendulum-v1__random__s1 was started with other settings"
                                          r"(.|\n)*options.sigma: the run has 0.25, this command gives 0.5"):
        run_comparison("Pendulum-v1", ["random"], seeds=[1], budget=640, out_dir=out,
                       overrides=OVERRIDES + ["options.sigma=0.5"], config=str(mine), progress=False)
    # the same settings resume it, with the backend and the budget of this command
    again = run_comparison("Pendulum-v1", ["random"], seeds=[1], budget=640, out_dir=out, overrides=OVERRIDES,
                           config=str(mine), backend="process", num_workers=1, progress=False)
    assert not again.failed
    resumed = out / "Pendulum-v1__random__s1"
    assert read_status(resumed)["state"] == "finished" and read_status(resumed)["env_steps"] == 640
    assert "backend: process" in (resumed / "config.yaml").read_text()


def test_compare_refuses_an_output_folder_it_cannot_create(capsys):
    from zg_agent.cli import compare_main

    code = compare_main(["--env", "Pendulum-v1", "--algos", "random", "--seeds", "1", "--budget", "160",
                         "--out", "/proc/nope/cmp", "--no-progress", *[x for o in OVERRIDES for x in ("--set", o)]])
    err = capsys.readouterr().err
    assert code == 2 and "cannot create the output folder '/proc/nope/cmp'" in err and "Traceback" not in err


def test_a_second_comparison_in_the_same_folder_is_refused(tmp_path):
    import os

    from zg_agent.trainers import RunFolderError, RunLock

    out = tmp_path / "cmp"
    out.mkdir()
    with RunLock(out):  # what a running zg-compare holds
        with pytest.raises(RunFolderError, match=f"is in use by process {os.getpid()}"):
            run_comparison("Pendulum-v1", ["random"], seeds=[0], budget=160, out_dir=out, overrides=OVERRIDES,
                           progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["run.lock"]
