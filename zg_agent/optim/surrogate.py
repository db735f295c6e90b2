"""Surrogate models of a loss around the current parameters, for ZeroGrads.

Every surrogate maps *local* coordinates ``z = (x - theta) / sigma`` to a (transformed) loss value, so its
inputs are O(1) whatever the problem's scale, and its gradient at ``z = 0`` divided by ``sigma`` is the
descent direction for ``theta``. All of them start with a zero gradient everywhere (zero-initialised
output weights), so the first update of ``theta`` follows data, not the random initial network.

Families:
- ``"mlp"``: leaky-ReLU MLP (optionally on a NeRF-style positional encoding of ``z``) plus a linear skip
  term ``w . z``. The skip term carries the first-order trend and is learned fast; the MLP adds curvature
  and plateaus. Fischer & Ritschel use the plain MLP; the skip and zero init are our measured changes
  (benchmarks/optimizers.md). Not the default: see ``ZeroGrads(surrogate=...)``.
- ``"quadratic"``: ``b + g . z + 1/2 sum_j c_j z_j^2`` (diagonal curvature), the polynomial alternative
  the paper mentions.
- ``"linear"``: ``b + g . z``.

Memory: the MLP's first layer has ``d_in * width`` weights (``d_in = d * (1 + 2 * encoding_bands)``);
training keeps weights, gradients and two Adam moments in float32, so about ``16 * d_in * width`` bytes,
plus ``4 * d_in`` bytes per stored sample. Examples for width 64, no encoding: d = 1,000 -> 1 MB;
d = 35,000 -> 36 MB; d = 200,000 -> 205 MB (plus 0.8 MB per stored sample).
"""

from __future__ import annotations

import math

import torch
from torch import nn

SURROGATES = ("mlp", "quadratic", "linear")


class PositionalEncoding(nn.Module):
    """``[z, sin(2^k pi z), cos(2^k pi z)]`` for k < bands (Mildenhall et al., NeRF, 2020)."""

    def __init__(self, bands: int):
        super().__init__()
        self.register_buffer("freqs", (2.0 ** torch.arange(bands)) * math.pi, persistent=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.freqs.numel() == 0:
            return z
        angles = z.unsqueeze(-1) * self.freqs  # (n, d, bands)
        return torch.cat([z, torch.sin(angles).flatten(1), torch.cos(angles).flatten(1)], dim=1)


class MLPSurrogate(nn.Module):
    """Leaky-ReLU MLP with an optional linear skip term; output weights start at zero."""

    def __init__(self, dim: int, layers: int, width: int, encoding_bands: int = 0,
                 leaky_slope: float = 0.01, linear_skip: bool = True, generator: torch.Generator | None = None):
        super().__init__()
        self.encoding = PositionalEncoding(encoding_bands)
        d_in = dim * (1 + 2 * encoding_bands)
        blocks: list[nn.Module] = []
        for i in range(layers - 1):
            blocks += [nn.Linear(d_in if i == 0 else width, width), nn.LeakyReLU(leaky_slope)]
        self.hidden = nn.Sequential(*blocks)
        self.out = nn.Linear(width if layers > 1 else d_in, 1)
        self.skip = nn.Linear(dim, 1, bias=False) if linear_skip else None
        with torch.no_grad():
            for m in self.hidden:
                if isinstance(m, nn.Linear):
                    # Kaiming-uniform for leaky ReLU, drawn from our own generator for reproducibility.
                    bound = math.sqrt(6.0 / ((1 + leaky_slope**2) * m.in_features))
                    m.weight.uniform_(-bound, bound, generator=generator)
                    m.bias.zero_()
            self.out.weight.zero_()
            self.out.bias.zero_()
            if self.skip is not None:
                self.skip.weight.zero_()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.out(self.hidden(self.encoding(z))).squeeze(-1)
        if self.skip is not None:
            y = y + self.skip(z).squeeze(-1)
        return y


class QuadraticSurrogate(nn.Module):
    """``b + g . z + 1/2 sum_j c_j z_j^2``; ``curvature=False`` gives the linear model."""

    def __init__(self, dim: int, curvature: bool = True):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(()))
        self.grad = nn.Parameter(torch.zeros(dim))
        self.curv = nn.Parameter(torch.zeros(dim)) if curvature else None

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.bias + z @ self.grad
        if self.curv is not None:
            y = y + 0.5 * (z * z) @ self.curv
        return y


def make_surrogate(kind: str, dim: int, *, layers: int, width: int, encoding_bands: int,
                   leaky_slope: float, linear_skip: bool, generator: torch.Generator) -> nn.Module:
    if kind == "mlp":
        return MLPSurrogate(dim, layers, width, encoding_bands, leaky_slope, linear_skip, generator)
    if kind == "quadratic":
        return QuadraticSurrogate(dim, curvature=True)
    if kind == "linear":
        return QuadraticSurrogate(dim, curvature=False)
    raise ValueError(f"surrogate must be one of {list(SURROGATES)}, got {kind!r}")
