"""A run folder as read for a comparison: :class:`RunSummary`, :func:`load_run`, :func:`find_runs`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..session import run_budget
from ..training import read_evaluations, read_status
from ..training.run_dir import read_config_dict


# ---------------------------------------------------------------------------------------------- results
@dataclass
class RunSummary:
    """One run's evaluation curve and its numbers."""

    algo: str
    seed: int
    run_dir: Path
    status: str
    steps: np.ndarray
    elapsed: np.ndarray
    returns: np.ndarray
    budget: int | None = None
    """the budget the run was (last) trained with"""
    lengths: np.ndarray | None = None
    """mean episode length of each evaluation"""

    @property
    def final(self) -> float:
        return float(self.returns[-1]) if self.returns.size else math.nan

    @property
    def best(self) -> float:
        return float(self.returns.max()) if self.returns.size else math.nan

    @property
    def initial(self) -> float:
        return float(self.returns[0]) if self.returns.size and self.steps[0] == 0 else math.nan

    def first_reaching(self, threshold: float) -> tuple[float, float]:
        """(env steps, wall time) of the first evaluation with return >= threshold, or NaNs."""
        hit = np.flatnonzero(self.returns >= threshold)
        if hit.size == 0:
            return math.nan, math.nan
        return float(self.steps[hit[0]]), float(self.elapsed[hit[0]])


def load_run(run_dir, algo: str | None = None, seed: int | None = None) -> RunSummary:
    """Read a run folder's ``evaluations.csv`` and ``status.json``."""
    run_dir = Path(run_dir)
    rows = read_evaluations(run_dir)
    status = read_status(run_dir)
    if algo is None or seed is None:
        cfg = read_config_dict(run_dir)
        algo = algo or cfg.get("algo", run_dir.name)
        seed = seed if seed is not None else int(cfg.get("seed", 0))
    col = lambda k: np.array([r[k] for r in rows], dtype=np.float64)  # noqa: E731
    return RunSummary(algo, int(seed), run_dir, status.get("state", "missing"), col("env_steps"),
                      col("elapsed_s"), col("mean_reward"), run_budget(run_dir), col("mean_length"))


def find_runs(out_dir, env_id: str | None = None, states=None) -> list[RunSummary]:
    """Every run folder directly under ``out_dir`` (of ``env_id`` when given; in ``states`` when given)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    runs = []
    for d in sorted(out_dir.iterdir()):
        if not (d / "config.yaml").is_file() or not (d / "evaluations.csv").is_file():
            continue
        if env_id is not None and read_config_dict(d).get("env_id") != env_id:
            continue
        if states is not None and read_status(d).get("state") not in states:
            continue
        runs.append(load_run(d))
    return runs
