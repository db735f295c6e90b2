"""The episode objective: ``theta -> -(mean return over episodes)``, evaluated on a backend.

:class:`EpisodeObjective` turns a Gymnasium env with a Box action space and a policy parameterisation
(:mod:`zg_agent.policies`) into a black-box loss for the ask/tell optimizers. Every candidate of one call
to :meth:`EpisodeObjective.evaluate` runs its episodes with the *same* reset seeds (common random numbers),
so differences in loss come from the candidates, not from the luck of the initial states.

Backends (``backend=``):

``"serial"``
    Every episode in the calling process, on one env built once.
``"process"``
    Persistent local worker processes (``multiprocessing`` with ``forkserver`` where available, else
    ``spawn``); each builds its own env and policy once and keeps them. Work is sent in chunks of episodes
    and results are put back in order. :meth:`EpisodeObjective.close` (or garbage collection, or
    interpreter exit) stops and joins the workers; if the parent is killed outright (``kill -9``), each
    worker notices within about a second and exits on its own.
``"ray"``
    Ray actors that own the envs, on the cluster at ``ray_address`` (``ray.init(address=...)``) or on a
    local Ray instance when ``ray_address`` is None. Every objective of a process shares one Ray session:
    Ray is started only if it is not initialised yet, and a session started here is shut down when the
    last objective using it closes (one started by the user is left alone). Ray is optional:
    ``pip install -e .[ray]``. On a remote cluster the package must be importable by the workers.

Each episode depends only on ``(theta, reset seed, policy statistics)``: the env is reset with the seed at the
start of every episode and the policy's observation statistics are frozen for the whole call and sent to
the workers with the work. Per-episode results are reassembled in candidate/episode order in the calling
process, so the same seed gives bit-identical returns and statistics on every backend.
"""

from __future__ import annotations

import difflib
import importlib
import math
import multiprocessing as mp
import os
import queue as queue_mod
import signal
import threading
import time
import traceback
import warnings
import weakref
from dataclasses import dataclass
from multiprocessing.connection import wait as wait_ready
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .policies import ObsStats, Policy, make_policy

BACKENDS = ("serial", "process", "ray")


# ---------------------------------------------------------------------------------------------- results
@dataclass
class EvalResult:
    """What :meth:`EpisodeObjective.evaluate` returns for ``n`` candidates and ``E`` episodes each.

    Attributes:
        losses: ``(n,)``, ``-mean(returns, axis=1)`` (minimisation convention).
        returns: ``(n, E)`` undiscounted episode returns.
        lengths: ``(n, E)`` episode lengths in env steps.
        env_steps: total env steps of this call (``lengths.sum()``).
        obs_stats: the merged :class:`~zg_agent.policies.ObsStats` of every observation the policy saw
            (candidate-major, episode order), for ``policy.update_statistics``; ``None`` when the policy
            keeps no statistics.
    """

    losses: np.ndarray
    returns: np.ndarray
    lengths: np.ndarray
    env_steps: int
    obs_stats: ObsStats | None


@dataclass
class _EnvConfig:
    """Everything a worker needs to build its own env and policy (picklable)."""

    env_id: str
    env_kwargs: dict
    max_episode_steps: int | None
    policy_kind: str
    policy_options: dict
    horizon: int | None


# ---------------------------------------------------------------------------------------------- env helpers
def _import_env_package(env_id: str) -> None:
    """Import the package that registers ``env_id``: ``zg/...`` ids come from ``zg_envs``; ``module:Id`` ids
    from ``module``."""
    if ":" in env_id:
        importlib.import_module(env_id.split(":", 1)[0])
    elif env_id.startswith("zg/"):
        importlib.import_module("zg_envs")


def _registered_id(env_id: str) -> str:
    return env_id.split(":", 1)[1] if ":" in env_id else env_id


def check_env_id(env_id) -> str:
    """Raise ``ValueError`` unless ``env_id`` is a registered Gymnasium id; suggests close matches."""
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(f"env_id must be a non-empty string, got {env_id!r}")
    try:
        _import_env_package(env_id)
    except ImportError as exc:
        raise ValueError(f"env_id {env_id!r}: cannot import the package that registers it ({exc})") from exc
    name = _registered_id(env_id)
    if name not in gym.registry:
        ids = sorted(gym.registry)
        close = difflib.get_close_matches(name, ids, n=5, cutoff=0.5)
        hint = f"did you mean {close}? " if close else ""
        zg = [i for i in ids if i.startswith("zg/")]
        raise ValueError(f"env_id {env_id!r} is not a registered Gymnasium environment; {hint}"
                         f"registered ids include {zg + [i for i in ids if '/' not in i][:20]} "
                         f"(see gymnasium.pprint_registry())")
    return env_id


def make_env(env_id: str, env_kwargs: dict | None = None, max_episode_steps: int | None = None,
             render_mode: str | None = None) -> gym.Env:
    """``gymnasium.make`` with clear errors for unknown ids, rejected kwargs and missing modules."""
    check_env_id(env_id)
    kwargs = dict(env_kwargs or {})
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    try:
        return gym.make(_registered_id(env_id), max_episode_steps=max_episode_steps, **kwargs)
    except TypeError as exc:
        raise ValueError(f"env_kwargs {env_kwargs!r} were rejected by {env_id!r}: {exc}") from exc
    except ImportError as exc:
        raise ValueError(f"env_id {env_id!r} is registered but its module cannot be imported: {exc}") from exc


def run_episode(env: gym.Env, policy: Policy, theta, seed: int, collect_stats: bool = False,
                render: bool = False):
    """One episode of ``theta`` from ``env.reset(seed=seed)`` until termination or truncation.

    Returns ``(return, length, obs_stats or None, frames or None)``. A non-finite reward ends the episode
    at once with a NaN return (the caller reports it).
    """
    ctrl = policy.controller(theta)
    obs, _ = env.reset(seed=int(seed))
    frames = [env.render()] if render else None
    seen = [] if collect_stats else None
    total, t = 0.0, 0
    while True:
        if seen is not None:
            seen.append(policy.flatten_obs(obs))
        obs, reward, terminated, truncated, _ = env.step(ctrl(obs, t))
        t += 1
        reward = float(reward)
        if not math.isfinite(reward):
            total = float("nan")
            break
        total += reward
        if render:
            frames.append(env.render())
        if terminated or truncated:
            break
    stats = ObsStats.from_batch(np.stack(seen)) if seen else None
    return total, t, stats, frames


def _run_jobs(env, policy: Policy, policy_state: dict, jobs, on_start=None):
    """Run ``jobs`` = [(theta, seed), ...] with the given policy statistics -> [(ret, len, stats), ...].
    ``on_start(j)`` is called before job ``j`` starts."""
    policy.load_state_dict(policy_state)
    collect = policy.uses_obs_stats
    out = []
    for j, (theta, seed) in enumerate(jobs):
        if on_start is not None:
            on_start(j)
        ret, length, stats, _ = run_episode(env, policy, theta, seed, collect_stats=collect)
        out.append((ret, length, stats))
    return out


class EpisodeTimeoutError(RuntimeError):
    """An episode ran longer than ``episode_timeout_s`` (a hung env). ``jobs`` are the indices, in the call's
    list of episodes, of the episode (process backend) or of the chunk holding it (Ray backend)."""

    def __init__(self, message: str, jobs: range | None = None):
        super().__init__(message)
        self.jobs = jobs


def _check_timeout(value, name: str = "episode_timeout_s"):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
        raise ValueError(f"{name} must be None or a number of seconds > 0, got {value!r}")
    return float(value)


def _build(cfg: _EnvConfig):
    env = make_env(cfg.env_id, cfg.env_kwargs, cfg.max_episode_steps)
    policy = make_policy(cfg.policy_kind, env.observation_space, env.action_space, cfg.horizon,
                         **cfg.policy_options)
    return env, policy


# ---------------------------------------------------------------------------------------------- backends
class Backend:
    """Runs lists of episodes ``[(theta, seed), ...]`` and returns ``[(return, length, stats), ...]`` in
    the same order."""

    name = ""

    def run(self, jobs: list, policy_state: dict) -> list:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        pass


class SerialBackend(Backend):
    """Every episode in the calling process on one env."""

    name = "serial"

    def __init__(self, cfg: _EnvConfig, env=None, policy=None):
        self.cfg = cfg
        self._owns_env = env is None
        self._env, self._policy = (env, policy) if env is not None else _build(cfg)

    def run(self, jobs, policy_state):
        if self._env is None:
            raise RuntimeError("the serial backend is closed")
        return _run_jobs(self._env, self._policy, policy_state, jobs)

    def close(self):
        if self._env is not None and self._owns_env:
            self._env.close()
        self._env = None


def _parent_watch():
    """A function ``() -> bool`` telling whether the process that started this worker still runs.

    ``multiprocessing.parent_process()`` holds a sentinel that becomes ready when the starting process exits,
    also under ``forkserver`` (where ``os.getppid()`` is the fork server, which outlives a killed parent for
    as long as its children run); a change of ``os.getppid()`` is the fallback where there is no sentinel."""
    parent = mp.parent_process()
    ppid = os.getppid()

    def alive() -> bool:
        if parent is not None and parent.sentinel is not None:
            return not wait_ready([parent.sentinel], timeout=0)
        return os.getppid() == ppid

    return alive


def _exit_with_parent(parent_alive, poll: float = 1.0) -> None:
    """Start a daemon thread that ends this worker at once (``os._exit``) when its parent process is gone,
    even in the middle of an episode; the task loop checks ``parent_alive`` too."""
    parent = mp.parent_process()
    sentinel = parent.sentinel if parent is not None else None

    def watch():
        while True:
            if sentinel is not None:
                wait_ready([sentinel], timeout=poll)
            else:
                time.sleep(poll)
            if not parent_alive():
                os._exit(0)

    threading.Thread(target=watch, name="zg-parent-watch", daemon=True).start()


def _process_worker(cfg: _EnvConfig, tasks, results, worker_index: int, progress=None) -> None:
    """Worker loop: build env and policy once, then run chunks until a ``None`` arrives or the parent process
    is gone (killed without a chance to stop its workers, e.g. ``kill -9``). ``progress`` (a shared array of 4
    doubles) holds the call, chunk and job number of the episode running now and its start time (0: idle)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # Ctrl-C and SIGTERM are the parent's to handle (``timeout`` and schedulers signal the whole process
    # group): it stops the workers through close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent_alive = _parent_watch()
    _exit_with_parent(parent_alive)
    try:
        env, policy = _build(cfg)
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        msg = f"worker {worker_index} could not build the env:\n{traceback.format_exc()}"
        results.put(((0, -1), "error", msg))
        return
    try:
        while True:
            try:
                msg = tasks.get(timeout=1.0)
            except queue_mod.Empty:
                if not parent_alive():
                    break
                continue
            if msg is None:
                break
            chunk_id, policy_state, jobs = msg  # chunk_id = (call number, chunk number)
            on_start = None
            if progress is not None:
                def on_start(j, call=chunk_id[0], cid=chunk_id[1]):
                    progress[3] = 0.0
                    progress[0], progress[1], progress[2] = call, cid, j
                    progress[3] = time.monotonic()
            try:
                out = _run_jobs(env, policy, policy_state, jobs, on_start)
                if progress is not None:
                    progress[3] = 0.0
                results.put((chunk_id, "ok", out))
            except BaseException:  # noqa: BLE001
                results.put((chunk_id, "error", traceback.format_exc()))
    finally:
        env.close()


def _stop_processes(procs, tasks, results, graceful: bool = True) -> None:
    """Stop the workers and join them (no zombies): ``graceful`` asks them to finish and exit, otherwise (or
    for stragglers) they are killed (they ignore SIGTERM). Safe to call twice."""
    if graceful:
        for p in procs:
            if p.is_alive():
                try:
                    tasks.put(None)
                except (OSError, ValueError):
                    pass
    for p in procs:
        if graceful:
            p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join()
    for q in (tasks, results):
        try:
            q.cancel_join_thread()  # whatever is still queued is abandoned; never block on it
            q.close()
        except (OSError, ValueError, AssertionError):
            pass
    procs.clear()


class ProcessBackend(Backend):
    """Persistent local worker processes, each with its own env (see the module docstring).

    Args:
        num_workers: number of processes (default ``os.cpu_count()``).
        start_method: ``"forkserver"`` (default where available) or ``"spawn"``; ``"fork"`` is refused
            because forking a process that holds threads (torch, Ray) can deadlock.
        chunks_per_worker: work of one call is cut into about this many chunks per worker, to balance load.
        episode_timeout_s: an episode running longer than this (a hung env) stops the pool and raises
            :class:`EpisodeTimeoutError` naming the episode; None waits for ever.

    Workers start at the first :meth:`run` and ignore SIGINT and SIGTERM (the parent's to handle; ``timeout``
    and schedulers signal the whole process group), as does their fork server. A worker found dead at the
    start of a call is replaced, with a ``RuntimeWarning``, before the call runs; a worker dying during a
    call, an episode raising or timing out, or a ``KeyboardInterrupt`` in the parent kills the pool and
    re-raises, and the next call starts a fresh one.
    """

    name = "process"

    def __init__(self, cfg: _EnvConfig, num_workers: int | None = None, start_method: str | None = None,
                 chunks_per_worker: int = 4, episode_timeout_s: float | None = None):
        allowed = [m for m in ("forkserver", "spawn") if m in mp.get_all_start_methods()]
        if start_method is None:
            start_method = allowed[0]
        if start_method not in allowed:
            raise ValueError(f"start_method must be one of {allowed}, got {start_method!r}")
        self.cfg = cfg
        self.num_workers = num_workers or os.cpu_count() or 1
        self.chunks_per_worker = int(chunks_per_worker)
        self.episode_timeout_s = _check_timeout(episode_timeout_s)
        self._progress: list = []
        self._ctx = mp.get_context(start_method)
        self._procs: list = []
        self._tasks = self._results = None
        self._finalizer = None
        self._calls = 0

    def _start(self):
        ctx = self._ctx
        if ctx.get_start_method() == "forkserver":
            # workers fork from a server that has imported this module once
            # (and ignores SIGTERM, like the workers: see zg_agent._forkserver_init)
            ctx.set_forkserver_preload(["zg_agent._forkserver_init", "zg_agent.objective"])
        self._tasks, self._results = ctx.Queue(), ctx.Queue()
        self._progress = [ctx.Array("d", 4, lock=False) for _ in range(self.num_workers)]
        for i in range(self.num_workers):
            p = ctx.Process(target=_process_worker,
                            args=(self.cfg, self._tasks, self._results, i, self._progress[i]),
                            name=f"zg-episode-worker-{i}", daemon=True)
            p.start()
            self._procs.append(p)
        # stop the workers when this backend is closed, collected, or the interpreter exits
        self._finalizer = weakref.finalize(self, _stop_processes, self._procs, self._tasks, self._results)

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers (empty before the first call and after ``close``)."""
        return [p.pid for p in self._procs]

    def run(self, jobs, policy_state):
        if not jobs:
            return []
        dead = [p for p in self._procs if not p.is_alive()]
        if dead:
            codes = {p.name: p.exitcode for p in dead}
            warnings.warn(f"episode worker process(es) exited (exit codes {codes}); restarting the pool",
                          RuntimeWarning, stacklevel=3)
            self.close(graceful=False)
        if not self._procs:
            self._start()
        self._calls += 1
        call = self._calls
        size = max(1, math.ceil(len(jobs) / (self.num_workers * self.chunks_per_worker)))
        chunks = [jobs[i:i + size] for i in range(0, len(jobs), size)]
        try:
            for cid, chunk in enumerate(chunks):
                self._tasks.put(((call, cid), policy_state, chunk))
            done: dict[int, list] = {}
            while len(done) < len(chunks):
                self._check_timeouts(call, size, jobs)
                try:
                    (c, cid), status, payload = self._results.get(timeout=1.0)
                except queue_mod.Empty:
                    dead = [p for p in self._procs if not p.is_alive()]
                    if dead:
                        codes = {p.name: p.exitcode for p in dead}
                        raise RuntimeError(f"episode worker process(es) died: exit codes {codes}") from None
                    continue
                if status != "ok":
                    raise RuntimeError(f"an episode failed in a worker process:\n{payload}")
                if c == call:
                    done[cid] = payload
        except BaseException:
            # an error or Ctrl-C leaves work queued: stop the workers now; the next call starts fresh ones
            self.close(graceful=False)
            raise
        return [r for cid in range(len(chunks)) for r in done[cid]]

    def _check_timeouts(self, call: int, size: int, jobs) -> None:
        """Raise :class:`EpisodeTimeoutError` when a worker's current episode of this call has run longer
        than ``episode_timeout_s``."""
        limit = self.episode_timeout_s
        if limit is None:
            return
        now = time.monotonic()
        for i, prog in enumerate(self._progress):
            start = prog[3]
            c, cid, j = int(prog[0]), int(prog[1]), int(prog[2])
            if start <= 0 or c != call or prog[3] != start or now - start <= limit:
                continue
            job = cid * size + j
            seed = int(jobs[job][1]) if job < len(jobs) else None
            raise EpisodeTimeoutError(
                f"episode {job} of this call (reset seed {seed}) ran longer than episode_timeout_s={limit:g} s in "
                f"worker process {i} (env {self.cfg.env_id!r}); the env may hang. The workers were stopped",
                range(job, job + 1))

    def close(self, graceful: bool = True):
        """Stop and join the workers (idempotent; a later ``run`` starts new ones)."""
        if self._finalizer is not None:
            finalizer, self._finalizer = self._finalizer, None
            if graceful:
                finalizer()  # runs _stop_processes once
            else:
                finalizer.detach()
                _stop_processes(self._procs, self._tasks, self._results, graceful=False)
        self._procs = []


class _RayEpisodeWorker:
    """Body of a Ray actor: builds env and policy once, then runs chunks."""

    def __init__(self, cfg: _EnvConfig):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        self.env, self.policy = _build(cfg)

    def run(self, policy_state, jobs):
        return _run_jobs(self.env, self.policy, policy_state, jobs)


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise ImportError("backend='ray' needs Ray, an optional extra: pip install -e .[ray] "
                          "(or pip install 'ray>=2.9')") from exc
    return ray


def _use_ray_token_if_available() -> None:
    """Send Ray's auth token when joining a cluster by address, if a token is at hand and ``RAY_AUTH_MODE``
    is unset.

    Since Ray 2.59, ``ray start --head`` turns token authentication on by itself whenever a token exists
    (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or ``~/.ray/auth_token``, a file that every local
    ``ray.init()`` now writes), but ``ray.init(address="HOST:PORT")`` does not: with ``RAY_AUTH_MODE`` unset it
    connects without the token and the head answers ``InvalidAuthToken``. ``ray.init(address="auto")`` does
    the same check as the head; this applies it to an explicit address too (a head without authentication
    ignores the token). An explicit ``RAY_AUTH_MODE`` is left as it is; a Ray without token authentication
    (before 2.52) has nothing to do.
    """
    if os.environ.get("RAY_AUTH_MODE") is not None:
        return
    try:
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available as enable)
    except ImportError:
        return
    try:
        enable(warn_if_disabled=False)
    except TypeError:  # Ray 2.59: no keyword
        enable()


def _connect_ray(ray, address: str) -> None:
    """``ray.init(address=...)`` with the token authentication that the head uses (see
    :func:`_use_ray_token_if_available`); a failed connection says what to check."""
    _use_ray_token_if_available()
    try:
        ray.init(address=address, log_to_driver=False)
    except ConnectionError as exc:
        mode = os.environ.get("RAY_AUTH_MODE") or "unset"
        raise ConnectionError(
            f"cannot connect to the Ray cluster at {address!r} ({exc}). Check that its head runs (ray status "
            f"--address {address}) and, if the log above says InvalidAuthToken, that this machine has the "
            f"head's auth token (RAY_AUTH_MODE is {mode}): copy the output of 'ray get-auth-token' on the head "
            f"into ~/.ray/auth_token here, or set RAY_AUTH_TOKEN; see the README's Ray section") from exc


class _RaySession:
    """The Ray session that this module started in this process, shared by every Ray backend.

    :meth:`acquire` starts Ray only when ``ray.is_initialized()`` is False and counts the backends using a
    session it started; :meth:`release` shuts Ray down when the last of them closes. A session started by
    someone else (``ray.init`` in user code, a Ray job) is used as it is and never shut down here.
    """

    _lock = threading.Lock()
    _users = 0  # backends holding the session this module started (0: none started, or already shut down)
    _address: str | None = None
    _generation = 0  # sessions started so far: a reference to an earlier one (shut down by the user) is void

    @classmethod
    def acquire(cls, ray, address: str | None, num_workers: int | None) -> int | None:
        """Make sure Ray is initialised. Returns a ticket for :meth:`release` when the caller holds a reference
        to a session started here, else None."""
        with cls._lock:
            if not ray.is_initialized():
                if address is None:
                    # room for every objective that may share this session, not only the first one
                    num_cpus = max(num_workers or 1, os.cpu_count() or 1)
                    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
                else:
                    _connect_ray(ray, address)
                cls._users, cls._address = 0, address
                cls._generation += 1
            elif cls._users == 0:
                return None  # initialised by someone else: theirs to shut down
            elif address != cls._address:
                current = f"the Ray cluster at {cls._address!r}" if cls._address else "a local Ray instance"
                raise ValueError(f"ray_address={address!r} cannot be used while this process uses {current} "
                                 f"for another objective; close that objective first or give the same "
                                 f"ray_address")
            cls._users += 1
            return cls._generation

    @classmethod
    def release(cls, ray, ticket: int) -> None:
        with cls._lock:
            if ticket != cls._generation or cls._users == 0:
                return  # that session is gone already
            cls._users -= 1
            if cls._users == 0 and ray.is_initialized():
                ray.shutdown()


class RayBackend(Backend):
    """Ray actors own the envs (see the module docstring).

    Args:
        address: Ray cluster address for ``ray.init(address=...)`` (e.g. ``"auto"`` or
            ``"ray://host:10001"``); ``None`` starts a local instance with every CPU of the machine. Either
            way Ray is started only when it is not initialised yet: every Ray backend of the process shares
            one session, and the one started here is shut down when the last backend using it closes. A
            session the user started with ``ray.init`` is used and left running.
        num_workers: number of actors (default: the CPUs the cluster reports, at least 1).
        episode_timeout_s: a chunk of k episodes running longer than k times this (a hung env) kills the
            actors, closes the backend and raises :class:`EpisodeTimeoutError` naming the chunk's episodes.
    """

    name = "ray"

    def __init__(self, cfg: _EnvConfig, address: str | None = None, num_workers: int | None = None,
                 chunks_per_worker: int = 4, episode_timeout_s: float | None = None):
        self.cfg = cfg
        self.episode_timeout_s = _check_timeout(episode_timeout_s)
        ray = _import_ray()
        self._ray = ray
        self._actors = None
        self._session = _RaySession.acquire(ray, address, num_workers)
        try:
            cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
            if num_workers is None:
                num_workers = cpus
            elif num_workers > cpus:
                # each actor holds one CPU; more actors than CPUs would wait forever to be scheduled
                warnings.warn(f"num_workers={num_workers} exceeds the {cpus} CPUs of the Ray cluster; "
                              f"using {cpus}", stacklevel=3)
                num_workers = cpus
            self.num_workers = int(num_workers)
            self.chunks_per_worker = int(chunks_per_worker)
            actor_cls = ray.remote(num_cpus=1)(_RayEpisodeWorker)
            self._actors = [actor_cls.remote(cfg) for _ in range(self.num_workers)]
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        ticket, self._session = getattr(self, "_session", None), None
        if ticket is not None:
            _RaySession.release(self._ray, ticket)

    def run(self, jobs, policy_state):
        if not jobs:
            return []
        if self._actors is None:
            raise RuntimeError("the ray backend is closed")
        ray = self._ray
        size = max(1, math.ceil(len(jobs) / (self.num_workers * self.chunks_per_worker)))
        chunks = [jobs[i:i + size] for i in range(0, len(jobs), size)]
        state_ref = ray.put(policy_state)
        # dynamic load balancing: each actor takes the next chunk when it finishes one
        results: dict[int, list] = {}
        pending: dict[Any, tuple[int, int]] = {}
        deadline: dict[Any, float] = {}  # with episode_timeout_s: when each pending chunk is overdue
        limit = self.episode_timeout_s
        next_chunk = 0
        for a in range(min(self.num_workers, len(chunks))):
            ref = self._actors[a].run.remote(state_ref, chunks[next_chunk])
            pending[ref] = (next_chunk, a)
            deadline[ref] = time.monotonic() + len(chunks[next_chunk]) * (limit or 0.0)
            next_chunk += 1
        while pending:
            wait_s = None if limit is None else max(0.0, min(deadline[r] for r in pending) - time.monotonic())
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=wait_s)
            if not ready:
                late = min(pending, key=deadline.get)
                cid = pending[late][0]
                first, n = cid * size, len(chunks[cid])
                self.close()
                raise EpisodeTimeoutError(
                    f"a chunk of {n} episode(s), episodes {first}..{first + n - 1} of this call, ran longer than "
                    f"{n} x episode_timeout_s={limit:g} s in a Ray actor (env {self.cfg.env_id!r}); the env may "
                    f"hang. The actors were stopped and the backend closed", range(first, first + n))
            [ready] = ready
            cid, a = pending.pop(ready)
            try:
                results[cid] = ray.get(ready)
            except Exception as exc:
                raise RuntimeError(f"an episode failed in a Ray actor: {exc}") from exc
            if next_chunk < len(chunks):
                ref = self._actors[a].run.remote(state_ref, chunks[next_chunk])
                pending[ref] = (next_chunk, a)
                deadline[ref] = time.monotonic() + len(chunks[next_chunk]) * (limit or 0.0)
                next_chunk += 1
        return [r for cid in range(len(chunks)) for r in results[cid]]

    def close(self):
        """Kill the actors; shut Ray down if this was the last backend using the session started here."""
        actors, self._actors = getattr(self, "_actors", None), None
        for actor in actors or ():
            try:
                self._ray.kill(actor)
            except Exception:  # noqa: BLE001 - cluster may already be gone
                pass
        self._release()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass


def make_backend(name: str, cfg: _EnvConfig, num_workers: int | None = None, ray_address: str | None = None,
                 **options) -> Backend:
    """Build an evaluation backend by name (one of :data:`BACKENDS`)."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {name!r}")
    if num_workers is not None and (isinstance(num_workers, bool) or not isinstance(num_workers, int)
                                    or num_workers < 1):
        raise ValueError(f"num_workers must be a positive integer or None, got {num_workers!r}")
    if name == "serial":
        options.pop("episode_timeout_s", None)  # episodes run in this process: no timeout (see EpisodeObjective)
        return SerialBackend(cfg, **options)
    if name == "process":
        return ProcessBackend(cfg, num_workers=num_workers, **options)
    return RayBackend(cfg, address=ray_address, num_workers=num_workers, **options)


# ---------------------------------------------------------------------------------------------- objective
class EpisodeObjective:
    """``theta -> -(mean return over episodes)`` of a policy in a Gymnasium env.

    Args:
        env_id: registered Gymnasium id (``"Pendulum-v1"``, ``"zg/ShadowCaster-v0"``, ``"module:Id"``).
        env_kwargs: keyword arguments for ``gymnasium.make``.
        policy_kind: ``"open_loop"``, ``"linear"`` or ``"mlp"`` (:func:`zg_agent.policies.make_policy`).
        policy_options: keyword arguments of that policy (``knots``, ``hidden_sizes``, ``squash``, ...).
        episodes: episodes per candidate that :meth:`episode_seeds` hands out by default.
        max_episode_steps: time limit (overrides the registered one). Also the open-loop horizon.
        backend: ``"serial"``, ``"process"`` or ``"ray"``.
        num_workers: processes / actors for the parallel backends (default: all CPUs).
        ray_address: Ray cluster address; ``None`` = local instance.
        seed: seed of :meth:`initial_params` and of :meth:`episode_seeds`.
        episode_timeout_s: process and Ray backends: an episode that runs longer than this many seconds (a
            hung env) stops the workers and raises :class:`EpisodeTimeoutError` naming the candidate and reset
            seed (Ray: the candidates of the chunk holding it). None (default): no limit. The serial backend
            runs episodes in this process, where a hung env cannot be stopped, and ignores it.

    Attributes:
        policy: the :class:`~zg_agent.policies.Policy`; its observation statistics are *not* updated by
            :meth:`evaluate` - the caller decides which rollouts count (ARS: the training rollouts) and calls
            ``objective.policy.update_statistics(result.obs_stats)``.
        total_env_steps: env steps used by every :meth:`evaluate` and :meth:`rollout` so far.

    Raises:
        ValueError: unknown env id, policy kind or backend, non-Box action space, missing horizon.
        ImportError: ``backend="ray"`` without Ray installed.
    """

    def __init__(self, env_id: str, env_kwargs: dict | None = None, policy_kind: str = "open_loop",
                 policy_options: dict | None = None, episodes: int = 1, max_episode_steps: int | None = None,
                 backend: str = "serial", num_workers: int | None = None, ray_address: str | None = None,
                 seed: int = 0, episode_timeout_s: float | None = None):
        self.episode_timeout_s = _check_timeout(episode_timeout_s)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
        if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
            raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
        if max_episode_steps is not None and (isinstance(max_episode_steps, bool) or
                                              not isinstance(max_episode_steps, int) or max_episode_steps < 1):
            raise ValueError(f"max_episode_steps must be a positive integer or None, got {max_episode_steps!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if env_kwargs is not None and not isinstance(env_kwargs, dict):
            raise ValueError(f"env_kwargs must be a dict or None, got {env_kwargs!r}")
        if policy_options is not None and not isinstance(policy_options, dict):
            raise ValueError(f"policy_options must be a dict or None, got {policy_options!r}")
        self.env_id = env_id
        self.env_kwargs = dict(env_kwargs or {})
        self.policy_kind = policy_kind
        self.policy_options = dict(policy_options or {})
        self.episodes = episodes
        self.backend_name = backend
        self.seed = int(seed)
        self.total_env_steps = 0
        self._render_env = None

        env = make_env(env_id, self.env_kwargs, max_episode_steps)
        try:
            if not isinstance(env.action_space, spaces.Box):
                raise ValueError(f"env {env_id!r} has action space {env.action_space!r}; only "
                                 f"gymnasium.spaces.Box action spaces are supported")
            spec_steps = env.spec.max_episode_steps if env.spec is not None else None
            self.max_episode_steps = max_episode_steps
            self.horizon = max_episode_steps or spec_steps
            if self.horizon is None and policy_kind == "open_loop":
                raise ValueError(f"max_episode_steps is required for env {env_id!r} with the 'open_loop' "
                                 f"policy: the env has no registered time limit to use as the horizon")
            self.policy = make_policy(policy_kind, env.observation_space, env.action_space, self.horizon,
                                      **self.policy_options)
        except BaseException:
            env.close()
            raise
        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self._cfg = _EnvConfig(env_id, self.env_kwargs, max_episode_steps, policy_kind, self.policy_options,
                               self.horizon)
        # the main env serves rollout() and the serial backend; parallel backends build their own
        self._env = env
        self._local_policy = make_policy(policy_kind, env.observation_space, env.action_space, self.horizon,
                                         **self.policy_options)
        if backend == "serial":
            self.backend = SerialBackend(self._cfg, env=self._env, policy=self._local_policy)
        else:
            try:
                self.backend = make_backend(backend, self._cfg, num_workers=num_workers,
                                            ray_address=ray_address, episode_timeout_s=self.episode_timeout_s)
            except BaseException:
                env.close()
                raise

    # -------------------------------------------------------------------------------------- properties
    @property
    def num_params(self) -> int:
        return self.policy.num_params

    def initial_params(self, seed: int | None = None) -> np.ndarray:
        """``policy.initial_params(seed)`` (default: the objective's seed)."""
        return self.policy.initial_params(self.seed if seed is None else seed)

    def episode_seeds(self, iteration: int, count: int | None = None) -> list[int]:
        """Reset seeds for one iteration (``count`` defaults to ``episodes``), a deterministic function of
        ``(seed, iteration)``. Use the same list for every candidate of that iteration."""
        count = self.episodes if count is None else count
        ss = np.random.SeedSequence([self.seed, int(iteration)])
        return [int(s) for s in ss.generate_state(count, dtype=np.uint32)]

    # -------------------------------------------------------------------------------------- evaluation
    def _check_thetas(self, thetas) -> np.ndarray:
        x = np.asarray(thetas, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.num_params or x.shape[0] == 0:
            raise ValueError(f"thetas must have shape (n, {self.num_params}) with n >= 1, "
                             f"got {np.shape(thetas)}")
        if not np.all(np.isfinite(x)):
            rows = np.flatnonzero(~np.all(np.isfinite(x), axis=1))
            raise ValueError(f"thetas must be finite; candidate(s) {rows[:10].tolist()} contain NaN or inf")
        return x

    @staticmethod
    def _check_seeds(reset_seeds) -> list[int]:
        try:
            seeds = list(reset_seeds)
        except TypeError:
            seeds = None
        if not seeds or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0
                                for s in seeds):
            raise ValueError(f"reset_seeds must be a non-empty list of non-negative integers, "
                             f"got {reset_seeds!r}")
        return [int(s) for s in seeds]

    def evaluate(self, thetas, reset_seeds) -> EvalResult:
        """Run every candidate (rows of ``thetas``) once per reset seed.

        Every candidate uses the same ``reset_seeds`` (common random numbers). The policy's observation
        statistics are frozen during the call. Raises ``ValueError`` if an episode returns NaN, naming the
        candidate index and the reset seed.
        """
        if self.backend is None:
            raise RuntimeError("the objective is closed")
        x = self._check_thetas(thetas)
        seeds = self._check_seeds(reset_seeds)
        jobs = [(x[i], s) for i in range(x.shape[0]) for s in seeds]
        n, e = x.shape[0], len(seeds)
        try:
            out = self.backend.run(jobs, self.policy.state_dict())
        except EpisodeTimeoutError as exc:
            raise self._timeout_error(exc, n, seeds) from None
        returns = np.array([r[0] for r in out], dtype=np.float64).reshape(n, e)
        lengths = np.array([r[1] for r in out], dtype=np.int64).reshape(n, e)
        self.total_env_steps += int(lengths.sum())
        bad = np.argwhere(~np.isfinite(returns))
        if bad.size:
            i, j = (int(v) for v in bad[0])
            raise ValueError(f"episode return is {returns[i, j]} for candidate {i} with reset seed {seeds[j]} "
                             f"(env {self.env_id!r}; {len(bad)} non-finite episode(s) in this batch)")
        stats = ObsStats.merge_all((r[2] for r in out), self.policy.obs_dim) if self.policy.uses_obs_stats \
            else None
        return EvalResult(losses=-returns.mean(axis=1), returns=returns, lengths=lengths,
                          env_steps=int(lengths.sum()), obs_stats=stats)

    def _timeout_error(self, exc: EpisodeTimeoutError, n: int, seeds: list[int]) -> EpisodeTimeoutError:
        """``exc`` restated with candidate numbers and reset seeds."""
        e = len(seeds)
        jobs = exc.jobs if exc.jobs is not None else range(0)
        where = f"the {self.backend_name} backend's workers were stopped"
        if len(jobs) == 1:
            i, s = divmod(jobs[0], e)
            what = f"the episode of candidate {i} (of {n}) with reset seed {seeds[s]}"
        elif len(jobs) > 1:
            cands = sorted({j // e for j in jobs})
            used = sorted({seeds[j % e] for j in jobs})
            what = (f"an episode of candidates {cands[0]}..{cands[-1]} (of {n}), reset seeds {used}, run as one "
                    f"chunk,")
        else:
            what = "an episode"
        return EpisodeTimeoutError(
            f"{what} ran longer than episode_timeout_s={self.episode_timeout_s:g} s on env {self.env_id!r}: the "
            f"env may hang; {where}", jobs)

    def __call__(self, theta, reset_seeds=None) -> float:
        """Loss of one ``theta`` (reset seeds default to ``episode_seeds(0)``)."""
        seeds = self.episode_seeds(0) if reset_seeds is None else reset_seeds
        return float(self.evaluate(np.asarray(theta)[None, :], seeds).losses[0])

    def rollout(self, theta, seed: int, render: bool = False):
        """One episode in this process (current statistics, no update): ``(return, length, frames or None)``.

        With ``render=True`` the frames come from a second env built with ``render_mode="rgb_array"``.
        """
        theta = self._check_thetas(theta)[0]
        seed = self._check_seeds([seed])[0]
        if render:
            if self._render_env is None:
                modes = (self._env.metadata or {}).get("render_modes", [])
                if "rgb_array" not in modes:
                    raise ValueError(f"render=True needs an env with render_mode 'rgb_array'; {self.env_id!r} "
                                     f"supports {modes}")
                self._render_env = make_env(self.env_id, self.env_kwargs, self.max_episode_steps, "rgb_array")
            env = self._render_env
        else:
            env = self._env
        self._local_policy.load_state_dict(self.policy.state_dict())
        ret, length, _, frames = run_episode(env, self._local_policy, theta, seed, render=render)
        self.total_env_steps += int(length)
        return ret, length, frames

    def close(self) -> None:
        """Stop workers and close envs (idempotent)."""
        backend = getattr(self, "backend", None)
        if backend is not None:
            backend.close()
            self.backend = None
        for name in ("_env", "_render_env"):
            env = getattr(self, name, None)
            if env is not None:
                env.close()
                setattr(self, name, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return (f"EpisodeObjective(env_id={self.env_id!r}, policy={self.policy!r}, "
                f"backend={self.backend_name!r}, horizon={self.horizon})")
