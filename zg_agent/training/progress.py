"""A run's progress (one :class:`Progress` dataclass: what a checkpoint saves, ``status.json`` reports and
:class:`TrainResult` returns), the budget rule, stated once, and :class:`TrainResult`.

Budget rule (every algorithm): a run is made of whole iterations. PPO's iteration is a rollout of
``n_steps x n_envs`` env steps and starts only when it fits, so PPO never exceeds its budget. A black-box
iteration costs ``popsize x episodes_per_candidate x episode length``, which varies when episodes end early
(a fall); it starts when the cost of the iteration before it still fits in what is left (the first one: its
worst case, every episode running to the time limit). So a black-box run uses its budget up to less than one
iteration, and can exceed it only when its last iteration costs more than the one before (bounded by one
worst-case iteration; never with fixed-length episodes). Waiting for the worst case instead would leave up to
half of a locomotion budget unused. The env steps actually used are in ``evaluations.csv``, ``status.json``
and every report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


#: how a budget is spent, written into every report
BUDGET_RULE = (
    "Budget rule: every run has the same budget of env steps (evaluation episodes are not counted) and is made "
    "of whole iterations. A PPO rollout (n_steps x n_envs) starts only when it fits, so PPO never exceeds its "
    "budget. A black-box iteration (popsize x episodes per candidate x episode length) starts when the cost of "
    "the one before it still fits (the first: its worst case), so with episodes that can end early the last "
    "one can overshoot by less than one iteration; with fixed-length episodes it never does. The env steps "
    "each run actually used are in the tables.")


def usable_budget(budget: int, iteration_cost: int | None) -> int:
    """The env steps a fresh run can use: the whole iterations of ``iteration_cost`` that fit in ``budget`` (an
    upper bound when episodes can end early)."""
    cost = iteration_cost or 1
    return int(budget) // cost * cost


def next_iteration_fits(env_steps: int, budget: int, expected_cost: int) -> bool:
    """Whether an iteration expected to cost ``expected_cost`` env steps may start after ``env_steps``."""
    return env_steps < budget and env_steps + expected_cost <= budget


def budget_note(budget: int, iteration_cost: int | None, iteration_desc: str, variable_cost: bool) -> str | None:
    """A sentence when ``budget`` is not a multiple of one iteration (so part of it stays unused)."""
    if not iteration_cost or budget % iteration_cost == 0:
        return None
    when = " when every episode runs to its time limit" if variable_cost else ""
    return (f"budget {budget} env steps is not a multiple of one iteration ({iteration_cost} env steps: "
            f"{iteration_desc}); a run uses whole iterations only: {usable_budget(budget, iteration_cost)} "
            f"env steps{when}")


def finite_or_none(value: float) -> float | None:
    """``None`` for the ``-inf`` that stands for "no evaluation yet", else the value."""
    return None if value == -math.inf else value


@dataclass
class Progress:
    """Where a run stands; saved in every checkpoint (:meth:`state_dict`) and restored on resume."""

    iteration: int = 0
    env_steps: int = 0
    """training env steps used so far (evaluation episodes are not counted)"""
    next_eval: int = 0
    """env steps at which the next periodic evaluation is due"""
    num_evals: int = 0
    best_eval: float = -math.inf
    last_eval: float | None = None
    eval_env_steps: int = 0
    """env steps of evaluation (and slice plot) episodes"""
    elapsed_before: float = 0.0
    """wall time of the parts of the run before the current process"""
    last_cost: int | None = None
    """env steps of the last black-box iteration (what the next one is expected to cost)"""

    @property
    def best_return(self) -> float | None:
        return finite_or_none(self.best_eval)

    def state_dict(self, elapsed: float) -> dict[str, Any]:
        """The checkpoint's ``progress`` entry (``elapsed``: the run's wall time so far)."""
        return {"iteration": self.iteration, "env_steps": self.env_steps, "next_eval": self.next_eval,
                "num_evals": self.num_evals, "best_eval": self.best_eval, "last_eval": self.last_eval,
                "eval_env_steps": self.eval_env_steps, "elapsed": elapsed, "last_cost": self.last_cost}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        self.iteration = int(s["iteration"])
        self.env_steps = int(s["env_steps"])
        self.next_eval = int(s["next_eval"])
        self.num_evals = int(s["num_evals"])
        self.best_eval = float(s["best_eval"])
        self.last_eval = s["last_eval"]
        self.eval_env_steps = int(s["eval_env_steps"])
        self.elapsed_before = float(s["elapsed"])
        self.last_cost = s.get("last_cost")

    def status_fields(self, elapsed: float) -> dict[str, Any]:
        """What ``status.json`` reports at the end of a process."""
        return {"env_steps": self.env_steps, "iterations": self.iteration, "elapsed_s": round(elapsed, 3),
                "final_return": self.last_eval, "best_return": self.best_return}


@dataclass
class TrainResult:
    """What a trainer returns."""

    run_dir: Path
    status: str
    """finished, interrupted or failed"""
    env_steps: int
    iterations: int
    elapsed_s: float
    final_return: float | None
    """mean return of the last evaluation"""
    best_return: float | None
    """best mean return over the evaluations"""
    evaluations: list[dict[str, float]] = field(default_factory=list)
