"""What connects stable-baselines3's ``learn`` loop to :class:`~zg_agent.training.ppo.PPOTrainer` (imported only
for PPO runs): callbacks with one job each. (SB3's records need no bridge: the model logs into the run's logger.)

SB3 calls every callback of a list on each event, in order, whatever the ones before returned; so the list is
:class:`StepsCallback` (the one place that copies SB3's step count into the trainer) first, then
:class:`StopCallback` (which ends ``learn``), and the others do nothing once it has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stable_baselines3.common.callbacks import BaseCallback, CallbackList


if TYPE_CHECKING:
    from .ppo import PPOTrainer


class _TrainerCallback(BaseCallback):
    def __init__(self, trainer: PPOTrainer):
        super().__init__(verbose=0)
        self.trainer = trainer

    def _on_step(self) -> bool:
        return True


class StepsCallback(_TrainerCallback):
    """Keeps the trainer's ``env_steps`` equal to SB3's ``num_timesteps`` at every event the others see."""

    def _sync(self) -> None:
        self.trainer.env_steps = int(self.num_timesteps)

    def _on_step(self) -> bool:
        self._sync()
        return True

    def _on_rollout_start(self) -> None:
        self._sync()

    def _on_rollout_end(self) -> None:
        self._sync()


class StopCallback(_TrainerCallback):
    """A stop request (Ctrl-C, SIGTERM, :meth:`~zg_agent.training.base.Trainer.request_stop`) saves and ends
    ``learn``: inside a rollout at the next env step, or at the next rollout boundary (after an update)."""

    def _on_step(self) -> bool:
        # called after each env step, before SB3 stores it: a checkpoint here holds the rollout so far
        tr = self.trainer
        if tr.stopping:
            return False
        if tr.stop_requested:
            tr.write_partial_checkpoint()
            tr.stop_here(tr.checkpoint_step)
            return False
        return True

    def _on_rollout_start(self) -> None:
        # a stop request made during the update saves here and ends learn() at the next step
        tr = self.trainer
        if tr.stop_requested:
            if not tr.checkpoint_is_current:
                tr.write_checkpoint()
            tr.stop_here(tr.env_steps)


class CheckpointCallback(_TrainerCallback):
    """Periodic checkpoints (inside a rollout on the wall-time schedule, else at rollout boundaries), and the
    state of every rollout boundary kept in memory for a crash."""

    def _on_step(self) -> bool:
        tr = self.trainer
        if not tr.stopping and tr.partial_checkpoint_due():  # before the evaluation, whose row it must not hold
            tr.write_partial_checkpoint()
        return True

    def _on_rollout_start(self) -> None:
        # here the model has trained on every rollout collected so far: a consistent state
        tr = self.trainer
        tr.keep_boundary()
        if not tr.stop_requested and not tr.checkpoint_is_current and tr.checkpoint_due():
            tr.write_checkpoint()


class EvalCallback(_TrainerCallback):
    """The evaluation protocol every ``eval_every`` env steps."""

    def _on_step(self) -> bool:
        tr = self.trainer
        if not tr.stopping:
            tr.evaluate_if_due()
        return True


class ProgressCallback(_TrainerCallback):
    """Counts the iterations, reports progress and calls the user's callback after each rollout."""

    def _on_rollout_end(self) -> None:
        self.trainer.end_rollout()


def callbacks(trainer: PPOTrainer) -> CallbackList:
    """The callbacks of one ``learn`` call, in the order they must run."""
    return CallbackList([StepsCallback(trainer), StopCallback(trainer), CheckpointCallback(trainer),
                         EvalCallback(trainer), ProgressCallback(trainer)])
