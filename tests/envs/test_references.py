"""Reference scores (zg_envs.references) on small configurations, checked against what the envs define."""

import math

import gymnasium as gym
import numpy as np
import pytest

import zg_envs  # noqa: F401 - registers the ids
from zg_envs.references import PUBLISHED, References, reference_scores


def test_shadow_caster_hidden_target_reaches_loss_zero_and_start_is_the_centred_design():
    env = gym.make("zg/ShadowCaster-v0", n_casters=3, resolution=32, max_episode_steps=3)
    refs = reference_scores(env, random_episodes=2)
    # return = initial loss - final loss: the optimum (loss 0) returns the empty scene's loss
    _, info = env.reset(seed=0)
    assert refs.upper == pytest.approx(info["loss"])
    assert "hidden target" in refs.upper_source
    for a in env.unwrapped.target_actions():
        _, _, _, _, info = env.step(a)
    assert info["loss"] == 0.0
    # the start: three occluders at the Box centre
    _, info0 = env.reset(seed=0)
    for _ in range(3):
        _, _, _, _, info = env.step(np.zeros(4, dtype=np.float32))
    assert refs.start == pytest.approx(info0["loss"] - info["loss"])
    assert refs.normalize(refs.start) == 0.0 and refs.normalize(refs.upper) == 1.0


def test_tree_growth_hidden_target_reaches_iou_one():
    env = gym.make("zg/TreeGrowth-v0", generations=3, resolution=32, max_episode_steps=3)
    refs = reference_scores(env, random_episodes=2)
    _, info = env.reset(seed=0)
    assert refs.upper == pytest.approx(1.0 - info["iou"])  # return = final IoU - trunk IoU, final IoU 1
    assert refs.random < refs.upper and refs.start < refs.upper


def test_shadow_art_upper_is_the_visual_hull_of_the_users_targets():
    env = gym.make("zg/ShadowArt-v0", grid=8, targets=("glyph:L", "disc", "square"), max_episode_steps=1)
    refs = reference_scores(env, start_action=-0.5, random_episodes=2)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(env.unwrapped.visual_hull())
    assert refs.upper == pytest.approx(reward) and reward == pytest.approx(-info["loss"])
    assert "visual hull" in refs.upper_source
    # the empty sculpture (-0.5 everywhere) misses every target pixel: loss = mean target coverage
    coverage = env.unwrapped.target_masks.reshape(3, -1).mean(axis=1).mean()
    assert refs.start == pytest.approx(-coverage)
    assert refs.start < refs.upper <= 0.0


def test_shadow_art_random_target_upper_is_loss_zero():
    env = gym.make("zg/ShadowArt-v0", grid=6, targets="random", max_episode_steps=1)
    assert reference_scores(env, random_episodes=1).upper == 0.0


def test_mimic_upper_is_the_largest_possible_return_and_the_start_is_zero_offsets():
    env = gym.make("zg/CharacterMimic-v0", episode_length=5, pose_weight=0.3)
    refs = reference_scores(env, seed=3, random_episodes=1)
    assert refs.upper == pytest.approx(5 * (0.3 + 0.05 + 0.15 + 0.2 + 0.1))
    env.reset(seed=3)
    total, done = 0.0, False
    while not done:
        _, r, term, trunc, _ = env.step(np.zeros(28, dtype=np.float32))
        total, done = total + r, term or trunc
    assert refs.start == pytest.approx(total)
    # a time limit below the horizon shortens the longest episode
    short = gym.make("zg/CharacterMimic-v0", episode_length=5, max_episode_steps=2)
    assert reference_scores(short, random_episodes=1).upper == pytest.approx(2.0)


def test_locomotion_published_scores_only_for_the_published_setting():
    refs = reference_scores(gym.make("zg/CharacterLocomotion-v0"), random_episodes=1)
    assert refs.upper == PUBLISHED["hopper"][1][0][1] == 2575.054
    assert "HopperBulletEnv-v0" in refs.upper_source and "SAC 2,603.5" in refs.upper_source
    other = reference_scores(gym.make("zg/CharacterLocomotion-v0", alive_weight=0.5), random_episodes=1)
    assert other.upper is None and "alive_weight" in other.upper_source
    assert math.isnan(other.normalize(100.0))


def test_declared_max_return_wins():
    env = gym.make("Pendulum-v1")
    env.unwrapped.max_return = 0.0
    assert reference_scores(env, random_episodes=1).upper == 0.0


def test_seeded_and_round_trips():
    env = gym.make("zg/TreeGrowth-v0", generations=2, resolution=16, max_episode_steps=2)
    a, b = reference_scores(env, seed=5), reference_scores(env, seed=5)
    assert a == b and References.from_dict(a.to_dict()) == a


@pytest.mark.parametrize("kwargs, match", [({"random_episodes": 0}, "random_episodes"),
                                           ({"seed": -1}, "seed"), ({"start_action": 2.0}, "start_action"),
                                           ({"start_action": [0.0, 0.0]}, "start_action")])
def test_bad_arguments_are_named(kwargs, match):
    env = gym.make("zg/ShadowCaster-v0", n_casters=1, resolution=16, max_episode_steps=1)
    with pytest.raises(ValueError, match=match):
        reference_scores(env, **kwargs)
