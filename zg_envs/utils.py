"""Small helpers shared by every environment: action, argument and reset-option validation, the
episode-over error, the memory bound, the no-render-mode warning, deprecated aliases, pickling."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
from gymnasium import logger, spaces
from gymnasium.utils import EzPickle


def check_action(action, space: spaces.Box) -> np.ndarray:
    """Return ``action`` as a float array of the space's shape, clipped into the Box.

    The action must have exactly the space's shape (a list or tuple of the right length is fine for a
    1-D Box); anything else, even with the right number of entries (a ``(2, 2)`` action for a ``(4,)``
    Box), raises ``ValueError`` naming both shapes: reshaping it silently would hide a layout bug in the
    caller. A NaN or inf entry also raises ``ValueError``: clipping it would hide that bug inside a
    plausible-looking rollout. Finite values outside the Box are clipped on purpose (documented in every
    env's docstring).
    """
    arr = np.asarray(action, dtype=np.float64)
    if arr.shape != space.shape:
        raise ValueError(f"action must have shape {space.shape}, got an action of shape {arr.shape}")
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


def check_float(name: str, value, minimum: float | None = None, maximum: float | None = None,
                strict: bool = False) -> float:
    """Validate a real-number constructor argument and return it as a ``float``.

    ``value`` must be a finite int or float (not a bool), at least ``minimum`` (greater than it when
    ``strict``) and at most ``maximum``, each bound only when given. The error names the argument, the
    bad value and the allowed range, e.g. ``"power must be a finite number > 0.0, got -1"``.
    """
    low = "" if minimum is None else f"{minimum}"
    high = "" if maximum is None else f"{maximum}"
    if minimum is not None and maximum is not None:
        allowed = f"a finite number in {'(' if strict else '['}{low}, {high}]"
    elif minimum is not None:
        allowed = f"a finite number {'>' if strict else '>='} {low}"
    elif maximum is not None:
        allowed = f"a finite number <= {high}"
    else:
        allowed = "a finite number"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    number = float(value)
    too_low = minimum is not None and (number <= minimum if strict else number < minimum)
    too_high = maximum is not None and number > maximum
    if not np.isfinite(number) or too_low or too_high:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return number


def check_bool(name: str, value) -> bool:
    """Validate a flag: a Python or NumPy bool only (not 0/1, not a string), returned as ``bool``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(name: str, value, allowed) -> str:
    """Validate a string choice, listing the allowed values in the error."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


#: The memory bound of every env: arguments whose estimated peak (the env's arrays, the renderers'
#: working space and, with a render mode, a picture) exceeds it are refused in ``__init__``.
MEMORY_BOUND_BYTES = 2 * 2**30


def check_memory(env_name: str, estimate: float, breakdown: str, advice: str) -> None:
    """Refuse arguments whose estimated peak memory ``estimate`` (bytes) exceeds :data:`MEMORY_BOUND_BYTES`.

    Checked up front, before anything large is allocated: otherwise such arguments run for minutes and
    end in a ``MemoryError`` (or the machine swaps). ``breakdown`` says where the estimate comes from,
    ``advice`` which arguments to lower.
    """
    if estimate > MEMORY_BOUND_BYTES:
        raise ValueError(
            f"{env_name}: these arguments would need up to about {_gib(estimate)} of memory ({breakdown}), "
            f"more than the bound of {_gib(MEMORY_BOUND_BYTES)} for one env; {advice}"
        )


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB"


def check_reset_options(options, allowed, env_name: str) -> dict:
    """Return ``reset``'s ``options`` as a dict, refusing keys the env does not understand.

    A misspelt key would otherwise be ignored silently and the episode start where it always does.
    """
    if options is None:
        return {}
    allowed = tuple(allowed)
    if not isinstance(options, Mapping):
        raise ValueError(f"{env_name}: reset options must be a dict or None, got {type(options).__name__} {options!r}")
    unknown = [key for key in options if key not in allowed]
    if unknown:
        known = f"the allowed keys are {list(allowed)}" if allowed else "this env takes no reset options"
        raise ValueError(f"{env_name}: unknown reset option(s) {unknown}; {known}")
    return dict(options)


def episode_ended_error(env_name: str) -> RuntimeError:
    """The error of ``step()`` called after the episode ended (or before the first ``reset()``)."""
    return RuntimeError(
        f"{env_name}: step() called after the episode ended (terminated or truncated) or before reset(); "
        "call reset() to start a new episode"
    )


def warn_no_render_mode() -> None:
    """The warning every env gives when ``render()`` is called on an env made without a render mode.

    Call it from ``render()`` itself: the warning then points at the line that called ``render()``.
    """
    logger.warn("render() called without a render_mode; make the env with render_mode='rgb_array' to get pictures",
                stacklevel=3)


def deprecated_alias(new: str, old: str) -> property:
    """A read-only property ``old`` that returns ``self.<new>`` with a ``DeprecationWarning`` naming ``new``.

    Keeps an accessor's old name working for one release after a rename.
    """

    def getter(self):
        warnings.warn(f"{type(self).__name__}.{old} is deprecated; use .{new}", DeprecationWarning, stacklevel=2)
        return getattr(self, new)

    return property(getter, doc=f"Deprecated alias of ``{new}``.")


class PickleByArguments(EzPickle):
    """Pickled as its constructor arguments (Gymnasium's ``EzPickle``) and the ``spec`` ``gymnasium.make`` set.

    Unpickling builds a new env from the same arguments: no episode is running (call ``reset``), nothing of
    the original's state comes along (a PyBullet client, which cannot be pickled, is connected afresh on
    first use), and ``reset(seed=s)`` then gives the same episode as the original's ``reset(seed=s)``.
    ``copy.deepcopy`` goes the same way. Call ``PickleByArguments.__init__(self, **arguments)`` first thing
    in ``__init__``.
    """

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "spec": self.spec}

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.spec = state.get("spec")
