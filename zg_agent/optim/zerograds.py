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

import copy
from typing import Any

import numpy as np
import torch

from .adam import Adam
from .base import Optimizer, check_choice, check_int, check_positive
from .es import centered_ranks
from .surrogate import SURROGATES, make_surrogate

TARGET_TRANSFORMS = ("standardize", "rank", "none")
FITS = ("auto", "adam", "exact")
#: ``surrogate="auto"`` uses the quadratic model up to this dimension and the linear model above it.
AUTO_QUADRATIC_MAX_DIM = 32


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
            first layer (d x width weights); the MLP also costs 5x the overhead.
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
        sigma_decay: ``sigma`` is multiplied by this after every iteration (1 = constant).
        sigma_min: lower bound of ``sigma`` under decay (at most ``sigma``).
        normalize_gradient: rescale the surrogate gradient to norm ``sqrt(d)`` before the Adam step of
            ``theta``.
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
        sigma_decay: float = 1.0,
        sigma_min: float = 0.0,
        normalize_gradient: bool = False,
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
        check_choice("surrogate", surrogate, (*SURROGATES, "auto"))
        if surrogate == "auto":
            surrogate = "quadratic" if self.dim <= AUTO_QUADRATIC_MAX_DIM else "linear"
        self.surrogate_kind = surrogate
        check_choice("fit", fit, FITS)
        if fit == "auto":
            fit = "adam" if surrogate == "mlp" else "exact"
        if fit == "exact" and surrogate == "mlp":
            raise ValueError("fit='exact' needs surrogate='linear' or 'quadratic'; the MLP is fitted with 'adam'")
        self.fit = fit
        self.ridge = check_positive("ridge", ridge)
        self.layers = check_int("layers", layers, 1)
        self.width = check_int("width", width, 1)
        self.encoding_bands = check_int("encoding_bands", encoding_bands, 0)
        self.leaky_slope = check_positive("leaky_slope", leaky_slope, allow_zero=True)
        self.linear_skip = bool(linear_skip)
        self.lr_theta = check_positive("lr_theta", lr_theta)
        self.beta1_theta = check_positive("beta1_theta", beta1_theta, allow_zero=True)
        if self.beta1_theta >= 1:
            raise ValueError(f"beta1_theta must be in [0, 1), got {beta1_theta!r}")
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
        if self.sigma_min > self.sigma:
            raise ValueError(f"sigma_min must be at most sigma ({self.sigma}), got {sigma_min!r}")
        self.normalize_gradient = bool(normalize_gradient)

        generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        self.model = make_surrogate(
            self.surrogate_kind, self.dim, layers=self.layers, width=self.width,
            encoding_bands=self.encoding_bands, leaky_slope=self.leaky_slope,
            linear_skip=self.linear_skip, generator=generator,
        )
        self.model_optim = torch.optim.Adam(self.model.parameters(), lr=self.lr_phi)
        self._theta = self._best.x.copy()
        self._theta_adam = Adam(self.dim, self.lr_theta, beta1=self.beta1_theta)
        # Ring buffer of the last `history` batches: un-jittered points (float32) and their losses.
        capacity = self.history * self.popsize
        self._points = torch.zeros((capacity, self.dim), dtype=torch.float32)
        self._losses = np.zeros(capacity)
        self._stored = 0  # rows filled
        self._cursor = 0  # next row to write
        self._jitter: np.ndarray | None = None
        # The frame the surrogate was last fitted in: z = (x - frame_theta) / frame_sigma.
        self._frame_theta, self._frame_sigma = self._theta.copy(), self.sigma
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

        with torch.no_grad():  # how well the surrogate, in the frame it was fitted in, predicts the batch
            z_old = torch.from_numpy((points - self._frame_theta) / self._frame_sigma).float()
            predicted = self.model(z_old).double().numpy() * self._target_scale + self._target_shift
        fresh = self._store(points, losses)

        z = (self._points[: self._stored] - torch.from_numpy(theta_fit).float()) / sigma
        weights = self._locality_weights(z)
        f = self._losses[: self._stored]
        targets = torch.from_numpy(self._transform(f, weights.double().numpy())).float()
        # Prediction error relative to the batch's spread, both in the units of the new targets.
        scaled_error = (predicted - losses) / self._target_scale
        fresh_var = max(float(targets[fresh].var(unbiased=False)), 1e-12)
        surrogate_error = float(np.mean(scaled_error**2) / fresh_var)

        fit_loss = self._fit_exact(z, targets, weights) if self.fit == "exact" else self._fit_adam(z, targets, weights)
        self._frame_theta, self._frame_sigma = theta_fit, sigma

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
            "surrogate_loss": fit_loss,
            "surrogate_error": surrogate_error,
            "grad_norm": float(np.linalg.norm(first_grad)),
            "grad_cosine": _cosine(first_grad, self._finite_difference_gradient(points, losses, theta_fit, sigma)),
            "sigma": sigma,
            "num_samples": float(self._stored),
        }

    # ------------------------------------------------------------------ surrogate helpers
    def predict(self, x) -> np.ndarray:
        """Surrogate values at points ``x`` (n, d), in the frame it was fitted in, mapped to loss units.

        The map back inverts the last standardisation exactly; after a rank transform it is the affine map
        with the stored losses' mean and std, so only the shape, not the scale, is meaningful.
        """
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}), got {x.shape}")
        with torch.no_grad():
            z = torch.from_numpy((x - self._frame_theta) / self._frame_sigma).float()
            y = self.model(z).double().numpy()
        return y * self._target_scale + self._target_shift

    def _store(self, points: np.ndarray, losses: np.ndarray) -> np.ndarray:
        """Write a batch into the ring buffer; returns the row indices it occupies."""
        rows = (self._cursor + np.arange(len(points))) % len(self._losses)
        self._points[torch.from_numpy(rows)] = torch.from_numpy(points).float()
        self._losses[rows] = losses
        self._cursor = int((self._cursor + len(points)) % len(self._losses))
        self._stored = min(self._stored + len(points), len(self._losses))
        return rows

    def _fit_adam(self, z: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> float:
        """``k_phi`` Adam steps of weighted MSE from the current surrogate; returns the last fit loss."""
        for _ in range(self.k_phi):
            self.model_optim.zero_grad(set_to_none=True)
            fit_loss = (weights * (self.model(z) - targets) ** 2).sum() / weights.sum()
            fit_loss.backward()
            self.model_optim.step()
        return float(fit_loss.detach())

    def _fit_exact(self, z: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> float:
        """Closed-form weighted ridge regression of the linear/quadratic surrogate, in dual form.

        With n stored samples and p features (d, or 2d with curvature) it solves an n x n system, so it
        costs O(n^2 p): cheap for the few hundred samples a window holds, whatever d is.
        """
        zd = z.double()
        features = torch.cat([zd, 0.5 * zd * zd], dim=1) if self.model.curv is not None else zd
        w = weights.double() / weights.double().sum()
        y = targets.double()
        feature_mean, target_mean = w @ features, w @ y
        root_w = w.sqrt()
        a = (features - feature_mean) * root_w[:, None]
        r = (y - target_mean) * root_w
        gram = a @ a.T
        penalty = self.ridge * float(gram.trace()) / len(gram) + 1e-12
        coef = a.T @ torch.linalg.solve(gram + penalty * torch.eye(len(gram), dtype=gram.dtype), r)
        with torch.no_grad():
            self.model.grad.copy_(coef[: self.dim])
            if self.model.curv is not None:
                self.model.curv.copy_(coef[self.dim:])
            self.model.bias.fill_(float(target_mean - feature_mean @ coef))
        residual = features @ coef + (target_mean - feature_mean @ coef) - y
        return float(w @ residual**2)

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
            "points": self._points[: self._stored].numpy().copy(),
            "losses": self._losses[: self._stored].copy(),
            "cursor": self._cursor,
            "jitter": None if self._jitter is None else self._jitter.copy(),
            "frame": (self._frame_theta.copy(), self._frame_sigma),
            "target": (self._target_shift, self._target_scale),
        }

    def _load_state_dict(self, state) -> None:
        self._theta = np.array(state["theta"], dtype=np.float64)
        self.sigma = float(state["sigma"])
        self._theta_adam.load_state_dict(state["theta_adam"])
        self.model.load_state_dict(state["model"])
        self.model_optim.load_state_dict(state["model_optim"])
        stored = len(state["losses"])
        self._points.zero_()
        self._points[:stored] = torch.as_tensor(state["points"], dtype=torch.float32)
        self._losses[:] = 0.0
        self._losses[:stored] = state["losses"]
        self._stored, self._cursor = stored, int(state["cursor"])
        self._jitter = None if state["jitter"] is None else np.array(state["jitter"])
        frame_theta, self._frame_sigma = state["frame"]
        self._frame_theta = np.array(frame_theta, dtype=np.float64)
        self._target_shift, self._target_scale = state["target"]


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0
