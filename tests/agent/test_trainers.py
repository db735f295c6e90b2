"""Trainers end to end on tiny budgets: every algorithm, shared TensorBoard tags, resume, bad input."""

import csv
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import toy_envs  # noqa: F401 - registers the TestToy*-v0 ids
from zg_agent.config import ALGOS, BLACK_BOX_ALGOS, load_config
from zg_agent.trainers import (eval_seeds, has_checkpoint, load_solution, read_evaluations, read_status, resume,
                               train)

ROOT = Path(__file__).resolve().parents[2]
SHARED_TAGS = ("rollout/ep_rew_mean", "eval/mean_reward", "time/fps", "time/elapsed_s")


# ---------------------------------------------------------------------------------------------- helpers
def tiny_config(algo, root, env_id="Pendulum-v1", **fields):
    """Pendulum with 40-step episodes, small populations / rollouts, a budget of a few iterations."""
    over = {"run_root": str(root), "max_episode_steps": 40, "eval_every": 320, "eval_episodes": 2,
            "slice_every": 2, "slice_points": 3, "budget": 960}
    if algo == "ppo":
        over.update({"options.n_steps": 160, "options.batch_size": 80, "options.n_epochs": 2,
                     "options.n_envs": 2, "options.use_sde": False, "budget": 960})
    else:
        over.update({"options.popsize": 4, "policy": "linear"})
    over.update(fields)
    return load_config(algo, env_id, overrides=over)


def scalars(run_dir):
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def column(path, key):
    with open(path, newline="") as f:
        return [(int(r["step"]), float(r[key])) for r in csv.DictReader(f) if r.get(key)]


# ---------------------------------------------------------------------------------------------- end to end
@pytest.mark.parametrize("algo", ALGOS)
def test_every_algorithm_trains_end_to_end_with_shared_tags(algo, tmp_path):
    cfg = tiny_config(algo, tmp_path)
    seen = []
    result = train(cfg, progress=lambda steps, info: seen.append((steps, info["best_return"])))
    run = result.run_dir
    assert result.status == "finished" and read_status(run)["state"] == "finished"
    assert 0 < result.env_steps <= cfg.budget
    assert run.parent == tmp_path and run.name.startswith(f"Pendulum-v1__{algo}__s0__")
    for name in ("config.yaml", "command.txt", "progress.csv", "evaluations.csv"):
        assert (run / name).is_file(), name
    assert has_checkpoint(run)
    assert (run / ("final_model.zip" if algo == "ppo" else "solution.pkl")).is_file()
    evals = read_evaluations(run)
    assert evals[0]["env_steps"] == 0 and evals[-1]["env_steps"] == result.env_steps
    assert len(evals) >= 3 and all(np.isfinite(r["mean_reward"]) for r in evals)
    assert result.final_return == pytest.approx(evals[-1]["mean_reward"])
    assert seen and seen[-1][0] == result.env_steps
    acc = scalars(run)
    tags = set(acc.Tags()["scalars"])
    for tag in SHARED_TAGS:
        assert tag in tags, (algo, tag, sorted(tags))
    prefix = "train/" if algo == "ppo" else f"{algo}/"
    assert any(t.startswith(prefix) for t in tags), (algo, sorted(tags))
    steps = [e.step for e in acc.Scalars("eval/mean_reward")]
    assert steps == [int(r["env_steps"]) for r in evals]
    assert "hparams/text_summary" in acc.Tags()["tensors"]  # the Markdown table
    assert "_hparams_/session_start_info" in acc.PluginTagToContent("hparams")  # the HPARAMS entry
    if algo == "zerograds":
        assert "zerograds/surrogate_slice" in acc.Tags()["images"]
        for tag in ("zerograds/surrogate_loss", "zerograds/surrogate_error", "zerograds/grad_cosine",
                    "zerograds/sigma"):
            assert tag in tags, (tag, sorted(tags))


def test_black_box_solution_replays_to_the_logged_return(tmp_path):
    cfg = tiny_config("random", tmp_path, eval_episodes=1)
    result = train(cfg)
    policy, theta, sol = load_solution(result.run_dir)
    from zg_agent.objective import make_env, run_episode

    env = make_env("Pendulum-v1", {}, 40)
    ret, length, _, _ = run_episode(env, policy, theta, eval_seeds(1)[0])
    env.close()
    assert length == 40 and ret == pytest.approx(result.final_return)


def test_pictures_for_an_env_that_renders(tmp_path):
    cfg = tiny_config("random", tmp_path, env_id="TestToyPoint-v0", max_episode_steps=None, eval_every=40,
                      budget=120, render_every=1)
    result = train(cfg)
    acc = scalars(result.run_dir)
    images = acc.Tags()["images"]
    assert "eval/render" in images and "eval/frames" in images
    img = acc.Images("eval/render")[-1]
    assert img.width == 16 and img.height == 8
    # 6 frames (reset + 5 steps) in rows of at most 4, each at its own size: 2 rows of 16 x 8 frames
    strip = acc.Images("eval/frames")[-1]
    assert (strip.width, strip.height) == (4 * 16, 2 * 8)


def test_rendering_failure_is_said_once_on_the_console(tmp_path, capsys):
    cfg = tiny_config("random", tmp_path, env_id="TestToyPoint-v0", max_episode_steps=None, eval_every=40,
                      budget=120, render_every=1, env_kwargs={"render_fails": True})
    result = train(cfg)
    assert result.status == "finished"
    err = capsys.readouterr().err
    assert err.count("rendering disabled") == 1 and "drawlib is not installed" in err
    assert "eval/render" not in scalars(result.run_dir).Tags()["images"]


@pytest.mark.parametrize("algo", ["random", "cma"])
def test_black_box_budget_with_variable_length_episodes(algo, tmp_path):
    # An iteration costs 4 candidates x 1 to 10 steps: between 4 and 40 env steps. The run uses its budget
    # up to less than one iteration and overshoots it by less than one iteration.
    for seed in range(4):
        cfg = tiny_config(algo, tmp_path, env_id="TestToyVarLen-v0", max_episode_steps=None, eval_every=50,
                          budget=203, seed=seed, render="off")
        result = train(cfg)
        assert result.status == "finished"
        assert 203 - 40 < result.env_steps < 203 + 40, (seed, result.env_steps)


def test_black_box_budget_is_not_wasted_on_worst_cases(tmp_path):
    # A time limit of 1000 steps whose episodes end after 1 to 10: waiting for a worst-case iteration
    # (4 x 1000 steps) to fit would stop after the first iteration; the run must use most of its budget.
    cfg = tiny_config("es", tmp_path, env_id="TestToyVarLen-v0", max_episode_steps=1000, eval_every=2000,
                      budget=4200, seed=0, render="off")
    result = train(cfg)
    assert result.status == "finished" and result.env_steps > 4200 - 40


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


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("algo, fields, words", [
    ("random", {"budget": 100}, ["budget 100", "popsize 4", "160", "smaller than one iteration"]),
    ("ppo", {"budget": 100}, ["budget 100", "smaller than one PPO rollout", "320"]),
    ("es", {"options.sigma": -1.0}, ["sigma"]),
    ("random", {"env_kwargs": {"no_such_argument": 1}}, ["env_kwargs", "no_such_argument"]),
    ("ppo", {"env_kwargs": {"no_such_argument": 1}}, ["env_kwargs", "no_such_argument"]),
])
def test_setup_errors_are_raised_before_a_run_folder_exists(algo, fields, words, tmp_path):
    cfg = tiny_config(algo, tmp_path / "runs", **fields)
    with pytest.raises(ValueError) as info:
        train(cfg)
    for w in words:
        assert w in str(info.value), (w, str(info.value))
    with pytest.raises(ValueError):
        train(cfg, run_dir=tmp_path / "named")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "named").exists()


@pytest.mark.parametrize("algo", ["random", "ppo"])
def test_non_box_action_space_is_refused(algo, tmp_path):
    cfg = tiny_config(algo, tmp_path, env_id="TestToyDiscrete-v0", max_episode_steps=None)
    with pytest.raises(ValueError, match="Box"):
        train(cfg, run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_budget_note_when_the_budget_is_not_a_multiple_of_an_iteration(tmp_path):
    from zg_agent.trainers import make_trainer

    trainer = make_trainer(tiny_config("random", tmp_path, budget=1000)).prepare()
    trainer.close()
    assert trainer.iteration_cost == 160 and trainer.usable_budget() == 960
    note = trainer.budget_note()
    assert "budget 1000" in note and "160" in note and "960 env steps when every episode runs to its time limit" in note
    ppo = make_trainer(tiny_config("ppo", tmp_path, budget=1000)).prepare()
    ppo.close()
    assert "n_steps 160 x n_envs 2" in ppo.budget_note() and " 960 env steps" in ppo.budget_note()
    exact = make_trainer(tiny_config("random", tmp_path, budget=960)).prepare()
    exact.close()
    assert exact.budget_note() is None


def test_nan_episode_names_candidate_and_seed_and_keeps_the_run(tmp_path):
    cfg = tiny_config("random", tmp_path, env_id="TestToyPoint-v0", max_episode_steps=None,
                      env_kwargs={"nan_from_step": 2}, budget=200, eval_every=40)
    with pytest.raises(ValueError) as info:
        train(cfg, run_dir=tmp_path / "run")
    msg = str(info.value)
    assert "candidate" in msg and "reset seed" in msg
    run = tmp_path / "run"
    assert read_status(run)["state"] == "failed" and "candidate" in read_status(run)["error"]
    assert "ValueError" in (run / "error.txt").read_text()
    assert has_checkpoint(run) and (run / "config.yaml").is_file()
    assert read_status(run)["checkpoint_env_steps"] == 0  # the step-0 checkpoint, not a half iteration


# ---------------------------------------------------------------------------------------------- one of ours
@pytest.mark.parametrize("algo", ALGOS)
def test_every_algorithm_on_shadow_caster_with_pictures(algo, tmp_path):
    over = {"budget": 256, "eval_every": 64, "eval_episodes": 1, "slice_every": 2, "slice_points": 3,
            "render_every": 100, "env_kwargs": {"resolution": 32}}
    over.update({"options.n_steps": 64, "options.batch_size": 32, "options.n_epochs": 1} if algo == "ppo"
                else {"options.popsize": 4})
    result = train(load_config(algo, "zg/ShadowCaster-v0", overrides={"run_root": str(tmp_path), **over}))
    assert result.status == "finished" and result.env_steps == 256
    acc = scalars(result.run_dir)
    for tag in SHARED_TAGS:
        assert tag in acc.Tags()["scalars"], tag
    images = acc.Tags()["images"]
    assert "eval/render" in images and "eval/frames" in images
    # the first and the last evaluation are rendered (render_every is larger than the number of evaluations)
    assert [im.step for im in acc.Images("eval/render")] == [0, 256]
    # the frames are laid out in rows, each at the size of eval/render (not squeezed into one long row)
    render, frames = acc.Images("eval/render")[-1], acc.Images("eval/frames")[-1]
    assert frames.width <= 2048 and frames.width % render.width == 0 and frames.height % render.height == 0
    assert frames.height >= 2 * render.height


def test_process_backend_gives_the_serial_curve(tmp_path):
    serial = train(tiny_config("es", tmp_path / "s", budget=640, eval_every=160))
    process = train(tiny_config("es", tmp_path / "p", budget=640, eval_every=160, backend="process",
                                num_workers=2))
    assert read_evaluations(serial.run_dir) != []
    assert [(r["env_steps"], r["mean_reward"]) for r in read_evaluations(serial.run_dir)] == \
        [(r["env_steps"], r["mean_reward"]) for r in read_evaluations(process.run_dir)]


# ---------------------------------------------------------------------------------------------- run folder lock
def test_a_run_folder_in_use_is_refused_and_a_dead_owner_leaves_no_lock(tmp_path):
    from zg_agent.trainers import RunFolderError, RunLock

    run = tmp_path / "run"
    run.mkdir()
    with RunLock(run):
        assert (run / "run.lock").read_text() == f"{os.getpid()}\n"
        with pytest.raises(RunFolderError, match=f"is in use by process {os.getpid()}"):
            RunLock(run).acquire()
        # the trainer refuses before it writes anything
        cfg = tiny_config("random", tmp_path)
        with pytest.raises(RunFolderError, match="in use"):
            train(cfg, run_dir=run)
        assert sorted(p.name for p in run.iterdir()) == ["run.lock"]
    assert (run / "run.lock").read_text() == ""
    # a process that dies holding the lock (kill -9: no clean-up) leaves its pid in the file, but no lock
    code = ("import os, sys; from zg_agent.trainers import RunLock; RunLock(sys.argv[1]).acquire(); "
            "os.kill(os.getpid(), 9)")
    proc = subprocess.run([sys.executable, "-c", code, str(run)], env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == -9 and (run / "run.lock").read_text().strip().isdigit()
    lock = RunLock(run).acquire()
    assert lock.held
    lock.release()


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
    # rollouts of 160 x 2 = 320 env steps; a checkpoint every 0.05 s, also in the middle of a rollout
    over = {"run_root": str(tmp_path), "max_episode_steps": 40, "eval_every": 320, "eval_episodes": 1,
            "budget": 960, "options.n_steps": 160, "options.batch_size": 80, "options.n_epochs": 1,
            "options.n_envs": 2, "options.use_sde": False, "checkpoint_seconds": 0.05}
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


