"""What a black-box loss function may return, checked once for every caller (minimize, zg_agent.torch).

A loss is a real number; anything else is an error that names the function and the value, rather than what
``float()`` would do (accept the string ``'1.5'``, or fail on None without saying where it came from).
"""

from __future__ import annotations

import numpy as np

_SCALAR_LOSS = ("a real number: int, float or a NumPy integer/floating scalar, or a real array of size 1 "
                "(bool and complex are refused)")


def fun_name(fun) -> str:
    return getattr(fun, "__qualname__", None) or repr(fun)


def _real_array(value):
    """``value`` as an ndarray when it is one (or converts itself with ``__array__``), else None."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "__array__") and not isinstance(value, (str, bytes)):
        return np.asarray(value)
    return None


def scalar_loss(fun, value) -> float:
    """One loss from ``fun(x)`` as a float; an error naming ``fun`` and the value for anything not real.

    Checked here rather than left to ``float()``: ``float('1.5')`` would accept a string silently, and
    ``float(None)`` fails without saying that the loss returned it.
    """
    if isinstance(value, (bool, np.bool_)):
        arr = None
    elif isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    else:
        arr = _real_array(value)
    if arr is not None and arr.dtype.kind in "iuf":
        if arr.size == 1:
            return float(arr.reshape(()))
        raise ValueError(f"loss function {fun_name(fun)} returned an array of shape {arr.shape}; "
                         f"it must return {_SCALAR_LOSS} (use vectorized=True for a batch of losses)")
    raise TypeError(f"loss function {fun_name(fun)} returned {value!r} of type {type(value).__name__}; "
                    f"it must return {_SCALAR_LOSS}")


def batch_losses(fun, value, n: int) -> np.ndarray:
    """The ``(n,)`` losses of a vectorized ``fun``; an error naming ``fun`` unless a real ``(n,)`` array."""
    arr = _real_array(value)
    if arr is None and isinstance(value, (list, tuple)):
        arr = np.asarray(value)
    if arr is None or arr.dtype.kind not in "iuf":
        shown = f"an array of dtype {arr.dtype}" if arr is not None else f"{value!r} of type {type(value).__name__}"
        raise TypeError(f"loss function {fun_name(fun)} (vectorized=True) returned {shown}; it must return "
                        f"a real array of shape ({n},), one int or float loss per row of its (n, d) input")
    if arr.shape != (n,):
        raise ValueError(f"loss function {fun_name(fun)} (vectorized=True) returned an array of shape "
                         f"{arr.shape} for {n} candidates; it must return a real array of shape ({n},)")
    return arr.astype(np.float64)
