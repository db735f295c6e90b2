"""Argument validators: each names the argument, the bad value and what is allowed, and returns the value
(converted). ``error`` picks the exception class (``ValueError`` by default; the config raises its
:class:`~zg_agent.config.ConfigError`). ``zg_envs`` keeps its own copy, since it never imports zg_agent.
"""

from __future__ import annotations

import math

import numpy as np


def check_choice(name: str, value, allowed, *, error: type[Exception] = ValueError):
    """``value`` if it is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise error(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def check_int(name: str, value, minimum: int, *, allow_none: bool = False, error: type[Exception] = ValueError):
    """``int(value)`` for an integer ``>= minimum`` (or ``None`` with ``allow_none``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        what = f"None or an integer >= {minimum}" if allow_none else f"an integer >= {minimum}"
        raise error(f"{name} must be {what}, got {value!r}")
    return int(value)


def check_positive(name: str, value, *, allow_zero: bool = False) -> float:
    """Validate a positive float option, naming it in the error."""
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    ok = ok and np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise ValueError(f"{name} must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return float(value)


def check_positive_int(name: str, value, *, allow_none: bool = False) -> int | None:
    """``int(value)`` for an integer ``>= 1`` (or ``None`` with ``allow_none``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        allowed = "a positive integer or None" if allow_none else "a positive integer"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def check_seconds(name: str, value, *, error: type[Exception] = ValueError) -> float | None:
    """``None`` or a finite number of seconds ``> 0``, as a float."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or not math.isfinite(value):
        raise error(f"{name} must be None or a number of seconds > 0, got {value!r}")
    return float(value)


def check_non_empty_str(name: str, value) -> str:
    """``value`` if it is a non-empty string."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value
