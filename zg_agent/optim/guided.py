"""Surrogate-guided sampling: part of the perturbation variance along the last surrogate gradients.

Guided ES (Maheswaranathan et al., "Guided evolutionary strategies", ICML 2019) draws ES perturbations from
``N(0, sigma^2 Sigma)`` with ``Sigma = alpha / d I + (1 - alpha) / k U U^T``, where ``U`` (d x k) is an
orthonormal basis of a subspace believed to hold the gradient (there: surrogate gradients; ASEBO does the
same with the span of past ES gradients). Here the subspace is spanned by the last ``k`` gradients of the
ZeroGrads surrogate, and the covariance is scaled so that its trace is ``sigma^2 d``, that of the isotropic
``sigma^2 I`` it replaces (the same expected squared distance, so the locality weights see guided and isotropic
samples alike)::

    Sigma = sigma^2 d (alpha / d I + (1 - alpha) / r U U^T) = sigma^2 ((1 - g) I + g d / r U U^T)

with ``g = 1 - alpha`` the guided fraction of the variance and ``r <= k`` the rank of the stored gradients
(fewer until ``k`` nonzero gradients were seen; isotropic before the first). One perturbation is::

    eps = sigma (sqrt(1 - g) n + sqrt(g d / r) U m),   n ~ N(0, I_d), m ~ N(0, I_r)

whose covariance is the one above: the two parts are independent, ``n`` contributes ``(1 - g) I`` and
``U m`` contributes ``U U^T``. Antithetic pairs ``(eps, -eps)`` keep their sign symmetry.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .sampling import gaussian_rows

# Singular values of the stored gradients below this fraction of the largest are dropped from the basis.
_RANK_TOLERANCE = 1e-6


class GuidedSubspace:
    """The last ``k`` surrogate gradients and the guided perturbations they span.

    ``guided`` is the fraction ``g`` of the perturbation variance put into the subspace, in [0, 1): at 1 no
    sample would ever leave it, and a surrogate fitted to such samples could not turn its gradient out of it.
    """

    def __init__(self, dim: int, *, guided: float, k: int):
        self.dim = int(dim)
        self.guided = float(guided)
        self.k = int(k)
        self._gradients = np.zeros((self.k, self.dim))
        self._stored = 0  # rows filled
        self._cursor = 0  # next row to write
        self._basis: np.ndarray | None = None  # (r, d) orthonormal rows, cached until the next gradient

    @property
    def rank(self) -> int:
        """Dimension ``r`` of the subspace that the next perturbations are guided into (0: isotropic)."""
        return len(self.basis())

    def add(self, gradient: np.ndarray) -> None:
        """Remember a surrogate gradient (zero or non-finite gradients carry no direction and are skipped)."""
        g = np.asarray(gradient, dtype=np.float64)
        norm = float(np.linalg.norm(g))
        if not np.isfinite(norm) or norm == 0.0:
            return
        self._gradients[self._cursor] = g / norm
        self._cursor = (self._cursor + 1) % self.k
        self._stored = min(self._stored + 1, self.k)
        self._basis = None

    def basis(self) -> np.ndarray:
        """``(r, d)`` orthonormal rows spanning the stored gradients (SVD, so dependent ones count once)."""
        if self._basis is None:
            if self._stored == 0:
                self._basis = np.zeros((0, self.dim))
            else:
                _, s, vt = np.linalg.svd(self._gradients[: self._stored], full_matrices=False)
                self._basis = vt[s > _RANK_TOLERANCE * s[0]]
        return self._basis

    def covariance(self) -> np.ndarray:
        """The ``(d, d)`` covariance of the next perturbations in units of ``sigma^2`` (for tests and checks)."""
        basis = self.basis()
        if len(basis) == 0:
            return np.eye(self.dim)
        g, r = self.guided, len(basis)
        return (1.0 - g) * np.eye(self.dim) + (g * self.dim / r) * basis.T @ basis

    def perturbations(self, noise: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Guided ``(n, d)`` perturbations in units of ``sigma`` from isotropic float32 ``noise`` (n, d).

        Draws the subspace coefficients from ``rng`` (one :func:`gaussian_rows` call, also while the subspace is
        still empty, so the stream of draws does not depend on when the first gradient arrived).
        """
        coeffs = gaussian_rows(rng, len(noise), self.k).astype(np.float64)
        basis = self.basis()
        if len(basis) == 0:
            return noise.astype(np.float64)
        g, r = self.guided, len(basis)
        return np.sqrt(1.0 - g) * noise + np.sqrt(g * self.dim / r) * (coeffs[:, :r] @ basis)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"gradients": self._gradients[: self._stored].copy(), "cursor": self._cursor, "k": self.k}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        gradients = np.asarray(state["gradients"].numpy() if hasattr(state["gradients"], "numpy")
                               else state["gradients"], dtype=np.float64)
        if "k" in state and int(state["k"]) != self.k:  # the ring's order holds only for the same length
            raise ValueError(f"the saved guided subspace was kept with guided_subspace={int(state['k'])}; load it "
                             f"with that value (this optimizer has guided_subspace={self.k})")
        if gradients.ndim != 2 or gradients.shape[1] != self.dim or len(gradients) > self.k:
            raise ValueError(f"the saved guided subspace holds gradients of shape {gradients.shape}; this optimizer "
                             f"keeps at most guided_subspace={self.k} gradients of dimension {self.dim}")
        self._gradients[:] = 0.0
        self._gradients[: len(gradients)] = gradients
        self._stored, self._cursor = len(gradients), int(state["cursor"])
        self._basis = None
