"""``eval/normalized_score`` beside ``eval/mean_reward`` in TensorBoard, from references cached in the run folder."""

import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import zg_envs  # noqa: F401
from zg_agent.config import load_config
from zg_agent.training import EVAL_SEED_BASE, read_evaluations, train
from zg_agent.training.references import REFERENCES_FILE, compute_references, normalize


def tiny(algo, root, **fields):
    over = {"run_root": str(root), "budget": 96, "eval_every": 48, "env_kwargs.n_casters": 3,
            "env_kwargs.resolution": 16, "max_episode_steps": 3, "render": "off"}
    over.update({"options.n_steps": 48, "options.batch_size": 24, "options.n_epochs": 1} if algo == "ppo"
                else {"options.popsize": 4})
    over.update(fields)
    return load_config(algo, "zg/ShadowCaster-v0", overrides=over)


def scalars(run_dir, tag):
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


@pytest.mark.parametrize("algo", ["zerograds", "ppo"])
def test_normalized_score_is_logged_at_every_evaluation(algo, tmp_path):
    cfg = tiny(algo, tmp_path)
    run = train(cfg).run_dir
    refs = json.loads((run / REFERENCES_FILE).read_text())
    assert refs == compute_references(cfg, EVAL_SEED_BASE)
    assert refs["upper"] > refs["start"]
    evals = read_evaluations(run)
    logged = scalars(run, "eval/normalized_score")
    assert [s for s, _ in logged] == [int(r["env_steps"]) for r in evals]
    for (_, value), row in zip(logged, evals):
        assert value == pytest.approx(normalize(refs, row["mean_reward"]), abs=1e-6)
    if algo == "zerograds":  # the step-0 evaluation is the start design itself
        assert logged[0][1] == pytest.approx(0.0, abs=1e-6)


def test_open_loop_start_action_sets_the_start(tmp_path):
    cfg = tiny("es", tmp_path, **{"policy_options.initial_action": 0.5})
    run = train(cfg).run_dir
    refs = json.loads((run / REFERENCES_FILE).read_text())
    assert "0.5" in refs["start_source"]
    assert refs["start"] == pytest.approx(read_evaluations(run)[0]["mean_reward"])
    assert scalars(run, "eval/normalized_score")[0][1] == pytest.approx(0.0, abs=1e-6)


def test_no_upper_reference_means_no_tag(tmp_path):
    over = {"run_root": str(tmp_path), "budget": 64, "eval_every": 32, "max_episode_steps": 8,
            "options.popsize": 4, "env_kwargs.character": "humanoid", "eval_episodes": 1, "render": "off"}
    run = train(load_config("random", "zg/CharacterLocomotion-v0", overrides=over)).run_dir
    refs = json.loads((run / REFERENCES_FILE).read_text())
    assert refs["upper"] is None
    acc = EventAccumulator(str(run), size_guidance={"scalars": 0})
    acc.Reload()
    assert "eval/mean_reward" in acc.Tags()["scalars"]
    assert "eval/normalized_score" not in acc.Tags()["scalars"]


def test_hopper_references_are_those_of_the_evaluation_reward():
    # the shipped hopper entry trains without the alive bonus and evaluates with it: its references are on the
    # port's full reward, where the published upper reference holds
    cfg = load_config("cma", "zg/CharacterLocomotion-v0", overrides={"eval_episodes": 1})
    refs = compute_references(cfg, EVAL_SEED_BASE)
    assert refs["upper"] == pytest.approx(2575.054) and "HopperBulletEnv-v0" in refs["upper_source"]
    cfg.eval_env_kwargs = {}
    plain = compute_references(cfg, EVAL_SEED_BASE)
    assert plain["upper"] is None and "alive_weight changed" in plain["upper_source"]
    assert refs["start"] > plain["start"]  # the bonus of every step survived
