"""``minimize``: the convenience loop over any registered ask/tell optimizer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .loss_values import batch_losses, scalar_loss
from .optim import make_optimizer


@dataclass
class MinimizeResult:
    """What :func:`minimize` returns.

    Attributes:
        x: best point found.
        fun: its loss.
        num_evaluations: evaluations of ``fun`` used.
        history_evaluations: evaluation count after each iteration.
        history_best: best loss after each iteration (same length).
        mean: the optimizer's final solution (its distribution centre or descended point).
        method: the method's registry name.
        metrics: the metrics ``tell`` returned at the last iteration.
    """

    x: np.ndarray
    fun: float
    num_evaluations: int
    history_evaluations: np.ndarray
    history_best: np.ndarray
    mean: np.ndarray
    method: str
    metrics: dict[str, float] = field(default_factory=dict)


def minimize(
    fun: Callable,
    x0,
    method: str = "zerograds",
    budget: int = 1000,
    seed: int | None = None,
    *,
    vectorized: bool = False,
    callback: Callable[[int, dict], bool | None] | None = None,
    **options,
) -> MinimizeResult:
    """Minimise a black-box ``fun`` from ``x0`` with at most ``budget`` evaluations.

    Args:
        fun: ``fun(x) -> float`` for a 1-D ``x``; with ``vectorized=True``, ``fun(X) -> (n,)`` losses for
            an ``(n, d)`` batch (much faster for cheap numpy objectives).
        x0: starting point.
        method: a name from ``zg_agent.optim.OPTIMIZERS`` ("zerograds", "es", "cma", "random").
        budget: maximum number of evaluations; must allow at least one full batch.
        seed: seed of the optimizer.
        callback: ``callback(iteration, metrics)`` after each ``tell``; returning ``True`` stops early.
        A loss must be a real number: an int, a float or a NumPy integer/floating scalar, or a real
        array (NumPy, or anything with ``__array__``) of size 1; with ``vectorized=True`` a real array
        (or list) of shape ``(n,)``. Anything else (a string, None, a bool, a complex number, a list, an array of
        another size) is a ``TypeError`` or ``ValueError`` naming the loss function and the value.
        **options: the method's own options (for example ``sigma=0.1``, ``popsize=20``); an unknown
            option is a ``ValueError`` listing the allowed ones.

    Example:
        >>> import numpy as np, zg_agent
        >>> res = zg_agent.minimize(lambda x: float(np.sum(np.round(x - 3) ** 2)), np.zeros(5),
        ...                         method="zerograds", budget=2000, seed=0)
    """
    if not callable(fun):
        raise ValueError(f"fun must be callable, got {type(fun).__name__}")
    opt = make_optimizer(method, x0, seed=seed, **options)
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < opt.popsize:
        raise ValueError(
            f"budget must be an integer of at least one batch ({opt.popsize} evaluations for {method!r} "
            f"with these options), got {budget!r}"
        )
    evals, bests, metrics = [], [], {}
    while opt.num_evaluations + opt.popsize <= budget:
        candidates = opt.ask()
        if vectorized:
            losses = batch_losses(fun, fun(candidates), len(candidates))
        else:
            losses = np.array([scalar_loss(fun, fun(c)) for c in candidates])
        metrics = opt.tell(candidates, losses)
        evals.append(opt.num_evaluations)
        bests.append(opt.best.f)
        if callback is not None and callback(opt.num_iterations, metrics):
            break
    best = opt.best
    return MinimizeResult(
        x=best.x,
        fun=best.f,
        num_evaluations=opt.num_evaluations,
        history_evaluations=np.asarray(evals),
        history_best=np.asarray(bests),
        mean=opt.mean,
        method=method,
        metrics=metrics,
    )
