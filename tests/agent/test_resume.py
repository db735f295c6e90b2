"""Stop and resume on tiny budgets: interrupted and hard-killed runs continue the uninterrupted curve (black
box exactly), checkpoints on the time schedule, PPO inside a rollout and at its boundaries."""

import csv
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from tiny_runs import ROOT, column, scalars, tiny_config
from zg_agent.config import BLACK_BOX_ALGOS, load_config, load_run_config
from zg_agent.trainers import read_evaluations, read_status, resume, train


# ---------------------------------------------------------------------------------------------- resume
@pytest.mark.parametrize("algo", BLACK_BOX_ALGOS)
def test_resume_after_interruption_reproduces_the_curve(algo, tmp_path):
    full = train(tiny_config(algo, tmp_path / "a", budget=1600, eval_every=160))

    def interrupt(trainer):
        if trainer.iteration == 4:
            raise KeyboardInterrupt

    cut = train(tiny_config(algo, tmp_path / "b", budget=1600, eval_every=160), callback=interrupt)
    assert cut.status == "interrupted" and cut.env_steps == 4 * 160
    assert read_status(cut.run_dir)["state"] == "interrupted"
    assert read_status(cut.run_dir)["checkpoint_env_steps"] == 4 * 160
    done = resume(cut.run_dir)
    assert done.status == "finished" and done.env_steps == full.env_steps
    a, b = read_evaluations(full.run_dir), read_evaluations(done.run_dir)
    assert [r["env_steps"] for r in a] == [r["env_steps"] for r in b]
    assert [r["mean_reward"] for r in a] == [r["mean_reward"] for r in b]
    key = "rollout/ep_rew_mean"
    assert column(full.run_dir / "progress.csv", key) == column(done.run_dir / "progress.csv", key)
    ea = [(e.step, e.value) for e in scalars(full.run_dir).Scalars("eval/mean_reward")]
    eb = [(e.step, e.value) for e in scalars(done.run_dir).Scalars("eval/mean_reward")]
    assert ea == eb
    with open(full.run_dir / "solution.pkl", "rb") as f, open(done.run_dir / "solution.pkl", "rb") as g:
        np.testing.assert_array_equal(pickle.load(f)["theta"], pickle.load(g)["theta"])
    # evaluations.csv was rewritten on resume: its integer columns stay integers
    with open(done.run_dir / "evaluations.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["env_steps"] for r in rows] == [str(160 * k) for k in range(11)]
    assert all(r["iteration"].isdigit() for r in rows)


def test_resume_on_a_contact_rich_env_reproduces_the_curve(tmp_path):
    # hopper: episodes end on falls at different lengths, and a reset must leave no trace of the episode
    # before it, or the resumed run (fresh envs) leaves the uninterrupted one (envs with a history)
    fields = dict(env_id="zg/CharacterLocomotion-v0", max_episode_steps=60, budget=2400, eval_every=480,
                  render="off")
    full = train(tiny_config("zerograds", tmp_path / "a", **fields))

    def interrupt(trainer):
        if trainer.iteration == 3:
            raise KeyboardInterrupt

    cut = train(tiny_config("zerograds", tmp_path / "b", **fields), callback=interrupt)
    assert cut.status == "interrupted" and 0 < cut.env_steps < full.env_steps
    done = resume(cut.run_dir)
    assert done.status == "finished" and done.env_steps == full.env_steps
    a, b = read_evaluations(full.run_dir), read_evaluations(done.run_dir)
    assert [(r["env_steps"], r["mean_reward"]) for r in a] == [(r["env_steps"], r["mean_reward"]) for r in b]
    assert len({r["mean_reward"] for r in a}) > 1  # the policy changed: the comparison is not trivial


def test_resume_keeps_the_evaluation_kwargs_of_the_run(tmp_path):
    fields = dict(env_id="TestToyPoint-v0", budget=400, eval_every=80, render="off",
                  **{"eval_env_kwargs.bonus": 1.0})
    full = train(tiny_config("cma", tmp_path / "a", **fields))

    def interrupt(trainer):
        if trainer.iteration == 2:
            raise KeyboardInterrupt

    cut = train(tiny_config("cma", tmp_path / "b", **fields), callback=interrupt)
    assert cut.status == "interrupted" and 0 < cut.env_steps < full.env_steps
    assert load_run_config(cut.run_dir).eval_env_kwargs == {"bonus": 1.0}
    done = resume(cut.run_dir)
    assert done.status == "finished" and done.env_steps == full.env_steps
    a, b = read_evaluations(full.run_dir), read_evaluations(done.run_dir)
    assert [(r["env_steps"], r["mean_reward"]) for r in a] == [(r["env_steps"], r["mean_reward"]) for r in b]
    # the evaluations have the bonus (+1 in each of 5 steps: positive here), the training episodes have not
    assert all(r["mean_reward"] > 0 for r in b)
    assert all(v <= 0 for _, v in column(done.run_dir / "progress.csv", "rollout/ep_rew_mean"))


def test_time_based_checkpoints_serialise_only_when_written(tmp_path):
    """Without checkpoint_every the state is serialised at step 0, on a stop request and at the end (and
    every checkpoint_seconds of wall time), not after every iteration; a stop still loses nothing."""
    from zg_agent.trainers import make_trainer

    cfg = tiny_config("es", tmp_path, budget=1600, eval_every=160)
    full = train(tiny_config("es", tmp_path / "full", budget=1600, eval_every=160))

    def instrumented(cfg, run_dir, seconds, **kwargs):
        trainer = make_trainer(cfg, run_dir, **kwargs).prepare()
        trainer.checkpoint_every, trainer.checkpoint_seconds = None, seconds
        writes, state_dicts = [], []
        write, state_dict = trainer._write_checkpoint, trainer.opt.state_dict
        trainer._write_checkpoint = lambda: (writes.append(trainer.iteration), write())
        trainer.opt.state_dict = lambda: (state_dicts.append(trainer.iteration), state_dict())[1]
        return trainer, writes, state_dicts

    def stop_at_4(trainer):
        if trainer.iteration == 4:
            trainer.request_stop()

    trainer, writes, state_dicts = instrumented(cfg, tmp_path / "cut", 3600.0, callback=stop_at_4)
    cut = trainer.train()
    assert cut.status == "interrupted" and cut.env_steps == 4 * 160
    assert writes == [0, 4] and state_dicts == [0, 4]
    trainer, writes, state_dicts = instrumented(cfg, tmp_path / "cut", 3600.0, resume=True)
    done = trainer.train()
    assert done.status == "finished" and writes == [10] and state_dicts == [10]
    assert [(r["env_steps"], r["mean_reward"]) for r in read_evaluations(done.run_dir)] == \
        [(r["env_steps"], r["mean_reward"]) for r in read_evaluations(full.run_dir)]
    # checkpoint_seconds=0: a checkpoint at every iteration boundary
    trainer, writes, _ = instrumented(cfg, tmp_path / "every", 0.0)
    trainer.train()
    assert writes == list(range(11))


KILL_SCRIPT = """
import os, sys
from zg_agent.config import load_config
from zg_agent.trainers import train
cfg = load_config("es", "Pendulum-v1", overrides={overrides!r})
def kill(trainer):
    if trainer.iteration == 5:
        os._exit(9)   # like SIGKILL: no cleanup, logs of iteration 5 written, checkpoint only at 4
train(cfg, run_dir=sys.argv[1], callback=kill)
"""


def test_resume_after_a_hard_kill_drops_what_came_after_the_checkpoint(tmp_path):
    over = {"run_root": str(tmp_path), "max_episode_steps": 40, "eval_every": 160, "eval_episodes": 2,
            "budget": 1600, "options.popsize": 4, "policy": "linear", "checkpoint_every": 2}
    full = train(load_config("es", "Pendulum-v1", overrides=over), run_dir=tmp_path / "full")
    run = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT.format(overrides=over), str(run)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    assert read_evaluations(run)[-1]["env_steps"] == 5 * 160  # logged after the last checkpoint (4)
    assert read_status(run)["state"] == "running"  # a kill leaves no chance to say otherwise
    done = resume(run)
    assert done.status == "finished"
    assert read_evaluations(run) == [{**r, "elapsed_s": s["elapsed_s"]} for r, s in
                                     zip(read_evaluations(full.run_dir), read_evaluations(run))]
    key = "rollout/ep_rew_mean"
    assert column(full.run_dir / "progress.csv", key) == column(run / "progress.csv", key)


@pytest.mark.parametrize("how", ["request_stop", "KeyboardInterrupt"])
def test_ppo_resume_continues_to_the_budget(how, tmp_path):
    def interrupt(trainer):
        if trainer.iteration == 2:
            if how == "request_stop":  # what the first Ctrl-C does: finish the rollout, train, save
                trainer.request_stop()
            else:  # a second Ctrl-C: stop at once (the rollout just collected is not trained on)
                raise KeyboardInterrupt

    cfg = tiny_config("ppo", tmp_path, budget=1280, eval_every=320, **{"options.normalize": True})
    cut = train(cfg, callback=interrupt)
    # a stop request trains on the rollout just collected and saves at the next boundary (640); a second
    # Ctrl-C keeps the last boundary (320): the rollout collected but not trained on is dropped
    assert cut.status == "interrupted" and cut.env_steps == (640 if how == "request_stop" else 320)
    assert read_status(cut.run_dir)["checkpoint_env_steps"] == cut.env_steps
    assert (cut.run_dir / "checkpoints" / "vecnormalize.pkl").is_file()
    done = resume(cut.run_dir)
    assert done.status == "finished" and done.env_steps == 1280
    steps = [r["env_steps"] for r in read_evaluations(cut.run_dir)]
    assert steps == sorted(set(steps)) and steps[0] == 0 and steps[-1] == 1280
    # The resumed run writes a second event file; when both are made in the same second by one process the
    # reader may load them in either order, so compare the set of steps: one point per rollout, none twice.
    tb_steps = [e.step for e in scalars(cut.run_dir).Scalars("time/total_timesteps")]
    assert sorted(tb_steps) == sorted(set(tb_steps)) and max(tb_steps) == 1280


def test_ppo_crash_in_the_middle_of_an_update_saves_the_last_rollout_boundary(tmp_path, monkeypatch):
    import torch
    from stable_baselines3 import PPO

    original, calls, after_first = PPO.train, [], {}

    def train_then_break(self):
        calls.append(1)
        if len(calls) == 2:  # the second update breaks half way: parameters already moved
            with torch.no_grad():
                for p in self.policy.parameters():
                    p.add_(1.0)
            raise KeyboardInterrupt
        original(self)
        after_first.update({k: v.detach().clone() for k, v in self.policy.state_dict().items()})

    monkeypatch.setattr(PPO, "train", train_then_break)
    # checkpoints only every 100 rollouts: the boundary state is not on disk yet and comes from memory
    cut = train(tiny_config("ppo", tmp_path, budget=1280, eval_every=320, checkpoint_every=100))
    assert cut.status == "interrupted" and cut.env_steps == 320
    saved = PPO.load(str(cut.run_dir / "checkpoints" / "ppo_model.zip"), device="cpu")
    assert saved.num_timesteps == 320
    for key, value in saved.policy.state_dict().items():
        torch.testing.assert_close(value, after_first[key])
    monkeypatch.setattr(PPO, "train", original)
    done = resume(cut.run_dir)
    assert done.status == "finished" and done.env_steps == 1280


PPO_KILL_SCRIPT = """
import os, sys
from zg_agent.config import load_config
from zg_agent.trainers import PPOTrainer, train
cfg = load_config("ppo", "Pendulum-v1", overrides={overrides!r})
plain = PPOTrainer._write_checkpoint
def write_then_die(self, rollout=None):
    plain(self, rollout)
    if rollout is not None and self.env_steps >= 400:
        os._exit(9)   # like SIGKILL, right after a checkpoint in the middle of a rollout
PPOTrainer._write_checkpoint = write_then_die
train(cfg, run_dir=sys.argv[1])
"""


def test_ppo_checkpoints_inside_a_rollout_and_resumes_from_there_after_a_hard_kill(tmp_path):
    # rollouts of 160 x 2 = 320 env steps; a checkpoint whenever 1 ms has passed, so also in the middle of a
    # rollout however fast this machine steps Pendulum (at 0.05 s a fast machine finished the rollout in between)
    over = {"run_root": str(tmp_path), "max_episode_steps": 40, "eval_every": 320, "eval_episodes": 1,
            "budget": 960, "options.n_steps": 160, "options.batch_size": 80, "options.n_epochs": 1,
            "options.n_envs": 2, "options.use_sde": False, "checkpoint_seconds": 0.001}
    run = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", PPO_KILL_SCRIPT.format(overrides=over), str(run)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 9, proc.stderr
    with open(run / "checkpoints" / "checkpoint.pkl", "rb") as f:
        ckpt = pickle.load(f)
    at = ckpt["progress"]["env_steps"]
    assert 400 <= at < 640 and at % 320 != 0  # inside the second rollout, not at its boundary
    assert ckpt["rollout"]["pos"] * 2 == at - 320 and ckpt["rollout"]["rewards"].shape == (ckpt["rollout"]["pos"], 2)
    done = resume(run)
    assert done.status == "finished" and done.env_steps == 960
    evals = [r["env_steps"] for r in read_evaluations(run)]
    assert evals == [0, 320, 640, 960]
    assert (run / "final_model.zip").is_file()


def test_ppo_stop_request_inside_a_rollout_saves_there_and_resumes(tmp_path, monkeypatch):
    from zg_agent.trainers import PPOTrainer

    plain = PPOTrainer._evaluate

    def evaluate_then_stop(self, final):  # a Ctrl-C / SIGTERM arriving in the middle of the second rollout
        plain(self, final)
        if self.env_steps == 480:
            self.request_stop()

    monkeypatch.setattr(PPOTrainer, "_evaluate", evaluate_then_stop)
    cfg = tiny_config("ppo", tmp_path, budget=960, eval_every=160)  # rollouts of 160 x 2 = 320 env steps
    cut = train(cfg)
    assert cut.status == "interrupted" and cut.env_steps == 480  # not held back to the boundary at 320
    assert read_status(cut.run_dir)["checkpoint_env_steps"] == 480
    monkeypatch.setattr(PPOTrainer, "_evaluate", plain)
    done = resume(cut.run_dir)
    assert done.status == "finished" and done.env_steps == 960
    assert [r["env_steps"] for r in read_evaluations(cut.run_dir)] == [0, 160, 320, 480, 640, 800, 960]
def _ppo_cut_inside_a_rollout(tmp_path, monkeypatch):
    """A PPO run stopped at env step 480, 160 steps into its second rollout (rollouts of 320)."""
    from zg_agent.trainers import PPOTrainer

    plain = PPOTrainer._evaluate

    def evaluate_then_stop(self, final):
        plain(self, final)
        if self.env_steps == 480:
            self.request_stop()

    monkeypatch.setattr(PPOTrainer, "_evaluate", evaluate_then_stop)
    cut = train(tiny_config("ppo", tmp_path, budget=960, eval_every=160))
    monkeypatch.setattr(PPOTrainer, "_evaluate", plain)
    assert cut.env_steps == 480
    return cut


def test_ppo_stop_before_a_resumed_rollout_continues_keeps_that_rollout(tmp_path, monkeypatch):
    from zg_agent.trainers import PPOTrainer

    cut = _ppo_cut_inside_a_rollout(tmp_path, monkeypatch)
    plain = PPOTrainer._open

    def open_then_stop(self):  # a SIGTERM after the checkpoint is loaded, before learn() takes a step
        plain(self)
        self.request_stop()

    monkeypatch.setattr(PPOTrainer, "_open", open_then_stop)
    early = resume(cut.run_dir)
    monkeypatch.setattr(PPOTrainer, "_open", plain)
    assert early.status == "interrupted" and early.env_steps == 480
    with open(cut.run_dir / "checkpoints" / "checkpoint.pkl", "rb") as f:
        ckpt = pickle.load(f)
    assert ckpt["progress"]["env_steps"] == 480 and ckpt["rollout"]["pos"] * 2 == 160  # the rollout is kept
    done = resume(cut.run_dir)
    assert done.status == "finished" and done.env_steps == 960
    assert [r["env_steps"] for r in read_evaluations(cut.run_dir)] == [0, 160, 320, 480, 640, 800, 960]


def test_ppo_budget_that_cannot_finish_a_begun_rollout_is_refused(tmp_path, monkeypatch):
    from zg_agent.trainers import RunFolderError

    cut = _ppo_cut_inside_a_rollout(tmp_path, monkeypatch)
    before = {p.name: p.read_bytes() for p in sorted(cut.run_dir.rglob("*")) if p.is_file()}
    with pytest.raises(RunFolderError, match=r"160 env steps into a rollout that began at env step 320.*"
                                             r"a budget of at least 640"):
        resume(cut.run_dir, budget=480)
    assert {p.name: p.read_bytes() for p in sorted(cut.run_dir.rglob("*")) if p.is_file()} == before
    done = resume(cut.run_dir, budget=640)
    assert done.status == "finished" and done.env_steps == 640
    assert [r["env_steps"] for r in read_evaluations(cut.run_dir)] == [0, 160, 320, 480, 640]
