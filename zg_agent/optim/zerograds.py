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

The surrogate works in local coordinates ``z = (x - theta) / sigma`` and starts with a zero gradient; see
:mod:`zg_agent.optim.surrogate` for the families and their memory use. What each design choice changed on
plateau benchmarks is written down in ``benchmarks/optimizers.md``.

Published settings (for reference): low-dimensional problems 3 layers x 64, sigma = 0.33, lr_theta = 5e-4,
lr_phi = 1e-3; high-dimensional problems 8 layers x 128 with positional encoding, sigma = 0.0125-0.025,
lr_theta = 1e-5-1e-4, lr_phi = 1e-4; k_phi = 3, k_theta = 1-3; batches of 2 to 40 evaluations.
"""

from __future__ import annotations

import collections
import copy
from typing import Any

import numpy as np
import torch

from .adam import Adam
from .base import Optimizer, check_choice, check_int, check_positive
from .es import centered_ranks
from .surrogate import SURROGATES, make_surrogate

TARGET_TRANSFORMS = ("standardize", "rank", "none")


class ZeroGrads(Optimizer):
    """The ZeroGrads optimizer (ask/tell, minimisation).

    Args:
        x0: starting point, shape (d,).
        sigma: std of the Gaussian perturbations (the smoothing kernel's width), in parameter units.
        popsize: evaluations per iteration (an even number when ``antithetic``).
        antithetic: draw perturbations in pairs ``(eps, -eps)``.
        inner_sigma: std of the extra jitter of each evaluated point, relative to ``sigma`` (0 turns the
            smoothing off; the paper uses 0.1).
        surrogate: ``"mlp"``, ``"quadratic"`` (diagonal) or ``"linear"``.
        layers: MLP layers including the output layer (paper: 3 low-d, 8 high-d).
        width: MLP hidden width (paper: 64 low-d, 128 high-d).
        encoding_bands: NeRF-style positional-encoding frequency bands of the MLP input (0 = off).
        leaky_slope: negative slope of the leaky ReLUs.
        linear_skip: add a linear term ``w . z`` to the MLP.
        lr_theta: Adam step size of ``theta``.
        lr_phi: Adam step size of the surrogate's parameters.
        k_phi: surrogate Adam steps per batch.
        k_theta: ``theta`` Adam steps per batch, each on the surrogate fitted to this batch.
        target_transform: how losses become regression targets: ``"standardize"`` (weighted z-score over
            the stored samples), ``"rank"`` (centred ranks scaled to unit variance) or ``"none"``.
        history: batches kept and refitted each iteration (1 = only the fresh batch).
        locality: width, in units of ``sigma`` per coordinate, of the Gaussian kernel that weights stored
            samples by their distance to the current ``theta`` (0 = equal weights).
        sigma_decay: ``sigma`` is multiplied by this after every iteration (1 = constant).
        sigma_min: lower bound of ``sigma`` under decay.
        normalize_gradient: rescale the surrogate gradient to norm ``sqrt(d)`` before the Adam step of
            ``theta``, so the step size does not shrink when the fitted slope does (Adam's second moment
            remembers early, large gradients for about 1,000 steps).
        seed, nonfinite: see :class:`~zg_agent.optim.base.Optimizer`.
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
        surrogate: str = "mlp",
        layers: int = 3,
        width: int = 64,
        encoding_bands: int = 0,
        leaky_slope: float = 0.01,
        linear_skip: bool = True,
        lr_theta: float = 0.02,
        lr_phi: float = 1e-3,
        k_phi: int = 3,
        k_theta: int = 1,
        target_transform: str = "standardize",
        history: int = 4,
        locality: float = 1.0,
        sigma_decay: float = 1.0,
        sigma_min: float = 0.0,
        normalize_gradient: bool = True,
        seed: int | None = None,
        nonfinite: str = "raise",
    ):
        popsize = check_int("popsize", popsize, 2 if antithetic else 1)
        if antithetic and popsize % 2:
            raise ValueError(f"popsize must be even when antithetic=True, got {popsize}")
        super().__init__(x0, popsize=popsize, seed=seed, nonfinite=nonfinite)
        self.sigma = check_positive("sigma", sigma)
        self.antithetic = bool(antithetic)
        self.inner_sigma = check_positive("inner_sigma", inner_sigma, allow_zero=True)
        self.surrogate_kind = check_choice("surrogate", surrogate, SURROGATES)
        self.layers = check_int("layers", layers, 1)
        self.width = check_int("width", width, 1)
        self.encoding_bands = check_int("encoding_bands", encoding_bands, 0)
        self.leaky_slope = check_positive("leaky_slope", leaky_slope, allow_zero=True)
        self.linear_skip = bool(linear_skip)
        self.lr_theta = check_positive("lr_theta", lr_theta)
        self.lr_phi = check_positive("lr_phi", lr_phi)
        self.k_phi = check_int("k_phi", k_phi, 1)
        self.k_theta = check_int("k_theta", k_theta, 1)
        self.target_transform = check_choice("target_transform", target_transform, TARGET_TRANSFORMS)
        self.history = check_int("history", history, 1)
        self.locality = check_positive("locality", locality, allow_zero=True)
        self.sigma_decay = check_positive("sigma_decay", sigma_decay)
        if self.sigma_decay > 1:
            raise ValueError(f"sigma_decay must be in (0, 1], got {sigma_decay!r}")
        self.sigma_min = check_positive("sigma_min", sigma_min, allow_zero=True)
        self.normalize_gradient = bool(normalize_gradient)

        generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        self.model = make_surrogate(
            self.surrogate_kind, self.dim, layers=self.layers, width=self.width,
            encoding_bands=self.encoding_bands, leaky_slope=self.leaky_slope,
            linear_skip=self.linear_skip, generator=generator,
        )
        self.model_optim = torch.optim.Adam(self.model.parameters(), lr=self.lr_phi)
        self._theta = self._best.x.copy()
        self._theta_adam = Adam(self.dim, self.lr_theta)
        self._samples: collections.deque = collections.deque(maxlen=self.history)  # (points, losses)
        self._jitter: np.ndarray | None = None
        self._target_shift, self._target_scale = 0.0, 1.0

    # ------------------------------------------------------------------ ask / tell
    @property
    def mean(self) -> np.ndarray:
        return self._theta.copy()

    def _ask(self) -> np.ndarray:
        if self.antithetic:
            half = self.rng.standard_normal((self.popsize // 2, self.dim))
            eps = np.concatenate([half, -half])
        else:
            eps = self.rng.standard_normal((self.popsize, self.dim))
        points = self._theta + self.sigma * eps
        if self.inner_sigma > 0:
            self._jitter = self.inner_sigma * self.sigma * self.rng.standard_normal(points.shape)
        else:
            self._jitter = np.zeros_like(points)
        return points + self._jitter

    def _tell(self, candidates: np.ndarray, losses: np.ndarray) -> dict[str, float]:
        points = candidates - self._jitter  # label each loss with its un-jittered point
        self._jitter = None
        theta_fit, sigma = self._theta.copy(), self.sigma

        self._samples.append((points, losses))
        x = np.concatenate([p for p, _ in self._samples])
        f = np.concatenate([l for _, l in self._samples])
        z = torch.from_numpy((x - theta_fit) / sigma).float()
        weights = self._locality_weights(z)
        targets = torch.from_numpy(self._transform(f, weights.double().numpy())).float()
        fresh = slice(len(f) - len(losses), len(f))

        with torch.no_grad():  # how well the surrogate predicted the fresh batch before seeing it
            pred = self.model(z[fresh])
            fresh_var = targets[fresh].var(unbiased=False).clamp_min(1e-12)
            surrogate_error = float(((pred - targets[fresh]) ** 2).mean() / fresh_var)

        for _ in range(self.k_phi):
            self.model_optim.zero_grad(set_to_none=True)
            fit_loss = (weights * (self.model(z) - targets) ** 2).sum() / weights.sum()
            fit_loss.backward()
            self.model_optim.step()

        for _ in range(self.k_theta):
            grad = self._surrogate_gradient((self._theta - theta_fit) / sigma) / sigma
            step = grad
            if self.normalize_gradient:
                norm = np.linalg.norm(grad)
                step = grad * (np.sqrt(self.dim) / norm) if norm > 0 else grad
            self._theta = self._theta_adam.step(self._theta, step)
        first_grad = grad if self.k_theta == 1 else self._surrogate_gradient(np.zeros(self.dim)) / sigma

        self.sigma = max(self.sigma_min, self.sigma * self.sigma_decay)
        return {
            "surrogate_loss": float(fit_loss.detach()),
            "surrogate_error": surrogate_error,
            "grad_norm": float(np.linalg.norm(first_grad)),
            "grad_cosine": _cosine(first_grad, self._finite_difference_gradient(points, losses, theta_fit, sigma)),
            "sigma": sigma,
            "num_samples": float(len(f)),
        }

    # ------------------------------------------------------------------ surrogate helpers
    def predict(self, x) -> np.ndarray:
        """Surrogate values at points ``x`` (n, d), mapped back to loss units.

        The map back inverts the last standardisation exactly; after a rank transform it is the affine map
        with the stored losses' mean and std, so only the shape, not the scale, is meaningful.
        """
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}), got {x.shape}")
        with torch.no_grad():
            y = self.model(torch.from_numpy((x - self._theta) / self.sigma).float()).double().numpy()
        return y * self._target_scale + self._target_shift

    def _surrogate_gradient(self, z0: np.ndarray) -> np.ndarray:
        z = torch.from_numpy(z0).float().unsqueeze(0).requires_grad_(True)
        (g,) = torch.autograd.grad(self.model(z).sum(), z)
        return g[0].double().numpy()

    def _locality_weights(self, z: torch.Tensor) -> torch.Tensor:
        if self.locality == 0:
            return torch.ones(len(z))
        msd = (z * z).mean(dim=1)  # mean squared distance per coordinate, in units of sigma^2
        logw = -0.5 * msd / self.locality**2
        return torch.exp(logw - logw.max())

    def _transform(self, f: np.ndarray, w: np.ndarray) -> np.ndarray:
        w = w / w.sum()
        mean = float(w @ f)
        std = float(np.sqrt(w @ (f - mean) ** 2))
        if self.target_transform == "none":
            self._target_shift, self._target_scale = 0.0, 1.0
            return f
        self._target_shift, self._target_scale = mean, (std if std > 0 else 1.0)
        if self.target_transform == "standardize":
            return (f - mean) / (std if std > 0 else 1.0)
        return centered_ranks(f) * np.sqrt(12.0)  # unit variance for uniform ranks

    def _finite_difference_gradient(self, points, losses, theta, sigma) -> np.ndarray:
        """The antithetic (or baseline-subtracted) Gaussian-smoothing gradient estimate of this batch."""
        eps = (points - theta) / sigma
        if self.antithetic:
            h = len(losses) // 2
            return eps[:h].T @ (losses[:h] - losses[h:]) / (2 * sigma * h)
        return eps.T @ (losses - losses.mean()) / (sigma * len(losses))

    # ------------------------------------------------------------------ state
    def _state_dict(self) -> dict[str, Any]:
        return {
            "theta": self._theta.copy(),
            "sigma": self.sigma,
            "theta_adam": self._theta_adam.state_dict(),
            "model": copy.deepcopy(self.model.state_dict()),
            "model_optim": copy.deepcopy(self.model_optim.state_dict()),
            "samples": [(p.copy(), l.copy()) for p, l in self._samples],
            "jitter": None if self._jitter is None else self._jitter.copy(),
            "target": (self._target_shift, self._target_scale),
        }

    def _load_state_dict(self, state) -> None:
        self._theta = np.array(state["theta"], dtype=np.float64)
        self.sigma = float(state["sigma"])
        self._theta_adam.load_state_dict(state["theta_adam"])
        self.model.load_state_dict(state["model"])
        self.model_optim.load_state_dict(state["model_optim"])
        self._samples.clear()
        self._samples.extend((np.array(p), np.array(l)) for p, l in state["samples"])
        self._jitter = None if state["jitter"] is None else np.array(state["jitter"])
        self._target_shift, self._target_scale = state["target"]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0
