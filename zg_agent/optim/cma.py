"""CMA-ES: a thin adapter over the ``cma`` package (Hansen's pycma).

Hansen & Ostermeier, "Completely Derandomized Self-Adaptation in Evolution Strategies", ECJ 2001.
Full covariance needs d x d memory and eigendecompositions, so above ``separable_above`` dimensions the
adapter switches to the separable (diagonal) variant of Ros & Hansen (PPSN 2008).
"""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import numpy as np

from .base import Optimizer, check_int, check_positive


class _Randn:
    """The normal sampler handed to pycma, so sampling uses our seeded generator, not ``np.random``."""

    def __init__(self, seed: int | None):
        self.rng = np.random.default_rng(seed)

    def __call__(self, *shape) -> np.ndarray:
        return self.rng.standard_normal(shape)


class CMAES(Optimizer):
    """CMA-ES through ``cma.CMAEvolutionStrategy``.

    Args:
        x0: starting point.
        sigma: initial step size.
        popsize: evaluations per iteration (None: pycma's default 4 + floor(3 ln d)).
        separable: use the diagonal covariance; None chooses it when d > ``separable_above``.
        separable_above: dimension above which ``separable=None`` means diagonal.
        seed, nonfinite: see :class:`~zg_agent.optim.base.Optimizer`.
    """

    name = "cma"

    def __init__(self, x0, *, sigma: float = 0.3, popsize: int | None = None, separable: bool | None = None,
                 separable_above: int = 1000, seed: int | None = None, nonfinite: str = "raise"):
        import cma  # the baseline lives in the well-kept library; import it only when used

        x = np.atleast_1d(np.asarray(x0, dtype=np.float64))
        dim = x.size
        if popsize is None:
            popsize = 4 + int(3 * np.log(max(dim, 1)))
        popsize = check_int("popsize", popsize, 2)
        super().__init__(x0, popsize=popsize, seed=seed, nonfinite=nonfinite)
        self.sigma0 = check_positive("sigma", sigma)
        self.separable_above = check_int("separable_above", separable_above, 1)
        if separable is not None and not isinstance(separable, bool):
            raise ValueError(f"separable must be True, False or None, got {separable!r}")
        self.separable = bool(self.dim > self.separable_above) if separable is None else separable
        if self.dim == 1:
            # pycma needs d >= 2; a constant dummy coordinate is carried along and stripped off.
            x = np.append(self._best.x, 0.0)
        else:
            x = self._best.x
        opts = {
            "popsize": self.popsize,
            "randn": _Randn(None if seed is None else seed + 1),
            "verbose": -9,
            "CMA_diagonal": self.separable,
            "tolfun": 0, "tolx": 0, "tolfunhist": 0, "tolstagnation": int(1e9),  # the budget decides
            "maxiter": np.inf, "maxfevals": np.inf,
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._es = cma.CMAEvolutionStrategy(x, self.sigma0, opts)

    @property
    def mean(self) -> np.ndarray:
        return np.asarray(self._es.mean, dtype=np.float64)[: self.dim].copy()

    def _ask(self) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            xs = np.asarray(self._es.ask(), dtype=np.float64)
        if self.dim == 1:
            xs[:, 1] = 0.0
        return xs[:, : self.dim]

    def _tell(self, candidates, losses) -> dict[str, float]:
        xs = candidates if self.dim > 1 else np.column_stack([candidates, np.zeros(len(candidates))])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._es.tell(list(xs), list(losses))
        return {"sigma": float(self._es.sigma), "separable": float(self.separable)}

    def _state_dict(self) -> dict[str, Any]:
        return {"es": pickle.dumps(self._es)}

    def _load_state_dict(self, state) -> None:
        self._es = pickle.loads(state["es"])
