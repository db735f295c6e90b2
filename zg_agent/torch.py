"""A black-box loss as a differentiable torch function: ZeroGrads between your differentiable stages.

:class:`ZeroGradsFunction` wraps ``f: (n, d) -> (n,)`` (a hard rasteriser and its image loss, a simulator,
a procedural generator) so that ``loss = f_wrapped(theta)`` is a torch tensor and ``loss.backward()`` puts
the gradient of ZeroGrads' learned surrogate into ``theta.grad``, and through the chain rule into whatever
produced ``theta``. Any torch optimizer and scheduler then drives the loop; this module owns only the
estimate of the gradient (:class:`~zg_agent.optim.estimator.SurrogateEstimator`, the same code as the
:class:`~zg_agent.optim.zerograds.ZeroGrads` optimizer).

>>> import numpy as np, torch
>>> from zg_agent.torch import ZeroGradsFunction
>>> f = ZeroGradsFunction(lambda X: np.sum(np.round(4 * X) ** 2, axis=1), dim=8, popsize=16, seed=0)
>>> theta = torch.nn.Parameter(torch.full((8,), 0.7))
>>> loss = f(theta)          # 16 black-box evaluations around theta, one surrogate fit
>>> loss.backward()          # theta.grad = the surrogate's gradient at theta
>>> f.num_evaluations
16

What one forward call evaluates, while autograd records (``theta.requires_grad`` and grad mode on):
``popsize`` samples around each row of ``theta`` in **one** call of ``f`` (``b * popsize`` rows for a
``(b, d)`` input; ``+ b`` with ``value="exact"``). Under ``torch.no_grad()``, or for a ``theta`` that needs
no gradient, it evaluates ``f`` at ``theta`` itself (``b`` evaluations) and touches no surrogate: that
is the way to measure the current solution. ``num_evaluations`` and ``num_calls`` count both kinds, and
``metrics`` holds the diagnostics of the last recorded call (``surrogate_error``, ``grad_cosine``, ...).

Worth knowing: whether a call samples depends on grad mode, not on ``module.train()``/``eval()``; anything
that reruns a forward (activation checkpointing) samples and fits again; the gradient has no second
derivative (``create_graph=True`` through it raises); ``fun`` is not registered as a submodule, so an
``nn.Module`` black box lends no parameters to your optimizer.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Callable

import numpy as np
import torch

from .loss_values import batch_losses, fun_name, scalar_loss
from .optim.base import NONFINITE_POLICIES, check_choice, check_int, check_positive
from .optim.estimator import SurrogateEstimator
from .optim.zerograds import ZeroGrads

__all__ = ["ZeroGradsFunction", "ESTIMATOR_OPTIONS", "VALUES", "ARRAYS"]

#: The ZeroGrads settings a wrapped function takes, with ZeroGrads' defaults (one source: its signature).
ESTIMATOR_OPTIONS: dict[str, Any] = {
    name: inspect.signature(ZeroGrads.__init__).parameters[name].default
    for name in inspect.signature(SurrogateEstimator.__init__).parameters
    if name not in ("self", "dim", "seed")
}
#: What the forward value is: the mean of the batch (an estimate of the smoothed loss, free) or f(theta).
VALUES = ("smoothed", "exact")
#: What ``f`` receives: a float64 numpy array, or a tensor on ``theta``'s device and dtype.
ARRAYS = ("numpy", "torch")


class _SurrogateGradient(torch.autograd.Function):
    """Identity on a precomputed value whose vector-Jacobian product is the precomputed gradient."""

    @staticmethod
    def forward(ctx, theta: torch.Tensor, value: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(grad)
        return value.clone()

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        if torch.is_grad_enabled():  # create_graph=True: a second derivative would silently miss our part
            raise RuntimeError(
                "ZeroGradsFunction's gradient has no derivative of its own (the surrogate's curvature is not "
                "passed on), so create_graph=True / double backward cannot go through it"
            )
        (grad,) = ctx.saved_tensors
        return grad_output.unsqueeze(-1) * grad, None, None


class ZeroGradsFunction(torch.nn.Module):
    """``f: (n, d) -> (n,)`` made differentiable by a ZeroGrads surrogate fitted online around ``theta``.

    Args:
        fun: the black box. Called with an ``(n, d)`` batch (``vectorized=True``) or one ``(d,)`` point at
            a time, as a float64 numpy array (``array="numpy"``) or as a tensor on ``theta``'s device and
            dtype (``array="torch"``); returns ``n`` real losses (or one per call).
        dim: length ``d`` of each point.
        value: what the forward call returns: ``"smoothed"`` (default), the mean loss of the samples drawn
            around ``theta``, an estimate of the Gaussian-smoothed loss whose gradient the surrogate
            models, at no extra cost; or ``"exact"``, ``f(theta)``, one more evaluation per row.
        array: ``"numpy"`` or ``"torch"``, see ``fun``.
        vectorized: whether ``fun`` takes a batch.
        seed: seed of the sampling and of the surrogate's initial weights; the same seed and the same
            inputs give the same values and gradients.
        nonfinite: ``"raise"`` (default): a NaN/inf loss is a ``ValueError`` naming the samples;
            ``"worst"``: it counts as the worst finite loss of its batch (``num_nonfinite`` counts them).
        **options: ZeroGrads' sampling and surrogate settings, with its defaults and meaning
            (:data:`ESTIMATOR_OPTIONS`: ``sigma``, ``popsize``, ``antithetic``, ``inner_sigma``,
            ``surrogate``, ``fit``, ``ridge``, ``history``, ``locality``, ``target_transform``, the MLP's
            ``layers``/``width``/...). The update rule is yours: ZeroGrads' ``lr_theta`` etc. do not apply.

    Input ``theta`` is a floating tensor of shape ``(d,)`` (the value is a scalar) or ``(b, d)`` (the value
    has shape ``(b,)``): ``b`` independent points of the same black box, each with a surrogate and sample
    history of its own, created on the first call; ``b`` is then fixed. The gradient is in loss units per
    unit of ``theta``: exactly so with ``target_transform="standardize"`` or ``"none"``; with the default
    ranks it is scaled by the losses' standard deviation, which keeps its direction and its size roughly
    right. The state (samples, surrogates, random generator, counters) is saved with the module's
    ``state_dict()`` and restored by ``load_state_dict()``, so a resumed loop continues exactly.
    ``sigma`` can be set between calls (a schedule); it applies to every row.
    """

    def __init__(
        self,
        fun: Callable,
        dim: int,
        *,
        value: str = "smoothed",
        array: str = "numpy",
        vectorized: bool = True,
        seed: int | None = None,
        nonfinite: str = "raise",
        **options,
    ):
        super().__init__()
        if not callable(fun):
            raise TypeError(f"fun must be callable, got {type(fun).__name__}")
        unknown = sorted(set(options) - set(ESTIMATOR_OPTIONS))
        if unknown:
            raise ValueError(f"unknown option(s) {unknown} for ZeroGradsFunction; allowed: {sorted(ESTIMATOR_OPTIONS)}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
        # Kept out of torch's registry: an nn.Module black box must not lend its parameters to the user's optimizer.
        self.__dict__["fun"] = fun
        self.dim = check_int("dim", dim, 1)
        self.value = check_choice("value", value, VALUES)
        self.array = check_choice("array", array, ARRAYS)
        self.nonfinite = check_choice("nonfinite", nonfinite, NONFINITE_POLICIES)
        self.vectorized = bool(vectorized)
        self.seed = None if seed is None else int(seed)
        self.options = {**ESTIMATOR_OPTIONS, **options}
        self._first = self._make_estimator(0)  # checks the options now; row 0's estimator on the first call
        self.rng = np.random.default_rng(seed)
        self.estimators: list[SurrogateEstimator] = []  # one per row; a plain list, so no torch parameters
        self.num_evaluations = 0
        self.num_calls = 0
        self.num_nonfinite = 0
        self.metrics: dict[str, float] = {}

    # ------------------------------------------------------------------ settings
    @property
    def popsize(self) -> int:
        return int(self.options["popsize"])

    @property
    def sigma(self) -> float:
        return float(self.options["sigma"])

    @sigma.setter
    def sigma(self, value: float) -> None:
        self.options["sigma"] = check_positive("sigma", value)
        for estimator in self.estimators:
            estimator.sigma = float(value)

    def evaluations_per_call(self, rows: int = 1) -> int:
        """Black-box evaluations of one recorded forward call on ``rows`` points."""
        return rows * (self.popsize + (self.value == "exact"))

    def _make_estimator(self, row: int, **override) -> SurrogateEstimator:
        seed = None if self.seed is None else self.seed + row
        return SurrogateEstimator(self.dim, seed=seed, **{**self.options, **override})

    # ------------------------------------------------------------------ forward
    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        x = self._check_theta(theta)
        rows = len(x)
        self.num_calls += 1
        if not (torch.is_grad_enabled() and theta.requires_grad):
            return self._as_output(self._evaluate(x, theta)[1], theta).reshape(theta.shape[:-1])

        if not self.estimators:
            self._first.sigma = self.sigma
            self.estimators = [self._first] + [self._make_estimator(i) for i in range(1, rows)]
            for estimator, point in zip(self.estimators, x):
                estimator.reset_frame(point)
        elif len(self.estimators) != rows:
            raise ValueError(
                f"theta must keep the number of rows of the first call ({len(self.estimators)}), got {rows}: "
                f"each row has a surrogate of its own; use a new ZeroGradsFunction for another batch size"
            )
        samples = [estimator.sample(point, self.rng) for estimator, point in zip(self.estimators, x)]
        batch = np.concatenate(samples + ([x] if self.value == "exact" else []))
        batch, losses = self._evaluate(batch, theta)
        fit_losses = self._worst_for_nonfinite(losses)

        p = self.popsize
        values, grads, metrics = np.empty(rows), np.empty((rows, self.dim)), []
        for i, (estimator, point) in enumerate(zip(self.estimators, x)):
            rows_i = slice(i * p, (i + 1) * p)
            metrics.append(estimator.update(batch[rows_i], fit_losses[rows_i], point))
            grads[i] = estimator.gradient(point) * estimator.loss_scale
            if self.value == "exact":
                values[i] = losses[rows * p + i]
            else:  # the mean over the samples that returned a number (NaN if none did)
                finite = losses[rows_i][np.isfinite(losses[rows_i])]
                values[i] = finite.mean() if finite.size else np.nan
        self.metrics = {k: float(np.mean([m[k] for m in metrics])) for k in metrics[0]}
        self.metrics.update(batch_loss_mean=float(fit_losses.mean()), num_evaluations=float(self.num_evaluations))
        value = self._as_output(values, theta).reshape(theta.shape[:-1])
        grad = torch.as_tensor(grads, dtype=theta.dtype, device=theta.device).reshape(theta.shape)
        return _SurrogateGradient.apply(theta, value, grad)

    def _check_theta(self, theta) -> np.ndarray:
        if not isinstance(theta, torch.Tensor):
            raise TypeError(f"theta must be a torch.Tensor, got {type(theta).__name__}")
        if not theta.is_floating_point():
            raise TypeError(f"theta must have a floating dtype (float32, float64, ...), got {theta.dtype}")
        if theta.ndim not in (1, 2) or theta.shape[-1] != self.dim or theta.ndim == 2 and len(theta) == 0:
            raise ValueError(
                f"theta must have shape ({self.dim},) or (b, {self.dim}) with b >= 1, got {tuple(theta.shape)}"
            )
        x = theta.detach().to("cpu", torch.float64).numpy().reshape(-1, self.dim)
        if not np.all(np.isfinite(x)):
            bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
            raise ValueError(f"theta contains NaN or inf (rows {bad[:10].tolist()})")
        return x

    def _evaluate(self, batch: np.ndarray, like: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """``f`` on an ``(n, d)`` batch: the points as evaluated and their float64 losses (counted, checked)."""
        if self.array == "torch":
            # At least float32: a float16 sample may round back onto theta and hide the perturbation.
            batch_in = torch.as_tensor(batch, device=like.device, dtype=torch.promote_types(like.dtype, torch.float32))
            batch = batch_in.detach().to("cpu", torch.float64).numpy()  # fit on what was evaluated
        else:
            batch_in = batch
        if self.vectorized:
            losses = batch_losses(self.fun, _host(self.fun(batch_in)), len(batch))
        else:
            losses = np.array([scalar_loss(self.fun, _host(self.fun(row))) for row in batch_in])
        self.num_evaluations += len(batch)
        bad = ~np.isfinite(losses)
        if bad.any():
            if self.nonfinite == "raise":
                raise ValueError(
                    f"loss function {fun_name(self.fun)} returned NaN or inf for samples "
                    f"{np.flatnonzero(bad)[:10].tolist()} "
                    f"of call {self.num_calls}; fix the function or pass nonfinite='worst' to treat them as the "
                    f"worst loss of the batch in the fit"
                )
            self.num_nonfinite += int(bad.sum())
        return batch, losses

    @staticmethod
    def _worst_for_nonfinite(losses: np.ndarray) -> np.ndarray:
        """What the surrogate is fitted to under ``nonfinite="worst"``: the batch's worst finite loss instead."""
        finite = np.isfinite(losses)
        if finite.all():
            return losses
        return np.where(finite, losses, losses[finite].max() if finite.any() else 0.0)

    def _as_output(self, values: np.ndarray, theta: torch.Tensor) -> torch.Tensor:
        out = torch.as_tensor(values, dtype=theta.dtype, device=theta.device)
        overflow = np.isfinite(values) & ~torch.isfinite(out).cpu().numpy()
        if overflow.any():
            raise OverflowError(
                f"loss values {values[overflow][:5].tolist()} do not fit theta's dtype {theta.dtype}; "
                f"pass theta in a wider dtype (float32 or float64)"
            )
        return out

    # ------------------------------------------------------------------ state (torch's extra-state hooks)
    def get_extra_state(self) -> dict[str, Any]:
        # Tensors and plain Python values only, so that torch.load's default (weights_only=True) reads it.
        return _tensors({
            "dim": self.dim,
            "options": dict(self.options),
            "rng": copy.deepcopy(self.rng.bit_generator.state),
            "estimators": [estimator.state_dict() for estimator in self.estimators],
            "counters": [self.num_evaluations, self.num_calls, self.num_nonfinite],
        })

    def set_extra_state(self, state: dict[str, Any]) -> None:
        if state["dim"] != self.dim:
            raise ValueError(f"state is for dim {state['dim']}, this ZeroGradsFunction has dim {self.dim}")
        # An option a state does not name (saved before the option existed) had its default.
        saved = {k: state["options"].get(k, ESTIMATOR_OPTIONS.get(k)) for k in self.options}
        changed = sorted(k for k in self.options if k != "sigma" and saved[k] != self.options[k])
        if changed:
            raise ValueError(
                "state was saved with other settings: "
                + ", ".join(f"{k}={saved[k]!r} (here {self.options[k]!r})" for k in changed)
            )
        self.options["sigma"] = float(state["options"]["sigma"])  # a schedule may have moved it
        self.rng.bit_generator.state = copy.deepcopy(state["rng"])
        self.estimators = []
        for i, estimator_state in enumerate(state["estimators"]):
            estimator = self._make_estimator(i)
            estimator.load_state_dict(estimator_state)
            self.estimators.append(estimator)
        self.num_evaluations, self.num_calls, self.num_nonfinite = (int(c) for c in state["counters"])

    def extra_repr(self) -> str:
        fun = getattr(self.fun, "__qualname__", type(self.fun).__name__)
        return (f"fun={fun}, dim={self.dim}, popsize={self.popsize}, sigma={self.sigma:g}, "
                f"value={self.value!r}, rows={len(self.estimators) or 'unset'}")


def _tensors(obj):
    """Numpy arrays and scalars in nested dicts, lists and tuples as tensors and Python numbers."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(obj.copy())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: _tensors(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_tensors(v) for v in obj)
    return obj


def _host(raw):
    """A tensor returned by ``fun`` as a CPU numpy array (bfloat16 and CUDA tensors have no ``__array__``)."""
    if isinstance(raw, torch.Tensor):
        real = not (raw.is_complex() or raw.dtype == torch.bool)
        return (raw.detach().to("cpu", torch.float64) if real else raw.detach().cpu()).numpy()
    return raw
