"""Shared fixtures. Tests mirror the packages: tests/envs for zg_envs, tests/agent for zg_agent."""

import os

# Tests are timed on a 2-core machine; one thread per process keeps parallel workers from fighting.
os.environ.setdefault("OMP_NUM_THREADS", "1")
