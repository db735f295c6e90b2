"""The serial backend: every episode in the calling process, on one env built once."""

from __future__ import annotations

from .jobs import _EnvConfig, build, run_jobs


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
        self._env, self._policy = (env, policy) if env is not None else build(cfg)

    def run(self, jobs, policy_state):
        if self._env is None:
            raise RuntimeError("the serial backend is closed")
        return run_jobs(self._env, self._policy, policy_state, jobs)

    def close(self):
        if self._env is not None and self._owns_env:
            self._env.close()
        self._env = None

