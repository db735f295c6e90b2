"""Ask/tell black-box optimizers (minimisation) and the name -> class registry.

>>> from zg_agent.optim import make_optimizer
>>> opt = make_optimizer("zerograds", x0=[0.0, 0.0], seed=0)
"""

from __future__ import annotations

import importlib
import inspect

from .base import Best, Optimizer

# name -> "module:Class"; resolved on first use so that importing the registry stays cheap.
_REGISTRY: dict[str, str] = {
    "zerograds": "zg_agent.optim.zerograds:ZeroGrads",
    "es": "zg_agent.optim.es:OpenES",
    "cma": "zg_agent.optim.cma:CMAES",
    "random": "zg_agent.optim.random_search:RandomSearch",
}

#: Every registered method name.
OPTIMIZERS: tuple[str, ...] = tuple(_REGISTRY)


def get_optimizer_class(name: str) -> type[Optimizer]:
    """Return the optimizer class registered as ``name``."""
    if name not in _REGISTRY:
        raise ValueError(f"method must be one of {list(_REGISTRY)}, got {name!r}")
    module, cls = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def optimizer_options(name: str) -> dict[str, object]:
    """The keyword options of a method and their defaults (``x0`` excluded)."""
    params = inspect.signature(get_optimizer_class(name).__init__).parameters
    return {k: p.default for k, p in params.items() if k not in ("self", "x0")}


def make_optimizer(name: str, x0, **options) -> Optimizer:
    """Build the optimizer registered as ``name``; an unknown option is a ``ValueError`` listing the known."""
    cls = get_optimizer_class(name)
    known = optimizer_options(name)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for method {name!r}; allowed: {sorted(known)}")
    return cls(x0, **options)


__all__ = ["Best", "Optimizer", "OPTIMIZERS", "get_optimizer_class", "make_optimizer", "optimizer_options"]
