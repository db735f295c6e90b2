"""Training: one budget in environment steps, one evaluation protocol, one set of logger tags.

- :class:`BlackBoxTrainer` (:mod:`.blackbox`) drives any registered ask/tell optimizer (``zerograds``, ``es``,
  ``cma``, ``random``) through an :class:`~zg_agent.rollout.EpisodeObjective`.
- :class:`PPOTrainer` (:mod:`.ppo`) wraps stable-baselines3's ``PPO``, whose model logs into the same
  logger (callbacks: :mod:`.sb3_callbacks`; :mod:`.resumable_ppo` checkpoints inside a rollout).

The modules: :mod:`.run_dir` (the run folder, its files and lock), :mod:`.progress` (where a run stands, the
budget rule), :mod:`.base` (the life cycle, the evaluation protocol, interrupts, the checkpoint schedule),
:mod:`.signals` (Ctrl-C / SIGTERM, RNG states), :mod:`.diagnostics` (pictures).
"""

from __future__ import annotations

from ..config import BLACK_BOX_ALGOS, RunConfig, load_run_config
from .base import EVAL_SEED_BASE, Trainer, eval_seeds
from .blackbox import BlackBoxTrainer
from .ppo import PPOTrainer
from .progress import BUDGET_RULE, Progress, TrainResult, budget_note, usable_budget
from .run_dir import (RunFolderError, RunLock, env_tag, has_checkpoint, load_solution, new_run_dir,
                      read_evaluations, read_status, run_dir_name)

TRAINERS: dict[str, type[Trainer]] = {**{a: BlackBoxTrainer for a in BLACK_BOX_ALGOS}, "ppo": PPOTrainer}


def make_trainer(cfg: RunConfig, run_dir=None, **kwargs) -> Trainer:
    """The trainer for ``cfg.algo``; with ``run_dir=None`` a new run folder under ``cfg.run_root`` is created
    when training starts, after :meth:`Trainer.prepare` has checked the setup."""
    cfg.validate()
    return TRAINERS[cfg.algo](cfg, run_dir, **kwargs)


def train(cfg: RunConfig, run_dir=None, **kwargs) -> TrainResult:
    """Train one run (see :class:`Trainer` for the keyword arguments) and return its :class:`TrainResult`."""
    return make_trainer(cfg, run_dir, **kwargs).train()


def resume(run_dir, budget: int | None = None, **kwargs) -> TrainResult:
    """Continue the run in ``run_dir`` from its checkpoint (its own ``config.yaml``; optionally a new budget)."""
    cfg = load_run_config(run_dir)
    if budget is not None:
        cfg.budget = int(budget)
    return TRAINERS[cfg.algo](cfg, run_dir, resume=True, **kwargs).train()


__all__ = ["BUDGET_RULE", "BlackBoxTrainer", "EVAL_SEED_BASE", "PPOTrainer", "Progress", "RunFolderError",
           "RunLock", "TRAINERS", "TrainResult", "Trainer", "budget_note", "env_tag", "eval_seeds", "has_checkpoint",
           "load_solution", "make_trainer", "new_run_dir", "read_evaluations", "read_status", "resume",
           "run_dir_name", "train", "usable_budget"]
