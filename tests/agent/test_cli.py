"""CLI smoke tests through subprocess: zg-train, zg-compare, Ctrl-C and resume, bad arguments."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def test_train_smoke(tmp_path):
    proc = cli("train", "--env", "Pendulum-v1", "--algo", "random", "--seed", "1", "--budget", "960",
               "--run-root", str(tmp_path), "--no-progress", *TINY)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("finished: random on Pendulum-v1 seed 1: 960 env steps")
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
    (["--env", "Pendulum-v1", "--algo", "sgd"], 2, ["--algo", "sgd", "zerograds"]),
    (["--algo", "random"], 2, ["--env and --algo are required"]),
    (["--env", "Pendulum-v1", "--algo", "random", "--set", "options.popsize=two"], 2, ["options.popsize", "int"]),
    (["--env", "Pendulum-v1", "--algo", "random", "--budget", "100", "--set", "options.popsize=4"], 1,
     ["budget 100", "smaller than one iteration", "keeps the last checkpoint"]),
])
def test_train_bad_arguments(args, code, words, tmp_path):
    proc = cli("train", *args, "--run-root", str(tmp_path), "--no-progress")
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    for w in words:
        assert w in proc.stderr, (w, proc.stderr)
    if code == 2:
        assert not tmp_path.exists() or not any(tmp_path.iterdir())  # no run folder for a bad command
    else:
        (run,) = tmp_path.iterdir()
        assert (run / "error.txt").is_file() and read_status(run)["state"] == "failed"


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
    # resuming a finished run with the same budget does nothing and says so
    proc = cli("train", "--resume", str(run), "--no-progress")
    assert proc.returncode == 0 and read_status(run)["env_steps"] == budget
    proc = cli("train", "--resume", str(run), "--set", "budget=5")
    assert proc.returncode == 2 and "cannot change a run being resumed" in proc.stderr


def test_compare_smoke(tmp_path):
    out = tmp_path / "cmp"
    proc = cli("compare", "--env", "Pendulum-v1", "--algos", "random", "--seeds", "2", "--budget", "640",
               "--out", str(out), "--no-progress", *TINY)
    assert proc.returncode == 0, proc.stderr
    assert "| random | 2 |" in proc.stdout and f"tensorboard --logdir {out}" in proc.stdout
    assert (out / "comparison.md").is_file() and (out / "comparison.png").is_file()
    proc = cli("compare", "--env", "Pendulum-v1", "--algos", "random,sgd", "--out", str(out))
    assert proc.returncode == 2 and "sgd" in proc.stderr
    assert cli("nonsense").returncode == 2
