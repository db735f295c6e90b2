"""The config's error type and the type check of a value against a field's annotation (YAML and ``--set``)."""

from __future__ import annotations

import types
import typing
from typing import Any, Union


class ConfigError(ValueError):
    """A configuration mistake; the message names the key, the source and what is allowed."""


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value, tp, key: str, source: str = ""):
    """Check ``value`` against the type annotation ``tp`` (int, float, bool, str, None, unions,
    list[X], dict[str, X], Any); ints are accepted where floats are expected. Returns the value."""
    where = f" in {source}" if source else ""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(tp):
            try:
                return coerce(value, arg, key, source)
            except ConfigError:
                continue
        raise ConfigError(f"{key}{where} must be {_type_name(tp)}, got {value!r} ({type(value).__name__})")
    if tp is type(None):
        if value is None:
            return None
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin is list or tp is list:
        if isinstance(value, (list, tuple)):
            (arg,) = typing.get_args(tp) or (Any,)
            return [coerce(v, arg, f"{key}[{i}]", source) for i, v in enumerate(value)]
    elif origin is dict or tp is dict:
        if isinstance(value, dict):
            args = typing.get_args(tp) or (str, Any)
            return {coerce(k, args[0], f"{key} key", source): coerce(v, args[1], f"{key}.{k}", source)
                    for k, v in value.items()}
    else:  # an annotation the config does not use: say so instead of guessing
        raise TypeError(f"unsupported annotation {tp!r} for {key}")
    raise ConfigError(f"{key}{where} must be {_type_name(tp)}, got {value!r} ({type(value).__name__})")
