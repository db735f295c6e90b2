"""ZeroGrads: learn a local surrogate of the Gaussian-smoothed loss online, and descend its gradient.

Fischer & Ritschel, "ZeroGrads: Learning Local Surrogates for Non-Differentiable Graphics",
ACM Transactions on Graphics 43(4), SIGGRAPH 2024. arXiv:2308.05739.

Each iteration:

1. ``ask`` draws ``popsize`` Gaussian perturbations ``eps ~ N(0, sigma^2 I)`` around ``theta`` in antithetic
   pairs ``(eps, -eps)``, and jitters each evaluated point by a further ``inner_sigma * sigma`` Gaussian
   (a one-sample estimate of the loss convolved with a Gaussian: the *smoothed* objective);
2. ``tell`` stores the batch (labelled with the un-jittered points), keeps the last ``history`` batches,
   weights every stored sample by its distance to the current ``theta`` (locality), transforms the losses
   (standardised or centred ranks, so the fit does not depend on the loss's scale), and fits the surrogate
   ``h_phi`` by weighted MSE with ``k_phi`` Adam steps, online, from the previous ``phi``;
3. ``theta`` takes ``k_theta`` Adam steps along ``grad_theta h_phi``.

Steps 1 and 2 are :class:`~zg_agent.optim.estimator.SurrogateEstimator`, shared with
:class:`zg_agent.torch.ZeroGradsFunction`; this class adds step 3. The surrogate works in local
coordinates ``z = (x - theta) / sigma`` and starts with a zero gradient; see :mod:`zg_agent.optim.surrogate`
for the families and their memory use. What each design choice changed on plateau benchmarks is written
down in ``benchmarks/optimizers.md``.

Published settings (for reference): low-dimensional problems 3 layers x 64, sigma = 0.33, lr_theta = 5e-4,
lr_phi = 1e-3; high-dimensional problems 8 layers x 128 with positional encoding, sigma = 0.0125-0.025,
lr_theta = 1e-5-1e-4, lr_phi = 1e-4; k_phi = 3, k_theta = 1-3; batches of 2 to 40 evaluations.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .adam import Adam
from .base import Optimizer, check_int, check_positive
from .estimator import AUTO_QUADRATIC_MAX_DIM, FITS, TARGET_TRANSFORMS, SurrogateEstimator
from .step_control import STEP_CONTROLS, StepControl, check_saved_control, check_step_control

__all__ = ["ZeroGrads", "AUTO_QUADRATIC_MAX_DIM", "FITS", "STEP_CONTROLS", "TARGET_TRANSFORMS"]


class ZeroGrads(Optimizer):
    """The ZeroGrads optimizer (ask/tell, minimisation).

    Args:
        x0: starting point, shape (d,).
        sigma: std of the Gaussian perturbations (the smoothing kernel's width), in parameter units.
        popsize: evaluations per iteration (an even number when ``antithetic``).
        antithetic: draw perturbations in pairs ``(eps, -eps)``.
        inner_sigma: std of the extra jitter of each evaluated point, relative to ``sigma`` (0 turns the
            smoothing off; the paper uses 0.1).
        surrogate: ``"mlp"`` (the paper's neural surrogate), ``"quadratic"`` (diagonal), ``"linear"``, or
            ``"auto"``: the quadratic model for d <= 32 and the linear one above. Measured on the plateau
            problems of benchmarks/optimizers.md, the quadratic model was at least as good as the MLP
            on every low-dimensional problem and the linear one on every problem above 1,000
            dimensions, where a few hundred samples cannot fit curvature (2d coefficients) or an MLP's
            first layer (d x width weights); the MLP also costs 5x the overhead. Run towards 100,000
            evaluations (capped at two minutes each, so it got 2k-63k evaluations in, compared at equal
            evaluations), the paper's 8 x 128 MLP with positional encoding (with or without ``history=8``)
            stayed near its start on the step sphere, threshold match (d = 1,000 and 10,000) and ShadowArt
            K = 16, and with this library's faster MLP fit it descended far behind the linear model, at
            30-160x the time per iteration (benchmarks/optimizers.md).
        layers: MLP layers including the output layer (paper: 3 low-d, 8 high-d).
        width: MLP hidden width (paper: 64 low-d, 128 high-d).
        encoding_bands: NeRF-style positional-encoding frequency bands of the MLP input (0 = off).
        leaky_slope: negative slope of the leaky ReLUs.
        linear_skip: add a linear term ``w . z`` to the MLP.
        fit: how the surrogate is fitted to the stored samples: ``"adam"`` (``k_phi`` Adam steps from the
            previous parameters, online, as in the paper), ``"exact"`` (closed-form weighted ridge
            regression; linear and quadratic surrogates only), or ``"auto"`` (exact where possible).
            Adam normalises every coordinate's step, so in high dimension it moves the weight of every
            coordinate by the same amount whether the data supports it or not; the exact fit does not.
        ridge: ridge penalty of the exact fit, relative to the mean eigenvalue of the sample Gram matrix.
        lr_theta: Adam step size of ``theta``.
        beta1_theta: Adam's first-moment decay for ``theta``. The surrogate already averages over the
            stored batches, so less momentum than Adam's usual 0.9 is needed (measured).
        lr_phi: Adam step size of the surrogate's parameters (``fit="adam"``).
        k_phi: surrogate Adam steps per batch (``fit="adam"``).
        k_theta: ``theta`` Adam steps per batch, each on the surrogate fitted to this batch.
        target_transform: how losses become regression targets: ``"standardize"`` (weighted z-score over
            the stored samples), ``"rank"`` (centred ranks scaled to unit variance) or ``"none"``.
        history: batches kept and refitted each iteration (1 = only the fresh batch).
        locality: width, in units of ``sigma`` per coordinate, of the Gaussian kernel that weights stored
            samples by their distance to the current ``theta`` (0 = equal weights).
        guided: surrogate-guided sampling (Guided ES): the fraction ``g`` in [0, 1) of the perturbations'
            variance drawn in the span of the last ``guided_subspace`` surrogate gradients, the rest isotropic,
            ``eps ~ N(0, sigma^2 ((1 - g) I + g d / k U U^T))`` with ``U`` their orthonormal basis (the trace
            stays ``sigma^2 d``); see :mod:`zg_agent.optim.guided`. 0 (the default) is plain isotropic sampling.
            The fit still labels every loss with its point, but the surrogate then models the loss smoothed by
            this anisotropic Gaussian (up to ``sqrt(g d / k)`` times wider along the subspace), not the
            isotropic one; the locality weights, isotropic distances, see guided samples as far as isotropic
            ones on average (equal trace) but weight them by their full length along the subspace; and the
            ``grad_cosine`` diagnostic (the batch's antithetic differences) is biased towards the subspace.
            Measured at 100,000 evaluations (benchmarks/optimizers.md): ``g = 0.5, k = 4`` and ``g = 0.2,
            k = 1`` lost to isotropic sampling on the step sphere and threshold match at d = 1,000 and 10,000
            and on ShadowArt K = 16, but for a tie on threshold match at 1,000, so it stays off.
        guided_subspace: ``k``, the number of recent surrogate gradients spanning the guided subspace
            (1 to d; read only with ``guided > 0``, so the default 4 is fine in fewer dimensions when off).
        sigma_decay: ``sigma`` is multiplied by this after every iteration (1 = constant).
        sigma_min: lower bound of ``sigma`` under decay (at most ``sigma``).
        normalize_gradient: rescale the surrogate gradient to norm ``sqrt(d)`` before the Adam step of
            ``theta``.
        step_control: ``"auto"`` watches the smoothed loss (the mean of each batch's losses) in windows of
            ``control_window`` iterations. When it climbs beyond its noise (a least-squares slope above 2.5
            standard errors over the last 3 windows), ``theta`` goes back to the best window's average
            ``theta`` and ``lr_theta`` is multiplied by ``shrink``: the steps were too long for the gradient's
            noise, which in high dimension makes every coordinate random-walk. When no window has been better
            for as long as it takes to see every coordinate once (``d / popsize`` iterations, at least
            ``patience`` windows), ``sigma`` and ``lr_theta`` are multiplied by ``shrink`` (a finer look near a
            minimum of the smoothed loss; ``sigma`` not below ``sigma_min`` nor 1e-4 of its start), unless every
            batch since the best window was flat (all its losses equal: a plateau), where ``sigma`` is divided
            by ``shrink`` instead, up to 4x its starting value (a plateau right after a shrink undoes that
            shrink instead). ``"none"``: fixed ``lr_theta`` and ``sigma``
            (but ``sigma_decay``).
        control_window: iterations per window of ``step_control``.
        patience: windows without improvement before ``step_control`` shrinks ``sigma`` and ``lr_theta``.
        shrink: factor of ``step_control``'s reductions, in (0, 1).
        seed, nonfinite: see :class:`~zg_agent.optim.base.Optimizer`.

    Memory: stored samples take ``4 * d * history * popsize`` bytes (float32); asking and fitting make a
    few float64 copies of a batch (``8 * d * popsize`` bytes each); the surrogate takes what
    :mod:`zg_agent.optim.surrogate` says. Measured peak at d = 200,000 with the defaults: about 0.5 GB with
    the linear surrogate, 0.6 GB with the MLP (width 64).
    """

    name = "zerograds"

    def __init__(
        self,
        x0,
        *,
        sigma: float = 0.1,
        popsize: int = 20,
        antithetic: bool = True,
        inner_sigma: float = 0.1,
        surrogate: str = "auto",
        layers: int = 3,
        width: int = 64,
        encoding_bands: int = 0,
        leaky_slope: float = 0.01,
        linear_skip: bool = True,
        fit: str = "auto",
        ridge: float = 0.1,
        lr_theta: float = 0.02,
        beta1_theta: float = 0.5,
        lr_phi: float = 3e-3,
        k_phi: int = 10,
        k_theta: int = 1,
        target_transform: str = "rank",
        history: int = 2,
        locality: float = 1.0,
        guided: float = 0.0,
        guided_subspace: int = 4,
        sigma_decay: float = 1.0,
        sigma_min: float = 0.0,
        normalize_gradient: bool = False,
        step_control: str = "auto",
        control_window: int = 10,
        patience: int = 3,
        shrink: float = 0.5,
        seed: int | None = None,
        nonfinite: str = "raise",
    ):
        super().__init__(x0, popsize=check_int("popsize", popsize, 1), seed=seed, nonfinite=nonfinite)
        # Sampling, sample memory and the surrogate's fit; this class adds only the update of theta.
        self.estimator = SurrogateEstimator(
            self.dim, sigma=sigma, popsize=popsize, antithetic=antithetic, inner_sigma=inner_sigma,
            surrogate=surrogate, layers=layers, width=width, encoding_bands=encoding_bands,
            leaky_slope=leaky_slope, linear_skip=linear_skip, fit=fit, ridge=ridge, lr_phi=lr_phi,
            k_phi=k_phi, target_transform=target_transform, history=history, locality=locality,
            guided=guided, guided_subspace=guided_subspace, seed=seed,
        )
        self.lr_theta = check_positive("lr_theta", lr_theta)
        self.beta1_theta = check_positive("beta1_theta", beta1_theta, allow_zero=True)
        if self.beta1_theta >= 1:
            raise ValueError(f"beta1_theta must be in [0, 1), got {beta1_theta!r}")
        self.k_theta = check_int("k_theta", k_theta, 1)
        self.sigma_decay = check_positive("sigma_decay", sigma_decay)
        if self.sigma_decay > 1:
            raise ValueError(f"sigma_decay must be in (0, 1], got {sigma_decay!r}")
        self.sigma_min = check_positive("sigma_min", sigma_min, allow_zero=True)
        if self.sigma_min > self.sigma:
            raise ValueError(f"sigma_min must be at most sigma ({self.sigma}), got {sigma_min!r}")
        self.normalize_gradient = bool(normalize_gradient)
        self.step_control, self.control_window, self.patience, self.shrink = check_step_control(
            step_control, control_window, patience, shrink)
        self._theta = self._best.x.copy()
        self._theta_adam = Adam(self.dim, self.lr_theta, beta1=self.beta1_theta)
        self.estimator.reset_frame(self._theta)
        self._control = (StepControl(self._theta, self.sigma, dim=self.dim, popsize=self.popsize,
                                     control_window=self.control_window, patience=self.patience,
                                     shrink=self.shrink, sigma_min=self.sigma_min)
                         if self.step_control == "auto" else None)

    # ------------------------------------------------------------------ ask / tell
    @property
    def mean(self) -> np.ndarray:
        return self._theta.copy()

    @property
    def sigma(self) -> float:
        """The current perturbation scale (the estimator's)."""
        return self.estimator.sigma

    @sigma.setter
    def sigma(self, value: float) -> None:
        self.estimator.sigma = value

    @property
    def surrogate_kind(self) -> str:
        """The surrogate family in use (``"auto"`` resolved)."""
        return self.estimator.surrogate_kind

    @property
    def model(self):
        """The surrogate model (a torch module in the estimator's local frame)."""
        return self.estimator.model

    def _ask(self) -> np.ndarray:
        return self.estimator.sample(self._theta, self.rng)

    def _tell(self, candidates: np.ndarray, losses: np.ndarray) -> dict[str, float]:
        drawn_around = self._theta
        metrics = self.estimator.update(candidates, losses, self._theta)
        for _ in range(self.k_theta):
            step = self.estimator.gradient(self._theta)
            if self.normalize_gradient:
                norm = np.linalg.norm(step)
                step = step * (np.sqrt(self.dim) / norm) if norm > 0 else step
            self._theta = self._theta_adam.step(self._theta, step)
        self.sigma = max(self.sigma_min, self.sigma * self.sigma_decay)
        if self._control is not None:
            self._apply_control(losses, drawn_around)
            metrics.update(lr_theta=self._theta_adam.lr, num_reverts=float(self._control.reverts))
        return metrics

    def _apply_control(self, losses: np.ndarray, drawn_around: np.ndarray) -> None:
        """One iteration of ``step_control="auto"`` (see :mod:`zg_agent.optim.step_control`)."""
        change = self._control.update(losses, drawn_around, self._theta, self.sigma, self._theta_adam.lr)
        if change is not None:
            self._theta, self.sigma, self._theta_adam.lr = change.theta, change.sigma, change.lr
            if change.reverted:
                self._theta_adam.m[:] = 0.0

    def predict(self, x) -> np.ndarray:
        """Surrogate values at points ``x`` (n, d) in loss units; see :meth:`SurrogateEstimator.predict`."""
        return self.estimator.predict(x)

    # ------------------------------------------------------------------ state
    def _state_dict(self) -> dict[str, Any]:
        state = {"theta": self._theta.copy(), "theta_adam": self._theta_adam.state_dict(), **self.estimator.state_dict()}
        if self._control is not None:
            state["control"] = self._control.state_dict()
            state["lr_theta_now"] = self._theta_adam.lr
        return state

    def _load_state_dict(self, state) -> None:
        self._theta = np.array(state["theta"], dtype=np.float64)
        self._theta_adam.load_state_dict(state["theta_adam"])
        self.estimator.load_state_dict(state)
        check_saved_control(self._control is not None, state)
        if self._control is not None:
            self._control.load_state_dict(state["control"])
            self._theta_adam.lr = float(state["lr_theta_now"])

