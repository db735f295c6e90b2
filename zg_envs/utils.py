"""Small helpers shared by every environment."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces


def check_action(action, space: spaces.Box) -> np.ndarray:
    """Return ``action`` as a float array of the space's shape, clipped into the Box.

    Raises ``ValueError`` for a wrong shape or any NaN/inf entry: a non-finite action is a bug in the
    caller, and silently clipping it would hide that bug inside a plausible-looking rollout.
    Finite values outside the Box are clipped on purpose (documented in every env's docstring).
    """
    arr = np.asarray(action, dtype=np.float64)
    if arr.shape != space.shape:
        arr_size = arr.size
        if arr_size == int(np.prod(space.shape)):
            arr = arr.reshape(space.shape)
        else:
            raise ValueError(f"action has shape {np.shape(action)}, expected {space.shape}")
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr.ravel()))
        raise ValueError(
            f"action contains non-finite values (NaN or inf) at flat indices {bad[:10].tolist()}"
            f"{' ...' if bad.size > 10 else ''}; every entry must be a finite number in "
            f"[{space.low.min()}, {space.high.max()}]"
        )
    return np.clip(arr, space.low, space.high)


def check_int_arg(name: str, value, minimum: int, maximum: int | None = None) -> int:
    """Validate an integer constructor argument, naming it and the allowed range in the error."""
    allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer {allowed}, got {value!r}")
    return int(value)


def check_choice(name: str, value, allowed) -> str:
    """Validate a string choice, listing the allowed values in the error."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value
