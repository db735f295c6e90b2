"""The backends by name: :data:`BACKENDS` and :func:`make_backend`."""

from __future__ import annotations

from ..validation import check_positive_int
from .jobs import _EnvConfig
from .process import ProcessBackend
from .ray_backend import RayBackend
from .serial import Backend, SerialBackend

BACKENDS = ("serial", "process", "ray")


def make_backend(name: str, cfg: _EnvConfig, num_workers: int | None = None, ray_address: str | None = None,
                 **options) -> Backend:
    """Build an evaluation backend by name (one of :data:`BACKENDS`)."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {name!r}")
    check_positive_int("num_workers", num_workers, allow_none=True)
    if name == "serial":
        options.pop("episode_timeout_s", None)  # episodes run in this process: no timeout (see EpisodeObjective)
        return SerialBackend(cfg, **options)
    if name == "process":
        return ProcessBackend(cfg, num_workers=num_workers, **options)
    return RayBackend(cfg, address=ray_address, num_workers=num_workers, **options)

