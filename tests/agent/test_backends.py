"""Evaluation backends of the episode objective: serial, process and Ray give bit-identical results; worker
life cycle (persisting, replacing, exiting with the parent, ignoring Ctrl-C); the episode timeout."""

import gc
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import toy_envs  # noqa: F401 - registers zgtest/Toy-v0, zgtest/ToyLimited-v0 and Hanging-v0
from zg_agent.objective import BACKENDS, EpisodeObjective, _EnvConfig


def _thetas(obj, n, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return obj.initial_params() + scale * rng.normal(size=(n, obj.num_params))


# ------------------------------------------------------------------------------------------ backends
def _pid_gone(pid, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        # a zombie (state Z) still has a /proc entry: the process only counts as gone once it was reaped
        if not os.path.exists(f"/proc/{pid}"):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _results(backend, kind, options, ray_address=None):
    with EpisodeObjective("Pendulum-v1", policy_kind=kind, policy_options=options, max_episode_steps=30,
                          backend=backend, num_workers=2, ray_address=ray_address, seed=3) as obj:
        thetas = _thetas(obj, 5, seed=1)
        first = obj.evaluate(thetas, obj.episode_seeds(0, 2))
        # normalisation statistics gathered on the backend feed the next call
        obj.policy.update_statistics(first.obs_stats)
        second = obj.evaluate(thetas, obj.episode_seeds(1, 2))
        return first, second, obj.policy.state_dict()


KINDS = [("linear", {}), ("mlp", {"hidden_sizes": (6,)}), ("open_loop", {"knots": 3})]


def _assert_same_results(got, ref):
    for r, g in zip(ref[:2], got[:2]):
        np.testing.assert_array_equal(g.returns, r.returns)
        np.testing.assert_array_equal(g.lengths, r.lengths)
        assert g.env_steps == r.env_steps
        if r.obs_stats is not None:
            assert g.obs_stats.count == r.obs_stats.count
            np.testing.assert_array_equal(g.obs_stats.mean, r.obs_stats.mean)
            np.testing.assert_array_equal(g.obs_stats.m2, r.obs_stats.m2)
    for k in ref[2]:
        np.testing.assert_array_equal(got[2][k], ref[2][k])


@pytest.mark.parametrize("kind,options", KINDS)
def test_serial_and_process_give_identical_results(kind, options):
    _assert_same_results(_results("process", kind, options), _results("serial", kind, options))
    assert BACKENDS == ("serial", "process", "ray")


@pytest.mark.parametrize("kind,options", KINDS)
def test_serial_and_ray_give_identical_results(ray_session, kind, options):
    _assert_same_results(_results("ray", kind, options), _results("serial", kind, options))
    assert ray_session.is_initialized()  # a session the caller started is never shut down by close()


class _FakeRay:
    """Just the session calls of Ray, to check who starts and who shuts down."""

    def __init__(self):
        self.up, self.inits, self.shutdowns = False, 0, 0

    def is_initialized(self):
        return self.up

    def init(self, **kwargs):
        self.up, self.inits = True, self.inits + 1

    def shutdown(self):
        self.up, self.shutdowns = False, self.shutdowns + 1


def test_ray_session_is_started_once_and_shut_down_by_its_last_user(monkeypatch):
    from zg_agent.objective import _RaySession

    for name, value in (("_users", 0), ("_generation", 0), ("_address", None)):
        monkeypatch.setattr(_RaySession, name, value)
    ray = _FakeRay()
    a = _RaySession.acquire(ray, None, 2)
    b = _RaySession.acquire(ray, None, 2)
    assert ray.inits == 1 and a == b is not None
    with pytest.raises(ValueError, match="ray_address='ray://elsewhere:10001' cannot be used .* local Ray"):
        _RaySession.acquire(ray, "ray://elsewhere:10001", 2)
    _RaySession.release(ray, a)
    assert ray.up and ray.shutdowns == 0
    _RaySession.release(ray, b)
    assert not ray.up and ray.shutdowns == 1
    # a session the user started is used and never shut down here
    ray.init()
    assert _RaySession.acquire(ray, None, 2) is None and ray.inits == 2
    # the user shut our session down and we started a new one: a ticket of the old one releases nothing
    ray.shutdown()
    old = _RaySession.acquire(ray, None, 1)
    ray.shutdown()
    new = _RaySession.acquire(ray, None, 1)
    _RaySession.release(ray, old)
    assert ray.up
    _RaySession.release(ray, new)
    assert not ray.up


def test_ray_objectives_share_one_local_session():
    pytest.importorskip("ray")
    # in a fresh interpreter, so that no Ray session exists yet (the module's fixture may hold one here)
    script = textwrap.dedent("""
        import numpy as np, ray
        from zg_agent.objective import EpisodeObjective
        kw = dict(policy_kind="linear", max_episode_steps=10, backend="ray", num_workers=1)
        a = EpisodeObjective("Pendulum-v1", **kw)
        b = EpisodeObjective("Pendulum-v1", **kw)
        ra = a.evaluate(np.zeros((2, a.num_params)), [0]).returns
        a.close()
        assert ray.is_initialized(), "closing the first objective shut Ray down under the second"
        rb = b.evaluate(np.zeros((2, b.num_params)), [0]).returns
        assert (ra == rb).all()
        b.close()
        assert not ray.is_initialized(), "the last objective left the Ray session it started running"
        print("shared-ok")
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1")
    env.pop("RAY_ADDRESS", None)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=180)
    assert out.returncode == 0 and "shared-ok" in out.stdout, out.stderr[-3000:]


@pytest.mark.filterwarnings("ignore:.*not within the observation space")
def test_ray_backend_reports_nan_with_candidate_and_seed(ray_session):
    with EpisodeObjective("Pendulum-v1", env_kwargs={"g": float("nan")}, policy_kind="linear",
                          max_episode_steps=10, backend="ray", num_workers=2) as obj:
        with pytest.raises(ValueError, match=r"candidate 0 with reset seed 8"):
            obj.evaluate(_thetas(obj, 3), [8, 9])


def test_process_backend_workers_persist_and_shut_down_cleanly():
    obj = EpisodeObjective("Pendulum-v1", policy_kind="linear", max_episode_steps=20, backend="process",
                           num_workers=2)
    assert obj.backend.pids == []  # started lazily
    obj.evaluate(_thetas(obj, 4), [0, 1])
    pids = obj.backend.pids
    assert len(pids) == 2
    obj.evaluate(_thetas(obj, 4), [2])
    assert obj.backend.pids == pids  # the same workers (and envs) serve every call
    obj.close()
    assert all(_pid_gone(p) for p in pids)
    obj.close()  # idempotent

    # garbage collection stops the workers too
    obj = EpisodeObjective("Pendulum-v1", policy_kind="linear", max_episode_steps=20, backend="process",
                           num_workers=1)
    obj.evaluate(_thetas(obj, 2), [0])
    pids = obj.backend.pids
    del obj
    gc.collect()
    assert all(_pid_gone(p) for p in pids)


def _exited(pid, timeout=5.0):
    """True once ``pid`` is gone or a zombie (a dead process whose new parent has not reaped it yet)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def _ppid(pid):
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads process states from /proc")
def test_process_workers_exit_when_the_parent_is_killed():
    # kill -9 of a trainer gives it no chance to stop its workers: they must notice and exit on their own
    script = textwrap.dedent("""
        import sys, time
        import numpy as np
        from zg_agent.objective import EpisodeObjective
        obj = EpisodeObjective("Pendulum-v1", policy_kind="linear", max_episode_steps=20, backend="process",
                               num_workers=2)
        obj.evaluate(np.zeros((2, obj.num_params)), [0])
        print(" ".join(map(str, obj.backend.pids)), flush=True)
        time.sleep(120)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=env, text=True)
    try:
        line = proc.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 2, line
        servers = {_ppid(p) for p in pids} - {proc.pid}  # the fork server, when the workers came from one
        assert all(not _exited(p, timeout=0.1) for p in pids)
    finally:
        proc.kill()
        proc.wait()
    assert all(_exited(p) for p in pids), [p for p in pids if not _exited(p, timeout=0)]
    assert all(_exited(p) for p in servers)


def test_process_backend_reports_nan():
    with EpisodeObjective("Pendulum-v1", env_kwargs={"g": float("nan")}, policy_kind="linear",
                          max_episode_steps=10, backend="process", num_workers=2) as obj:
        with pytest.raises(ValueError, match=r"candidate 0 with reset seed 4"):
            obj.evaluate(_thetas(obj, 3), [4])


def test_process_backend_replaces_a_dead_worker():
    with EpisodeObjective("Pendulum-v1", policy_kind="linear", max_episode_steps=20, backend="process",
                          num_workers=2) as obj:
        ref = obj.evaluate(_thetas(obj, 3), [0])
        old = obj.backend.pids
        os.kill(old[0], 9)
        assert _pid_gone(old[0])
        with pytest.warns(RuntimeWarning, match="restarting"):
            res = obj.evaluate(_thetas(obj, 3), [0])
        np.testing.assert_array_equal(res.returns, ref.returns)
        assert len(obj.backend.pids) == 2 and not set(obj.backend.pids) & set(old)


def test_process_workers_ignore_ctrl_c():
    # a terminal Ctrl-C reaches the whole process group; only the parent decides what to do with it
    with EpisodeObjective("Pendulum-v1", policy_kind="linear", max_episode_steps=20, backend="process",
                          num_workers=2) as obj:
        ref = obj.evaluate(_thetas(obj, 3), [0])
        pids = obj.backend.pids
        for pid in pids:
            os.kill(pid, signal.SIGINT)
        time.sleep(0.2)
        np.testing.assert_array_equal(obj.evaluate(_thetas(obj, 3), [0]).returns, ref.returns)
        assert obj.backend.pids == pids


def test_one_of_our_envs_on_serial_and_process_backends():
    # fixed-target design task: open-loop controls, one placement per step
    results = []
    for backend in ("serial", "process"):
        with EpisodeObjective("zg/ShadowCaster-v0", policy_kind="open_loop", max_episode_steps=8,
                              backend=backend, num_workers=2) as obj:
            assert obj.num_params == 8 * 4
            res = obj.evaluate(_thetas(obj, 3, scale=0.5), [0, 1])
            assert res.env_steps == 3 * 2 * 8
            results.append(res.returns)
    np.testing.assert_array_equal(results[0], results[1])
    assert len(set(results[0][:, 0].tolist())) == 3  # candidates differ


def _hopper_results(backend):
    with EpisodeObjective("zg/CharacterLocomotion-v0", env_kwargs={"character": "hopper"},
                          policy_kind="linear", max_episode_steps=80, backend=backend, num_workers=2,
                          seed=0) as obj:
        res = obj.evaluate(_thetas(obj, 16, scale=0.5), obj.episode_seeds(0, 2))
        return res.returns, res.lengths


def test_locomotion_hopper_on_serial_and_process_backends():
    # contacts: each worker's env runs a different sequence of episodes, so any trace a reset leaves
    # in the physics shows up as a difference between the backends
    serial, process = _hopper_results("serial"), _hopper_results("process")
    np.testing.assert_array_equal(process[0], serial[0])
    np.testing.assert_array_equal(process[1], serial[1])
    assert len(set(serial[1].ravel().tolist())) > 1  # episodes of different lengths (falls)


def test_locomotion_hopper_on_serial_and_ray_backends(ray_session):
    serial, ray = _hopper_results("serial"), _hopper_results("ray")
    np.testing.assert_array_equal(ray[0], serial[0])
    np.testing.assert_array_equal(ray[1], serial[1])


# ------------------------------------------------------------------------------------------ episode timeout
def test_process_backend_episode_timeout_names_candidate_and_seed():
    from zg_agent.objective import EpisodeTimeoutError

    # reset seed 7 makes the env sleep for two minutes; the timeout stops the workers after about a second
    with EpisodeObjective("toy_envs:Hanging-v0", policy_kind="linear", backend="process", num_workers=2,
                          episode_timeout_s=1.0) as obj:
        thetas = _thetas(obj, 3)
        ref = obj.evaluate(thetas, [1, 2])  # no hanging seed: the timeout changes nothing
        assert obj.backend.pids
        t0 = time.perf_counter()
        with pytest.raises(EpisodeTimeoutError, match=r"candidate [0-2] \(of 3\) with reset seed 7 ran longer "
                                                      r"than episode_timeout_s=1 s on env 'toy_envs:Hanging-v0'"):
            obj.evaluate(thetas, [1, 7])
        assert time.perf_counter() - t0 < 20
        assert obj.backend.pids == []  # the hung workers were killed
        np.testing.assert_array_equal(obj.evaluate(thetas, [1, 2]).returns, ref.returns)  # a fresh pool


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "5", True])
def test_episode_timeout_must_be_a_positive_number(bad):
    with pytest.raises(ValueError, match="episode_timeout_s must be None or a number of seconds > 0"):
        EpisodeObjective("Pendulum-v1", policy_kind="linear", backend="process", episode_timeout_s=bad)


class _HungRay:
    """Ray's task calls for a RayBackend whose every task hangs: wait() never returns one."""

    def __init__(self):
        self.killed, self.waits = [], []

    def put(self, value):
        return value

    def wait(self, refs, num_returns=1, timeout=None):
        self.waits.append(timeout)
        time.sleep(timeout or 0)
        return [], refs

    def kill(self, actor):
        self.killed.append(actor)


class _HungActor:
    class run:  # noqa: N801 - mimics actor.run.remote(...)
        @staticmethod
        def remote(state, jobs):
            return object()


def test_ray_backend_episode_timeout_names_the_chunk(monkeypatch):
    from zg_agent.objective import EpisodeTimeoutError, RayBackend, _RaySession

    # the actors of a real Ray session cannot import a test module, so Ray's calls are stood in for
    monkeypatch.setattr(_RaySession, "release", classmethod(lambda cls, ray, ticket: None))
    backend = object.__new__(RayBackend)
    backend.cfg = _EnvConfig("toy_envs:Hanging-v0", {}, None, "linear", {}, None)
    backend._ray, backend._actors, backend._session = _HungRay(), [_HungActor(), _HungActor()], None
    backend.num_workers, backend.chunks_per_worker, backend.episode_timeout_s = 2, 1, 0.2
    jobs = [(np.zeros(2), s) for s in (1, 7, 1, 7)]  # 2 chunks of 2 episodes
    with pytest.raises(EpisodeTimeoutError, match=r"a chunk of 2 episode\(s\), episodes 0\.\.1 of this call, ran "
                                                  r"longer than 2 x episode_timeout_s=0.2 s in a Ray actor") as info:
        backend.run(jobs, {})
    assert info.value.jobs == range(0, 2)
    assert 0.3 < backend._ray.waits[0] <= 0.4 and len(backend._ray.killed) == 2 and backend._actors is None
