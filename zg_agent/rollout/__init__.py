"""Rollouts, the episode objective: ``theta -> -(mean return over episodes)``, evaluated on a backend.

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

from .backends import BACKENDS, make_backend
from .jobs import EpisodeTimeoutError
from .objective import EpisodeObjective, EvalResult
from .process import ProcessBackend
from .ray_backend import RayBackend
from .serial import Backend, SerialBackend

__all__ = ["BACKENDS", "Backend", "EpisodeObjective", "EpisodeTimeoutError", "EvalResult", "ProcessBackend",
           "RayBackend", "SerialBackend", "make_backend"]
