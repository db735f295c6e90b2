"""The process backend: persistent local worker processes, each with its own env (see :mod:`zg_agent.rollout`)."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
import signal
import threading
import time
import traceback
import warnings
import weakref
from multiprocessing.connection import wait as wait_ready

from .jobs import EpisodeTimeoutError, _EnvConfig, build, check_timeout, chunk_jobs, run_jobs
from .serial import Backend


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
        env, policy = build(cfg)
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
                out = run_jobs(env, policy, policy_state, jobs, on_start)
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
        self.episode_timeout_s = check_timeout(episode_timeout_s)
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
            ctx.set_forkserver_preload(["zg_agent._forkserver_init", "zg_agent.rollout.process"])
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
        size, chunks = chunk_jobs(jobs, self.num_workers, self.chunks_per_worker)
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

