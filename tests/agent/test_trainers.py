"""Trainers end to end on tiny budgets: every algorithm, shared TensorBoard tags, pictures, budgets, bad input,
the run-folder lock (stop and resume: test_resume.py)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tiny_runs import ROOT, SHARED_TAGS, column, scalars, tiny_config
from zg_agent.config import ALGOS, load_config
from zg_agent.trainers import eval_seeds, has_checkpoint, load_solution, read_evaluations, read_status, train


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


def test_the_picture_shows_the_solution_that_is_scored(tmp_path, monkeypatch):
    # eval/render must show theta, which eval/mean_reward scores and zg-replay replays, not the best sample
    import numpy as np

    from zg_agent.rollout.objective import EpisodeObjective
    from zg_agent.training.run_dir import load_solution

    rendered, rollout = [], EpisodeObjective.rollout

    def spy(self, theta, seed, render=False):
        if render:
            rendered.append(np.array(theta, dtype=np.float64))
        return rollout(self, theta, seed, render=render)

    monkeypatch.setattr(EpisodeObjective, "rollout", spy)
    cfg = tiny_config("es", tmp_path, env_id="TestToyPoint-v0", max_episode_steps=None, eval_every=40,
                      budget=120, render_every=1)
    _, _, solution = load_solution(train(cfg).run_dir)
    assert rendered and not np.array_equal(solution["theta"], solution["best_theta"])
    np.testing.assert_array_equal(rendered[-1], solution["theta"])


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


@pytest.mark.parametrize("algo", ["es", "ppo"])
def test_eval_env_kwargs_score_the_run_while_training_uses_env_kwargs(algo, tmp_path):
    # TestToyPoint-v0's episodes last 5 steps and its bonus adds 1 to every reward: a run that evaluates with
    # the bonus trains exactly as the run without it and reports every evaluation (and reference) 5 higher
    from zg_agent.replay import replay
    from zg_agent.training.references import REFERENCES_FILE

    fields = dict(env_id="TestToyPoint-v0", render="off", **{"env_kwargs.bonus": 0.0})
    plain = train(tiny_config(algo, tmp_path / "plain", **fields))
    scored = train(tiny_config(algo, tmp_path / "scored", **fields, **{"eval_env_kwargs.bonus": 1.0}))
    key = "rollout/ep_rew_mean"
    train_plain, train_scored = (column(r.run_dir / "progress.csv", key) for r in (plain, scored))
    assert train_plain == train_scored and all(v <= 0 for _, v in train_scored)  # no bonus in training
    a, b = read_evaluations(plain.run_dir), read_evaluations(scored.run_dir)
    assert [r["env_steps"] for r in a] == [r["env_steps"] for r in b] and len(b) >= 3
    assert [r["mean_reward"] + 5 for r in a] == pytest.approx([r["mean_reward"] for r in b], abs=1e-9)
    assert all(r["mean_reward"] > 0 for r in b) and scored.final_return == pytest.approx(plain.final_return + 5)
    ra, rb = (json.loads((r.run_dir / REFERENCES_FILE).read_text()) for r in (plain, scored))
    assert rb["start"] == pytest.approx(ra["start"] + 5) and rb["random"] == pytest.approx(ra["random"] + 5)
    # zg-replay scores the saved solution the way the run was evaluated
    assert replay(scored.run_dir).mean_return == pytest.approx(scored.final_return, abs=1e-9)
    assert replay(plain.run_dir).mean_return == pytest.approx(plain.final_return, abs=1e-9)


def test_shipped_hopper_entry_trains_without_the_alive_bonus_and_evaluates_with_it(tmp_path):
    from zg_agent.objective import make_env, run_episode

    cfg = load_config("cma", "zg/CharacterLocomotion-v0", seed=0, budget=480, overrides={
        "max_episode_steps": 30, "eval_every": 240, "eval_episodes": 2, "options.popsize": 8,
        "run_root": str(tmp_path), "render": "off", "log_formats": ["csv"]})
    assert cfg.env_kwargs == {"alive_weight": 0.0} and cfg.evaluation_env_kwargs() == {"alive_weight": 1.0}
    result = train(cfg)
    policy, theta, _ = load_solution(result.run_dir)
    env = make_env(cfg.env_id, cfg.env_kwargs, 30)
    res = np.array([run_episode(env, policy, theta, seed)[:2] for seed in eval_seeds(2)])
    env.close()
    # the evaluation adds the alive bonus to the training reward: +1 per step standing, -1 on the step that falls
    lengths = res[:, 1]
    bonus = np.where(lengths < 30, lengths - 2, lengths)
    assert result.final_return == pytest.approx(np.mean(res[:, 0] + bonus), abs=1e-6)
    assert np.all(bonus > 0)


def test_eval_env_kwargs_that_change_the_spaces_are_refused(tmp_path):
    cfg = tiny_config("random", tmp_path / "runs", env_id="zg/ShadowCaster-v0", max_episode_steps=None,
                      policy="open_loop", budget=64, **{"env_kwargs.n_casters": 2, "env_kwargs.resolution": 16,
                                                        "eval_env_kwargs.n_casters": 3})
    with pytest.raises(ValueError) as info:
        train(cfg)
    assert all(w in str(info.value) for w in ("eval_env_kwargs", "{'n_casters': 3}", "space", "training"))
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("algo, fields, words", [
    ("random", {"budget": 100}, ["budget 100", "popsize 4", "160", "smaller than one iteration"]),
    ("ppo", {"budget": 100}, ["budget 100", "smaller than one PPO rollout", "320"]),
    ("es", {"options.sigma": -1.0}, ["sigma"]),
    ("random", {"env_kwargs": {"no_such_argument": 1}}, ["env_kwargs", "no_such_argument"]),
    ("ppo", {"env_kwargs": {"no_such_argument": 1}}, ["env_kwargs", "no_such_argument"]),
    ("random", {"eval_env_kwargs": {"no_such_argument": 1}}, ["eval_env_kwargs", "no_such_argument", "'g'"]),
    ("ppo", {"eval_env_kwargs": {"no_such_argument": 1}}, ["eval_env_kwargs", "no_such_argument", "'g'"]),
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


def test_versions_json_names_this_checkout_and_keeps_a_damaged_file_aside(tmp_path):
    from zg_agent.config import RunConfig
    from zg_agent.training.run_dir import write_run_files

    write_run_files(tmp_path, RunConfig(), command="zg-train first")
    (tmp_path / "versions.json").write_text("{not json")
    write_run_files(tmp_path, RunConfig(), command="zg-train second")
    assert (tmp_path / "versions.unreadable.json").read_text() == "{not json"
    (entry,) = json.loads((tmp_path / "versions.json").read_text())
    assert entry["command"] == "zg-train second" and entry["packages"]["numpy"] == np.__version__
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:  # the tests run from a checkout: its commit is recorded
        assert entry["code"]["commit"] == head.stdout.strip()
    else:
        assert entry["code"] is None
