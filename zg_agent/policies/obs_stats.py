"""Observation statistics of the linear and MLP policies' normalisation, merged exactly and in a fixed order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ObsStats:
    """Mean and spread of a set of observation vectors: ``count``, ``mean`` and ``m2`` (sum of squared
    deviations from the mean), all in float64. Merged exactly with Chan et al.'s parallel formula, so
    the result depends only on the order of merging, which the caller fixes."""

    count: int
    mean: np.ndarray
    m2: np.ndarray

    @classmethod
    def empty(cls, dim: int) -> "ObsStats":
        return cls(0, np.zeros(dim), np.zeros(dim))

    @classmethod
    def from_batch(cls, x: np.ndarray) -> "ObsStats":
        """Statistics of the rows of ``x`` (shape ``(n, dim)``)."""
        x = np.asarray(x, dtype=np.float64)
        n = x.shape[0]
        if n == 0:
            return cls.empty(x.shape[1])
        mean = x.mean(axis=0)
        return cls(int(n), mean, ((x - mean) ** 2).sum(axis=0))

    def merge(self, other: "ObsStats") -> "ObsStats":
        """Statistics of the union of both sets (returns a new object)."""
        if other.count == 0:
            return ObsStats(self.count, self.mean.copy(), self.m2.copy())
        if self.count == 0:
            return ObsStats(other.count, other.mean.copy(), other.m2.copy())
        n = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / n)
        m2 = self.m2 + other.m2 + delta**2 * (self.count * other.count / n)
        return ObsStats(n, mean, m2)

    @staticmethod
    def merge_all(items, dim: int) -> "ObsStats":
        """Merge a sequence of statistics left to right (``None`` entries are skipped)."""
        out = ObsStats.empty(dim)
        for s in items:
            if s is not None:
                out = out.merge(s)
        return out

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation (ones before any data; tiny spreads count as 1)."""
        if self.count < 2:
            return np.ones_like(self.mean)
        std = np.sqrt(self.m2 / self.count)
        return np.where(std < 1e-8, 1.0, std)
