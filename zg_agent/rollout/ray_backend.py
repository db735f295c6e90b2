"""The Ray backend: Ray actors that own the envs, one shared Ray session per process (see
:mod:`zg_agent.rollout`)."""

from __future__ import annotations

import os
import threading
import time
import warnings
from typing import Any

from .jobs import EpisodeTimeoutError, _EnvConfig, build, check_timeout, chunk_jobs, run_jobs
from .serial import Backend


class _RayEpisodeWorker:
    """Body of a Ray actor: builds env and policy once, then runs chunks."""

    def __init__(self, cfg: _EnvConfig):
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        self.env, self.policy = build(cfg)

    def run(self, policy_state, jobs):
        return run_jobs(self.env, self.policy, policy_state, jobs)


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
        self.episode_timeout_s = check_timeout(episode_timeout_s)
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
        size, chunks = chunk_jobs(jobs, self.num_workers, self.chunks_per_worker)
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

