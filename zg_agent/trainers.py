"""Compatibility module: the trainers now live in :mod:`zg_agent.training`; this re-exports its public names
(``from zg_agent.trainers import train, resume, load_solution`` keeps working)."""

from __future__ import annotations

from .training import *  # noqa: F401,F403
from .training import __all__  # noqa: F401
