"""PyBullet environments of physics-driven animated characters.

* :mod:`zg_envs.bullet.base`: the base class (one physics client per environment instance).
* :mod:`zg_envs.bullet.motion`: DeepMimic motion clips (``walk``, ``run``, ``backflip``, ...).
* :mod:`zg_envs.bullet.humanoid`: joint layout and PD gains of the DeepMimic humanoid.
* :mod:`zg_envs.bullet.character_mimic_v0`: ``zg/CharacterMimic-v0``, motion imitation.
* :mod:`zg_envs.bullet.character_locomotion_v0`: ``zg/CharacterLocomotion-v0``, MJCF locomotion.

Importing this package imports ``pybullet`` first, without the ``pybullet build time: ...`` line its C
module prints when it loads (it would land in the middle of a progress bar or a command's output, once
per worker process). Everything else printed during that import is passed through unchanged.
"""

from __future__ import annotations

import ctypes
import importlib
import os
import sys
import tempfile

_BANNER = b"pybullet build time:"


def _flush_all() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError):
            pass
    try:  # C's stdio buffer (a printf to a redirected stdout is block-buffered)
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # pragma: no cover - non-POSIX platforms
        pass


def import_without_banner(name: str, banner: bytes = _BANNER):
    """Import module ``name`` while dropping the lines starting with ``banner`` that it writes to file
    descriptors 1 or 2 (C code included); any other output is written back to where it was going, and
    an import error propagates as usual. Returns the module."""
    if name in sys.modules:
        return sys.modules[name]
    _flush_all()
    captured = []
    for fd in (1, 2):
        try:
            saved = os.dup(fd)
        except OSError:  # no such descriptor: nothing to filter
            continue
        sink = tempfile.TemporaryFile()
        os.dup2(sink.fileno(), fd)
        captured.append((fd, saved, sink))
    try:
        return importlib.import_module(name)
    finally:
        _flush_all()
        for fd, saved, sink in captured:
            os.dup2(saved, fd)
            os.close(saved)
            sink.seek(0)
            kept = b"".join(line for line in sink.read().splitlines(keepends=True) if not line.startswith(banner))
            sink.close()
            if kept:
                os.write(fd, kept)


import_without_banner("pybullet")
