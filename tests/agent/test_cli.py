"""CLI smoke tests through subprocess: zg-train, zg-compare, Ctrl-C and resume, bad arguments."""

import csv
import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from zg_agent.trainers import read_evaluations, read_status

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
TINY = ["--set", "max_episode_steps=40", "--set", "options.popsize=4", "--set", "eval_every=320",
        "--set", "eval_episodes=1"]


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "zg_agent.cli", *args], env=ENV, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def run_folder(stdout: str) -> Path:
    line = [ln for ln in stdout.splitlines() if ln.startswith("run folder: ")][-1]
    return Path(line.removeprefix("run folder: "))


def test_help():
    proc = cli("--help")
    assert proc.returncode == 0 and "usage: python -m zg_agent.cli" in proc.stdout
    assert "train" in proc.stdout and "compare" in proc.stdout and "zg-train" in proc.stdout
    proc = cli()
    assert proc.returncode == 2 and "a command is required" in proc.stderr
    proc = cli("nonsense")
    assert proc.returncode == 2 and "unknown command 'nonsense'" in proc.stderr
    proc = cli("train", "--help")
    assert proc.returncode == 0 and "stops at the last iteration that fits" in " ".join(proc.stdout.split())


def test_train_smoke(tmp_path):
    # a budget of 1000 is not a multiple of one iteration (4 x 40 = 160 env steps): 960 are used, and said
    proc = cli("train", "--env", "Pendulum-v1", "--algo", "random", "--seed", "1", "--budget", "1000",
               "--run-root", str(tmp_path), "--no-progress", *TINY)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("finished: random on Pendulum-v1 seed 1: 960 env steps")
    assert "used 960 of 1000 env steps: one iteration costs up to 160" in proc.stdout
    assert "budget 1000 env steps is not a multiple of one iteration (160" in proc.stderr
    run = run_folder(proc.stdout)
    assert run.parent == tmp_path and run.name.startswith("Pendulum-v1__random__s1__")
    assert "zg-train --env Pendulum-v1 --algo random" in (run / "command.txt").read_text()
    assert "seed: 1" in (run / "config.yaml").read_text()
    assert read_evaluations(run)[-1]["env_steps"] == 960
    with open(run / "progress.csv") as f:
        assert "rollout/ep_rew_mean" in next(csv.reader(f))


@pytest.mark.parametrize("args, code, words", [
    (["--env", "Pendulum-v1", "--algo", "random", "--set", "bogus=1"], 2, ["bogus", "allowed"]),
    (["--env", "Pendulum-v9", "--algo", "random"], 2, ["Pendulum-v9", "not a registered", "Pendulum-v1"]),
    (["--env", "Foo-v9", "--algo", "random"], 2, ["'Foo-v9' is not a registered", "zg/ShadowCaster-v0",
                                                  "pprint_registry"]),
    (["--env", "Pendulum-v1", "--algo", "sgd"], 2, ["--algo", "sgd", "zerograds"]),
    (["--algo", "random"], 2, ["--env and --algo are required"]),
    (["--env", "Pendulum-v1", "--algo", "random", "--set", "options.popsize=two"], 2, ["options.popsize", "int"]),
    # setup errors found before the run folder exists
    (["--env", "Pendulum-v1", "--algo", "random", "--budget", "100", "--set", "options.popsize=4"], 2,
     ["budget 100", "smaller than one iteration", "no run folder was created"]),
    (["--env", "Pendulum-v1", "--algo", "ppo", "--budget", "1000", "--set", "options.n_steps=512", "--set",
      "options.n_envs=4"], 2, ["smaller than one PPO rollout", "512 x n_envs 4 = 2048"]),
    (["--env", "Pendulum-v1", "--algo", "es", "--set", "options.sigma=-1"], 2, ["options.sigma", "> 0", "-1"]),
    (["--env", "Pendulum-v1", "--algo", "ppo", "--set", "options.learning_rate=-1"], 2,
     ["options.learning_rate", "> 0", "-1"]),
    (["--env", "Pendulum-v1", "--algo", "ppo", "--set", "options.gamma=1.5"], 2, ["options.gamma", "[0, 1]", "1.5"]),
    (["--env", "Pendulum-v1", "--algo", "es", "--set", "env_kwargs.bogus=1"], 2,
     ["env_kwargs", "bogus", "allowed keys: ['g']"]),
    (["--env", "Pendulum-v1", "--algo", "es", "--set", "episode_timeout_s=0"], 2, ["episode_timeout_s", "> 0"]),
])
def test_train_bad_arguments(args, code, words, tmp_path):
    proc = cli("train", *args, "--run-root", str(tmp_path), "--no-progress")
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    for w in words:
        assert w in proc.stderr, (w, proc.stderr)
    assert "keeps the last checkpoint" not in proc.stderr
    assert len(proc.stderr) < 800 and "Ant-v2" not in proc.stderr  # short, to the point
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # no run folder for a bad command


@pytest.mark.parametrize("args, words", [
    (["--seeds", "-2"], ["--seeds must be at least 1, got -2"]),
    (["--seeds", "0"], ["--seeds must be at least 1, got 0"]),
    (["--seed-start", "-1"], ["--seed-start must be at least 0, got -1"]),
])
def test_compare_bad_seeds_are_named_with_their_value(args, words, tmp_path):
    proc = cli("compare", "--env", "Pendulum-v1", "--algos", "random", *args, "--out", str(tmp_path / "c"),
               "--no-progress")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    for w in words:
        assert w in proc.stderr, (w, proc.stderr)
    assert not (tmp_path / "c").exists()


FAILING_RUN = """
import sys
import toy_envs  # registers TestNaNLater-v0: its training episodes return NaN
from zg_agent.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_failure_after_the_folder_exists_says_what_it_holds(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-c", FAILING_RUN, "train", "--env", "TestNaNLater-v0", "--algo", "random", "--budget",
         "40", "--set", "eval_episodes=1", "--set", "options.popsize=4", "--run-root", str(tmp_path),
         "--no-progress"], env=dict(ENV, PYTHONPATH=f"{ROOT}{os.pathsep}{ROOT / 'tests' / 'agent'}"),
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 1, proc.stderr
    (run,) = tmp_path.iterdir()
    assert read_status(run)["state"] == "failed" and (run / "error.txt").is_file()
    assert f"the run folder {run} keeps error.txt and the checkpoint at 0 env steps" in proc.stderr
    assert f"zg-train --resume {run}" in proc.stderr


def test_ctrl_c_saves_and_resume_finishes(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "zg_agent.cli", "train", "--env", "Pendulum-v1", "--algo", "random", "--budget",
         "2000000", "--run-root", str(tmp_path), "--no-progress", *TINY],
        env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        runs = list(tmp_path.glob("Pendulum-v1__random__s0__*"))
        if runs and len(read_evaluations(runs[0])) >= 3:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in out and "resume with: zg-train --resume" in out
    run = run_folder(out)
    status = read_status(run)
    assert status["state"] == "interrupted" and 0 < status["env_steps"] < 2_000_000
    steps = status["env_steps"]
    # --resume auto finds the unfinished run; a smaller budget lets it finish now
    budget = steps + 640
    proc = cli("train", "--env", "Pendulum-v1", "--algo", "random", "--resume", "auto", "--run-root", str(tmp_path),
               "--budget", str(budget), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert run_folder(proc.stdout) == run and f"resuming {run}" in proc.stderr
    assert read_status(run)["state"] == "finished" and read_status(run)["env_steps"] == budget
    evals = [r["env_steps"] for r in read_evaluations(run)]
    assert evals == sorted(set(evals)) and evals[-1] == budget
    assert len((run / "command.txt").read_text().splitlines()) == 2
    starts = json.loads((run / "versions.json").read_text())  # one entry per start, beside command.txt
    assert len(starts) == 2 and starts[0]["packages"]["numpy"] == np.__version__
    assert starts[1]["python"] == platform.python_version() and "gymnasium" in starts[1]["packages"]
    assert [e["command"] for e in starts] == (run / "command.txt").read_text().splitlines()
    # resuming a finished run with the same budget does nothing and says so
    proc = cli("train", "--resume", str(run), "--no-progress")
    assert proc.returncode == 0 and read_status(run)["env_steps"] == budget
    assert "already finished" in proc.stderr and len((run / "command.txt").read_text().splitlines()) == 2
    # --resume auto when the latest run finished: a new run, and why
    proc = cli("train", "--env", "Pendulum-v1", "--algo", "random", "--resume", "auto", "--run-root", str(tmp_path),
               "--budget", "160", "--no-progress", *TINY)
    assert proc.returncode == 0, proc.stderr
    assert "starting a new run" in proc.stderr and f"the latest run {run} finished" in proc.stderr
    assert run_folder(proc.stdout) != run
    # --resume RUN_DIR follows the rule of --resume auto: a setting other than the run's is refused
    proc = cli("train", "--resume", str(run), "--set", "options.popsize=6")
    assert proc.returncode == 2 and "options.popsize: the run has 4, this command gives 6" in proc.stderr


def test_compare_smoke(tmp_path):
    out = tmp_path / "cmp"
    proc = cli("compare", "--env", "Pendulum-v1", "--algos", "random", "--seeds", "2", "--budget", "640",
               "--out", str(out), "--no-progress", "--set", "zerograds:options.sigma=0.1", *TINY)
    assert proc.returncode == 0, proc.stderr
    assert "| random | 2 |" in proc.stdout and f"tensorboard --logdir {out}" in proc.stdout
    assert (out / "comparison.md").is_file() and (out / "comparison.png").is_file()
    assert "warning: --set zerograds:options.sigma=0.1 is for zerograds, which is not in --algos" in proc.stderr
    proc = cli("compare", "--env", "Pendulum-v1", "--algos", "random,sgd", "--out", str(out))
    assert proc.returncode == 2 and "sgd" in proc.stderr
    proc = cli("compare", "--env", "Foo-v9", "--algos", "random", "--out", str(tmp_path / "foo"))
    assert proc.returncode == 2 and "'Foo-v9' is not a registered" in proc.stderr and "Ant-v2" not in proc.stderr
    # PPO's rollout (2048 steps) does not fit a budget of 1000: nothing starts, no folder, no empty report
    proc = cli("compare", "--env", "Pendulum-v1", "--algos", "random,ppo", "--budget", "1000", "--out",
               str(tmp_path / "small"), "--no-progress", "--set", "max_episode_steps=40", "--set",
               "random:options.popsize=4", "--set", "ppo:options.n_steps=1024", "--set", "ppo:options.n_envs=2")
    assert proc.returncode == 2 and "ppo: budget 1000" in proc.stderr and "nothing was started" in proc.stderr
    assert not (tmp_path / "small").exists()


# ---------------------------------------------------------------------------------------------- safe run folders
def start_train(tmp_path, *extra, budget="2000000"):
    """A zg-train in its own process group (as under ``timeout`` or a scheduler), serial unless ``extra`` says."""
    return subprocess.Popen(
        [sys.executable, "-m", "zg_agent.cli", "train", "--env", "Pendulum-v1", "--algo", "random", "--budget",
         budget, "--run-root", str(tmp_path), "--no-progress", *TINY, *extra],
        env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for_evaluations(tmp_path, n, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = list(tmp_path.glob("Pendulum-v1__random__s0__*"))
        if runs and len(read_evaluations(runs[0])) >= n:
            return runs[0]
        time.sleep(0.2)
    raise AssertionError(f"no run with {n} evaluations under {tmp_path}")


def test_sigterm_to_the_process_group_saves_and_a_second_process_is_refused(tmp_path):
    # process backend: SIGTERM reaches the trainer, its fork server and its workers, as `timeout` sends it
    proc = start_train(tmp_path, "--backend", "process", "--num-workers", "2")
    try:
        run = wait_for_evaluations(tmp_path, 3)
        before = (run / "config.yaml").read_text(), (run / "command.txt").read_text()
        for second in (["--env", "Pendulum-v1", "--algo", "random", "--resume", "auto", "--run-root", str(tmp_path)],
                       ["--resume", str(run)]):
            other = cli("train", *second, "--no-progress")
            assert other.returncode == 2, other.stderr
            assert f"is in use by process {proc.pid}" in other.stderr and "Traceback" not in other.stderr
        assert ((run / "config.yaml").read_text(), (run / "command.txt").read_text()) == before
        os.killpg(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "SIGTERM: stopping after this iteration" in err and "resume with: zg-train --resume" in out
    status = read_status(run)
    assert status["state"] == "interrupted" and status["checkpoint_env_steps"] == status["env_steps"] > 0
    budget = status["env_steps"] + 320
    proc = cli("train", "--resume", str(run), "--budget", str(budget), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert read_status(run)["state"] == "finished" and read_status(run)["env_steps"] == budget
    evals = [r["env_steps"] for r in read_evaluations(run)]
    assert evals == sorted(set(evals)) and evals[-1] == budget
    assert (run / "run.lock").read_text() == ""  # released


def stopped_run(tmp_path, iterations=2, **fields):
    """A run of random search on Pendulum stopped (as by Ctrl-C) after ``iterations`` iterations of 160 steps."""
    from zg_agent.config import load_config
    from zg_agent.trainers import train

    over = {"run_root": str(tmp_path), "max_episode_steps": 40, "options.popsize": 4, "eval_every": 320,
            "eval_episodes": 1, "budget": 100_000, **fields}

    def stop(trainer):
        if trainer.iteration == iterations:
            trainer.request_stop()

    result = train(load_config("random", "Pendulum-v1", overrides=over), callback=stop, command="zg-train ...")
    assert result.status == "interrupted" and result.env_steps == 160 * iterations
    return result.run_dir


def train_main_in_process(capsys, *args):
    from zg_agent.cli import train_main

    code = train_main([*args, "--no-progress"])
    out, err = capsys.readouterr()
    return code, out, err


def test_resume_auto_applies_the_rules_of_resume_run_dir(tmp_path, capsys):
    run = stopped_run(tmp_path, **{"options.sigma": 0.3})
    auto = ["--env", "Pendulum-v1", "--algo", "random", "--resume", "auto", "--run-root", str(tmp_path)]
    config = (run / "config.yaml").read_text()
    # a setting that differs from the run's is refused, naming it and both values
    code, _, err = train_main_in_process(capsys, *auto, "--set", "options.sigma=0.9", "--set", "eval_episodes=1")
    assert code == 2 and "options.sigma: the run has 0.3, this command gives 0.9" in err, err
    assert "eval_episodes" not in err and (run / "config.yaml").read_text() == config
    # the same settings (re-running the command that started it) resume; backend and workers are applied
    # and written into config.yaml, the budget too
    code, out, err = train_main_in_process(capsys, *auto, "--set", "options.sigma=0.3", "--set", "max_episode_steps=40",
                                           "--backend", "process", "--num-workers", "1", "--budget", "640")
    assert code == 0, err
    assert f"resuming {run}" in err and "with budget 640 (was 100000), backend 'process' (was 'serial'), " \
                                       "num_workers 1 (was None)" in err
    assert "backend: process" in (run / "config.yaml").read_text() and read_status(run)["env_steps"] == 640
    assert "options.sigma=0.3" in (run / "command.txt").read_text().splitlines()[-1]
    # --resume RUN_DIR: the same rule (here the run is finished with this budget: nothing to do)
    code, _, err = train_main_in_process(capsys, "--resume", str(run), "--set", "options.sigma=0.3")
    assert code == 0 and "already finished" in err, err
    code, _, err = train_main_in_process(capsys, "--resume", str(run), "--set", "options.sigma=0.4")
    assert code == 2 and "options.sigma: the run has 0.3, this command gives 0.4" in err, err


def test_resume_run_dir_with_a_config_file_keeps_the_runs_seed(tmp_path, capsys):
    run = stopped_run(tmp_path, seed=1)
    mine = tmp_path / "mine.yaml"
    mine.write_text("Pendulum-v1:\n  budget: 100000\n  policy: linear\n  max_episode_steps: 40\n"
                    "  eval_every: 320\n  eval_episodes: 1\n  options:\n    sigma: 0.2\n    popsize: 4\n")
    code, _, err = train_main_in_process(capsys, "--resume", str(run), "--config", str(mine), "--budget", "640")
    assert code == 0 and "seed" not in err, err
    assert read_status(run)["state"] == "finished" and read_status(run)["env_steps"] == 640


def test_resume_can_add_an_episode_timeout(tmp_path, capsys):
    run = stopped_run(tmp_path)
    code, _, err = train_main_in_process(capsys, "--resume", str(run), "--set", "episode_timeout_s=30",
                                         "--budget", "480")
    assert code == 0 and "episode_timeout_s 30.0 (was None)" in err, err
    assert "episode_timeout_s: 30.0" in (run / "config.yaml").read_text()


def test_budget_below_what_was_spent_is_an_error(tmp_path, capsys):
    run = stopped_run(tmp_path, iterations=3)  # 480 env steps
    files = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name != "run.lock"}
    code, _, err = train_main_in_process(capsys, "--resume", str(run), "--budget", "400")
    assert code == 2 and "budget 400 env steps is below the 480 env steps" in err and "--budget 480" in err, err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name != "run.lock"} == files
    assert read_status(run)["state"] == "interrupted"
    # a budget that the checkpoint already covers finishes the run there, with its final evaluation
    code, _, err = train_main_in_process(capsys, "--resume", str(run), "--budget", "480")
    assert code == 0, err
    assert read_status(run)["state"] == "finished" and read_evaluations(run)[-1]["env_steps"] == 480
    assert (run / "solution.pkl").is_file()
    code, _, err = train_main_in_process(capsys, "--resume", str(run), "--budget", "320")
    assert code == 2 and "below the 480 env steps that the finished run" in err


@pytest.mark.parametrize("damage", ["truncated", "garbled", "empty"])
def test_an_unreadable_checkpoint_is_named(damage, tmp_path, capsys):
    run = stopped_run(tmp_path)
    ckpt = run / "checkpoints" / "checkpoint.pkl"
    data = ckpt.read_bytes()
    ckpt.write_bytes({"truncated": data[: len(data) // 2], "garbled": bytes(range(256)) * 4, "empty": b""}[damage])
    code, _, err = train_main_in_process(capsys, "--resume", str(run), "--budget", "640")
    assert code == 2, err
    assert f"the checkpoint '{ckpt}' cannot be read" in err and "start a new run" in err
    assert "Traceback" not in err and "zg-train --resume" not in err
    assert read_status(run)["state"] == "interrupted"


def test_a_malformed_config_and_an_unwritable_run_root_are_named(tmp_path, capsys):
    run = stopped_run(tmp_path)
    (run / "config.yaml").write_text("algo: random\nbudget: [1, 2\n")
    for args in (["--resume", str(run)],
                 ["--env", "Pendulum-v1", "--algo", "random", "--resume", "auto", "--run-root", str(tmp_path)]):
        code, _, err = train_main_in_process(capsys, *args)
        assert code == 2 and f"config file '{run / 'config.yaml'}' is not valid YAML" in err, err
        assert "Traceback" not in err and len(err) < 600
    proc = cli("train", "--env", "Pendulum-v1", "--algo", "random", "--run-root", "/proc/nope", "--no-progress", *TINY)
    assert proc.returncode == 2 and "cannot create a run folder under the run root '/proc/nope'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_version():
    from importlib.metadata import version

    for command in ("train", "compare"):
        proc = cli(command, "--version")
        expected = f"zg-{command} (zerograds-gym) {version('zerograds-gym')}"
        assert proc.returncode == 0 and proc.stdout.strip() == expected


def test_a_hung_env_in_a_worker_fails_the_run_naming_candidate_and_seed(tmp_path, capsys):
    # toy_envs.HangingEnv (next to this file) sleeps two minutes with the reset seed of the first evaluation episode
    code, _, err = train_main_in_process(
        capsys, "--env", "toy_envs:Hanging-v0", "--algo", "random", "--budget", "6", "--backend", "process",
        "--num-workers", "1", "--run-root", str(tmp_path), "--set", "episode_timeout_s=1", "--set",
        "env_kwargs.hang_seed=1000003", "--set", "eval_episodes=1", "--set", "options.popsize=2")
    assert code == 1, err
    assert ("the episode of candidate 0 (of 1) with reset seed 1000003 ran longer than episode_timeout_s=1 s on env "
            "'toy_envs:Hanging-v0'") in err
    (run,) = tmp_path.iterdir()
    assert read_status(run)["state"] == "failed" and "EpisodeTimeoutError" in read_status(run)["error"]
