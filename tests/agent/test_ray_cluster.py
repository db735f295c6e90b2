"""A real Ray head started with ``ray start --head`` on the loopback address, joined by
``zg-train --backend ray --ray-address``: the run connects, whatever Ray's authentication default is, and gives
the same numbers as the serial backend.

The head runs in its own process group under a temporary HOME and temp dir, and is stopped by signalling that
group (``ray stop`` would stop every Ray process of the machine's user, other people's included).
``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` keeps Ray on 127.0.0.1: without it Ray replaces a loopback
``--node-ip-address`` (and a loopback ``--ray-address``) by the machine's network address and its servers
listen on every interface.
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from zg_agent.trainers import read_evaluations

pytest.importorskip("ray", reason="the ray extra: pip install -e .[ray]")

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray")) if Path(sys.executable).with_name("ray").is_file() else "ray"
TINY = ["--budget", "320", "--set", "max_episode_steps=40", "--set", "options.popsize=4", "--set",
        "eval_every=160", "--set", "eval_episodes=2"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}  # Ray's defaults, no auth mode
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
               RAY_USAGE_STATS_ENABLED="0")
    return env


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the head's process group, then SIGKILL to what is left after a grace period."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.time() + wait
        while time.time() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            proc.poll()
            time.sleep(0.2)


@pytest.fixture
def ray_head(request):
    """``(address, env)`` of a head on 127.0.0.1. "token": ``~/.ray/auth_token`` exists (as after any local
    ``ray.init()``), so current Ray's ``ray start --head`` enables token authentication by itself; "no-token":
    none exists and the head runs without authentication."""
    tmp = Path(tempfile.mkdtemp(prefix="zgray"))  # short: Ray's socket paths must stay under 107 characters
    home = tmp / "home"
    (home / ".ray").mkdir(parents=True)
    if request.param == "token":
        (home / ".ray" / "auth_token").write_text(secrets.token_hex(32))
    env = base_env(home)
    port = free_port()
    log = open(tmp / "head.log", "w")
    proc = subprocess.Popen(
        [RAY, "start", "--head", "--block", "--port", str(port), "--node-ip-address", "127.0.0.1",
         "--num-cpus", "1", "--include-dashboard=false", "--disable-usage-stats",
         "--ray-client-server-port", str(free_port()), "--dashboard-agent-listen-port", str(free_port()),
         "--object-store-memory", str(100 * 1024 * 1024), "--temp-dir", str(tmp / "ray")],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp)
    try:
        deadline = time.time() + 90
        while "Ray runtime started" not in (tmp / "head.log").read_text():
            assert proc.poll() is None and time.time() < deadline, (tmp / "head.log").read_text()[-3000:]
            time.sleep(0.5)
        text = (tmp / "head.log").read_text()
        assert "Local node IP: 127.0.0.1" in text, text[-3000:]
        assert ("Token authentication is enabled" in text) == (request.param == "token"), text[-3000:]
        yield f"127.0.0.1:{port}", env
    finally:
        stop_group(proc)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def zg_train(env, run_root, *args):
    return subprocess.run(
        [sys.executable, "-m", "zg_agent.cli", "train", "--env", "Pendulum-v1", "--algo", "es", "--seed", "0",
         "--run-root", str(run_root), "--no-progress", *TINY, *args],
        env=env, capture_output=True, text=True, timeout=240, cwd=ROOT)


def run_folder(stdout: str) -> Path:
    line = [ln for ln in stdout.splitlines() if ln.startswith("run folder: ")][-1]
    return Path(line.removeprefix("run folder: "))


@pytest.mark.slow
@pytest.mark.parametrize("ray_head", ["token", "no-token"], indirect=True)
def test_a_ray_start_head_cluster_gives_the_serial_numbers(ray_head, tmp_path):
    address, env = ray_head
    proc = zg_train(env, tmp_path / "ray", "--backend", "ray", "--ray-address", address, "--num-workers", "1")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "InvalidAuthToken" not in proc.stderr
    serial = zg_train(env, tmp_path / "serial", "--backend", "serial")
    assert serial.returncode == 0, serial.stderr[-4000:]
    on_ray, alone = read_evaluations(run_folder(proc.stdout)), read_evaluations(run_folder(serial.stdout))
    assert [r["env_steps"] for r in on_ray] == [r["env_steps"] for r in alone] == [0, 160, 320]
    assert [r["mean_reward"] for r in on_ray] == [r["mean_reward"] for r in alone]


@pytest.mark.slow
@pytest.mark.parametrize("ray_head", ["token"], indirect=True)
def test_a_missing_token_is_explained(ray_head, tmp_path):
    address, env = ray_head
    (tmp_path / "elsewhere").mkdir()
    env = dict(env, HOME=str(tmp_path / "elsewhere"))  # a machine without the head's token
    proc = zg_train(env, tmp_path / "ray", "--backend", "ray", "--ray-address", address, "--num-workers", "1")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"cannot connect to the Ray cluster at {address!r}" in proc.stderr
    assert "ray get-auth-token" in proc.stderr and "RAY_AUTH_TOKEN" in proc.stderr
