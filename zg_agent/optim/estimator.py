"""The heart of ZeroGrads, apart from any update rule: sample around a point, fit a local surrogate, differentiate it.

:class:`SurrogateEstimator` knows nothing of how the point moves. :class:`~zg_agent.optim.zerograds.ZeroGrads`
moves it with its own Adam step; :class:`zg_agent.torch.ZeroGradsFunction` hands the gradient to autograd,
so that any torch optimizer moves it. One estimator = one stream of samples and one surrogate.

Each round:

1. ``sample(theta, rng)`` draws ``popsize`` Gaussian perturbations ``eps ~ N(0, sigma^2 I)`` around ``theta``
   (antithetic pairs ``(eps, -eps)`` by default) and jitters each evaluated point by a further
   ``inner_sigma * sigma`` Gaussian: a one-sample estimate of the loss convolved with a Gaussian, the
   *smoothed* objective. It returns the points to evaluate. With ``guided > 0`` a fraction of the perturbations'
   variance lies in the span of the last ``guided_subspace`` surrogate gradients (:mod:`.guided`).
2. ``update(candidates, losses, theta)`` labels every loss with its un-jittered point, keeps the last
   ``history`` batches, weights each stored sample by its distance to ``theta`` (locality), transforms the
   losses (centred ranks or z-scores, so the fit ignores the loss's scale) and fits the surrogate in the
   frame ``z = (x - theta) / sigma``: closed-form weighted ridge regression or ``k_phi`` Adam steps from the
   previous parameters, online.
3. ``gradient(x)`` is the surrogate's gradient at ``x`` in loss units per parameter unit (after a rank
   transform only its direction and relative size mean something).
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from .base import check_choice, check_int, check_positive
from .es import centered_ranks
from .guided import GuidedSubspace
from .sampling import gaussian_rows, single_threaded_blas
from .surrogate import SURROGATES, make_surrogate

TARGET_TRANSFORMS = ("standardize", "rank", "none")
FITS = ("auto", "adam", "exact")
#: ``surrogate="auto"`` uses the quadratic model up to this dimension and the linear model above it.
AUTO_QUADRATIC_MAX_DIM = 32
# Exact fits over more stored coordinates than this (samples x dimensions) run their n x d work in float32.
_FLOAT32_FIT_SIZE = 2**18


class SurrogateEstimator:
    """Samples, history and online fit of a ZeroGrads surrogate around a moving point.

    The arguments are ZeroGrads' own, with the same meaning and checks; see
    :class:`~zg_agent.optim.zerograds.ZeroGrads` for each one. ``seed`` seeds only the MLP's initial
    weights; the sampling draws from the generator passed to :meth:`sample`.
    """

    def __init__(
        self,
        dim: int,
        *,
        sigma: float,
        popsize: int,
        antithetic: bool,
        inner_sigma: float,
        surrogate: str,
        layers: int,
        width: int,
        encoding_bands: int,
        leaky_slope: float,
        linear_skip: bool,
        fit: str,
        ridge: float,
        lr_phi: float,
        k_phi: int,
        target_transform: str,
        history: int,
        locality: float,
        guided: float,
        guided_subspace: int,
        seed: int | None,
    ):
        self.dim = check_int("dim", dim, 1)
        self.popsize = check_int("popsize", popsize, 2 if antithetic else 1)
        if antithetic and self.popsize % 2:
            raise ValueError(f"popsize must be even when antithetic=True, got {popsize}")
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
        self.lr_phi = check_positive("lr_phi", lr_phi)
        self.k_phi = check_int("k_phi", k_phi, 1)
        self.target_transform = check_choice("target_transform", target_transform, TARGET_TRANSFORMS)
        self.history = check_int("history", history, 1)
        self.locality = check_positive("locality", locality, allow_zero=True)
        self.guided = check_positive("guided", guided, allow_zero=True)
        if self.guided >= 1:
            raise ValueError(f"guided must be in [0, 1) (the fraction of the perturbation variance in the gradient "
                             f"subspace), got {guided!r}")
        self.guided_subspace = check_int("guided_subspace", guided_subspace, 1)
        if self.guided > 0 and self.guided_subspace > self.dim:
            raise ValueError(f"guided_subspace must be an integer in [1, d = {self.dim}], got {guided_subspace!r}")
        self._guide = (GuidedSubspace(self.dim, guided=self.guided, k=self.guided_subspace)
                       if self.guided > 0 else None)

        generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
        self.model = make_surrogate(
            self.surrogate_kind, self.dim, layers=self.layers, width=self.width,
            encoding_bands=self.encoding_bands, leaky_slope=self.leaky_slope,
            linear_skip=self.linear_skip, generator=generator,
        )
        self.model_optim = torch.optim.Adam(self.model.parameters(), lr=self.lr_phi)
        # Ring buffer of the last `history` batches: un-jittered points (float32) and their losses.
        capacity = self.history * self.popsize
        self._points = np.zeros((capacity, self.dim), dtype=np.float32)
        self._losses = np.zeros(capacity)
        self._stored = 0  # rows filled
        self._cursor = 0  # next row to write
        self._jitter: np.ndarray | None = None
        # The frame the surrogate was last fitted in: z = (x - frame_theta) / frame_sigma.
        self._frame_theta, self._frame_sigma = np.zeros(self.dim), self.sigma
        self._target_shift, self._target_scale = 0.0, 1.0
        self._centre_gradient: np.ndarray | None = None  # gradient at the frame's centre, once computed

    @property
    def num_samples(self) -> int:
        """Stored samples the next fit uses."""
        return self._stored

    @property
    def guide(self) -> GuidedSubspace | None:
        """The gradient subspace of guided sampling (``None`` with ``guided=0``)."""
        return self._guide

    @property
    def loss_scale(self) -> float:
        """Loss units per unit of the regression targets of the last fit (the stored losses' spread)."""
        return self._target_scale

    def reset_frame(self, theta: np.ndarray) -> None:
        """Centre the (still unfitted) surrogate's frame at ``theta``."""
        self._frame_theta, self._frame_sigma = np.array(theta, dtype=np.float64), self.sigma
        self._centre_gradient = None

    # ------------------------------------------------------------------ one round
    def sample(self, theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The ``(popsize, d)`` points to evaluate around ``theta`` (jitter included).

        Every perturbation and jitter of the batch come from one float32 draw (:func:`gaussian_rows`); guided
        sampling draws its subspace coefficients after it (:meth:`GuidedSubspace.perturbations`).
        """
        half = self.popsize // 2 if self.antithetic else self.popsize
        noise = gaussian_rows(rng, half + (self.popsize if self.inner_sigma > 0 else 0), self.dim)
        base = noise[:half] if self._guide is None else self._guide.perturbations(noise[:half], rng)
        eps = np.concatenate([base, -base]) if self.antithetic else base
        points = theta + self.sigma * eps.astype(np.float64)
        if self.inner_sigma > 0:
            self._jitter = np.float32(self.inner_sigma * self.sigma) * noise[half:]
            return points + self._jitter
        self._jitter = np.zeros((self.popsize, self.dim), dtype=np.float32)
        return points

    def update(self, candidates: np.ndarray, losses: np.ndarray, theta: np.ndarray) -> dict[str, float]:
        """Store the last sample's losses and refit the surrogate in the frame centred at ``theta``."""
        with single_threaded_blas():
            return self._update(candidates, losses, theta)

    def _update(self, candidates: np.ndarray, losses: np.ndarray, theta: np.ndarray) -> dict[str, float]:
        if self._jitter is None:
            raise RuntimeError("SurrogateEstimator.update() called without a pending sample()")
        points = (candidates - self._jitter).astype(np.float32)  # label each loss with its un-jittered point
        self._jitter = None
        theta_fit, sigma = np.array(theta, dtype=np.float64), self.sigma

        # how well the surrogate, in the frame it was fitted in, predicts the batch
        predicted = self._values(self._frame_z(points)) * self._target_scale + self._target_shift
        fresh = self._store(points, losses)

        z = self._points[: self._stored] - theta_fit.astype(np.float32)
        z *= np.float32(1.0 / sigma)
        weights = self._locality_weights(z)
        f = self._losses[: self._stored]
        targets = self._transform(f, weights)
        # Prediction error relative to the batch's spread, both in the units of the new targets.
        scaled_error = (predicted - losses) / self._target_scale
        fresh_var = max(float(targets[fresh].var()), 1e-12)
        surrogate_error = float(np.mean(scaled_error**2) / fresh_var)

        if self.fit == "exact":
            fit_loss = self._fit_exact(z, targets, weights)
        else:
            fit_loss = self._fit_adam(torch.from_numpy(z), torch.from_numpy(targets).float(),
                                      torch.from_numpy(weights).float())
        self._frame_theta, self._frame_sigma = theta_fit, sigma
        self._centre_gradient = None
        grad = self.gradient(theta_fit)
        self._centre_gradient = grad  # the usual next question; asked again, it costs no second backward pass
        if self._guide is not None:
            self._guide.add(grad)
        return {
            "surrogate_loss": fit_loss,
            "surrogate_error": surrogate_error,
            "grad_norm": float(np.linalg.norm(grad)),
            "grad_cosine": _cosine(grad, self._finite_difference_gradient(z[fresh], losses, sigma)),
            "sigma": sigma,
            "num_samples": float(self._stored),
        }

    # ------------------------------------------------------------------ the fitted surrogate
    def gradient(self, x: np.ndarray) -> np.ndarray:
        """Gradient of the fitted surrogate at ``x`` (d,), per parameter unit."""
        if self._centre_gradient is not None and np.array_equal(x, self._frame_theta):
            return self._centre_gradient.copy()
        z = self._frame_z(np.asarray(x, dtype=np.float64)[None, :])
        if self._closed_form:  # linear / quadratic: the gradient is written down, no autograd
            grad = self.model.grad.detach().numpy().astype(np.float64)
            if self.model.curv is not None:
                grad = grad + self.model.curv.detach().numpy() * z[0]
            return grad / self._frame_sigma
        zt = torch.from_numpy(z).requires_grad_(True)
        (g,) = torch.autograd.grad(self.model(zt).sum(), zt)
        return g[0].double().numpy() / self._frame_sigma

    def predict(self, x) -> np.ndarray:
        """Surrogate values at points ``x`` (n, d), in the frame it was fitted in, mapped to loss units.

        The map back inverts the last standardisation exactly; after a rank transform it is the affine map
        with the stored losses' mean and std, so only the shape, not the scale, is meaningful.
        """
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}), got {x.shape}")
        return self._values(self._frame_z(x)) * self._target_scale + self._target_shift

    # ------------------------------------------------------------------ internals
    @property
    def _closed_form(self) -> bool:
        return self.surrogate_kind != "mlp"

    def _frame_z(self, x: np.ndarray) -> np.ndarray:
        """``x`` (n, d) in the frame the surrogate was last fitted in, float32."""
        return ((x - self._frame_theta) * (1.0 / self._frame_sigma)).astype(np.float32)

    def _values(self, z: np.ndarray) -> np.ndarray:
        """The surrogate at frame coordinates ``z`` (n, d) float32, in target units, float64."""
        if self._closed_form:
            m = self.model
            y = z @ m.grad.detach().numpy() + float(m.bias.detach())
            if m.curv is not None:
                y = y + 0.5 * ((z * z) @ m.curv.detach().numpy())
            return y.astype(np.float64)
        with torch.no_grad():
            return self.model(torch.from_numpy(z)).double().numpy()

    def _store(self, points: np.ndarray, losses: np.ndarray) -> np.ndarray:
        """Write a batch into the ring buffer; returns the row indices it occupies."""
        rows = (self._cursor + np.arange(len(points))) % len(self._losses)
        self._points[rows] = points
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

    def _fit_exact(self, z: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> float:
        """Closed-form weighted ridge regression of the linear/quadratic surrogate, in dual form.

        With n stored samples and p features (d, or 2d with curvature) it solves an n x n system, so it
        costs O(n^2 p): cheap for the few hundred samples a window holds, whatever d is. Small problems are
        solved in float64 (a near-singular ridge needs it); above ``_FLOAT32_FIT_SIZE`` entries the n x p work
        is float32 (half the memory traffic) and only the n x n system is float64.
        """
        if z.size <= _FLOAT32_FIT_SIZE:
            z = z.astype(np.float64)
        features = np.concatenate([z, 0.5 * z * z], axis=1) if self.model.curv is not None else z
        ftype = features.dtype
        w = weights / weights.sum()
        feature_mean = (w.astype(ftype) @ features).astype(ftype)
        target_mean = float(w @ targets)
        root_w = np.sqrt(w)
        a = features - feature_mean
        a *= root_w.astype(ftype)[:, None]
        r = (targets - target_mean) * root_w
        gram = (a @ a.T).astype(np.float64)
        penalty = self.ridge * float(np.trace(gram)) / len(gram) + 1e-12
        alpha = np.linalg.solve(gram + penalty * np.eye(len(gram)), r)
        coef = alpha.astype(ftype) @ a  # (p,) = a.T @ alpha
        bias = target_mean - float(feature_mean.astype(np.float64) @ coef)
        with torch.no_grad():
            self.model.grad.copy_(torch.from_numpy(coef[: self.dim].astype(np.float32)))
            if self.model.curv is not None:
                self.model.curv.copy_(torch.from_numpy(coef[self.dim:].astype(np.float32)))
            self.model.bias.fill_(bias)
        residual = (features @ coef).astype(np.float64) + bias - targets
        return float(w @ residual**2)

    def _locality_weights(self, z: np.ndarray) -> np.ndarray:
        if self.locality == 0:
            return np.ones(len(z))
        msd = np.einsum("ij,ij->i", z, z).astype(np.float64) / z.shape[1]  # mean squared distance, sigma^2 units
        logw = -0.5 * msd / self.locality**2
        return np.exp(logw - logw.max())

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

    def _finite_difference_gradient(self, eps: np.ndarray, losses, sigma) -> np.ndarray:
        """The antithetic (or baseline-subtracted) Gaussian-smoothing gradient estimate of this batch, from its
        points in units of ``sigma`` around the centre (``eps``)."""
        if self.antithetic:
            h = len(losses) // 2
            return (losses[:h] - losses[h:]).astype(np.float32) @ eps[:h] / (2 * sigma * h)
        return (losses - losses.mean()).astype(np.float32) @ eps / (sigma * len(losses))

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "sigma": self.sigma,
            "model": copy.deepcopy(self.model.state_dict()),
            "model_optim": copy.deepcopy(self.model_optim.state_dict()),
            "points": self._points[: self._stored].copy(),
            "losses": self._losses[: self._stored].copy(),
            "cursor": self._cursor,
            "jitter": None if self._jitter is None else self._jitter.copy(),
            "frame": (self._frame_theta.copy(), self._frame_sigma),
            "target": (self._target_shift, self._target_scale),
            **({"guide": self._guide.state_dict()} if self._guide is not None else {}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sigma = float(state["sigma"])
        self.model.load_state_dict(state["model"])
        self.model_optim.load_state_dict(state["model_optim"])
        stored = len(state["losses"])
        self._points[:] = 0.0
        self._points[:stored] = _numpy(state["points"]).astype(np.float32)
        self._losses[:] = 0.0
        self._losses[:stored] = _numpy(state["losses"])
        self._stored, self._cursor = stored, int(state["cursor"])
        self._jitter = None if state["jitter"] is None else _numpy(state["jitter"]).copy()
        frame_theta, self._frame_sigma = state["frame"]
        self._frame_theta = _numpy(frame_theta).astype(np.float64)
        self._target_shift, self._target_scale = float(state["target"][0]), float(state["target"][1])
        self._centre_gradient = None
        if self._guide is None and "guide" in state:
            raise ValueError("state was saved with guided sampling (guided > 0); load it with the same guided and "
                             f"guided_subspace (this optimizer has guided={self.guided!r})")
        if self._guide is not None:
            # a state saved without guided sampling starts an empty subspace: isotropic until the next fit
            self._guide.load_state_dict(state.get("guide", {"gradients": np.zeros((0, self.dim)), "cursor": 0}))


def _numpy(x) -> np.ndarray:
    """A saved array as numpy (states saved through torch hold tensors)."""
    return x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0
