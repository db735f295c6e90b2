"""zg/TreeGrowth-v0: reachability of the optimum, plateaus, info and observation, targets, render, bad arguments.

The contract every env keeps (checkers, determinism, pickling, bad actions, render) is in test_env_contract.py.
"""

import gymnasium as gym
import numpy as np
import pytest

import zg_envs  # noqa: F401  (registers the zg namespace)
from zg_envs.render.tree import COMPARE_COLOURS, TARGET_OUTLINE
from zg_envs.targets import glyph_mask
from zg_envs.tree_growth_v0 import N_STATS, TreeGrowthEnv

ENV_ID = "zg/TreeGrowth-v0"


def rollout(env, actions, seed=None):
    obs, info = env.reset(seed=seed)
    observations, rewards, infos = [obs], [], [info]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        observations.append(obs)
        rewards.append(reward)
        infos.append(info)
        if terminated or truncated:
            break
    return observations, rewards, infos, terminated


def test_hidden_target_actions_reproduce_the_target_exactly():
    for target_seed in range(4):
        env = TreeGrowthEnv(target_seed=target_seed)
        actions = env.target_actions()
        assert actions.shape == (6, 6) and actions.dtype == np.float32
        assert np.all(np.abs(actions) <= 1)
        obs, rewards, infos, terminated = rollout(env, actions, seed=0)
        assert terminated and len(rewards) == 6
        assert infos[-1]["iou"] == 1.0 and infos[-1]["loss"] == 0.0
        np.testing.assert_array_equal(env.design_mask, env.target_mask)
        # the return is final IoU minus the trunk's IoU
        assert np.isclose(sum(rewards), 1.0 - infos[0]["iou"])
        assert 0.04 <= env.target_mask.mean() <= 0.6


def test_target_differs_between_target_seeds_and_from_a_same_seeded_sampler():
    a, b = TreeGrowthEnv(target_seed=0), TreeGrowthEnv(target_seed=1)
    assert not np.array_equal(a.target_mask, b.target_mask)
    space = gym.spaces.Box(-1, 1, (6,), np.float32)
    space.seed(0)
    sampled = np.stack([space.sample() for _ in range(6)])
    assert not np.allclose(sampled, a.target_actions())


def test_randomized_targets_follow_the_reset_seed():
    env = TreeGrowthEnv(randomize_target=True)
    env.reset(seed=7)
    t7, a7 = env.target_mask, env.target_actions()
    env.reset(seed=8)
    assert not np.array_equal(env.target_mask, t7)
    env.reset()  # an unseeded reset continues the stream: yet another target
    assert not np.array_equal(env.target_mask, t7)
    other = TreeGrowthEnv(randomize_target=True)
    other.reset(seed=7)
    np.testing.assert_array_equal(other.target_mask, t7)
    np.testing.assert_array_equal(other.target_actions(), a7)
    # the optimum is reachable for a randomized target too (step right after the reset that drew it)
    for action in a7:
        _, _, terminated, _, info = other.step(action)
    assert terminated and info["iou"] == 1.0


def test_children_rounding_gives_exact_plateaus():
    env = TreeGrowthEnv(target_seed=2)
    base = env.target_actions().astype(np.float64)
    # move the children entry anywhere inside its rounding cell: bit-identical silhouettes
    count = np.rint(2.5 + 1.5 * base[:, 0])
    cell_centre = (count - 2.5) / 1.5
    nudged = base.copy()
    nudged[:, 0] = np.clip(cell_centre + 0.3 * np.sign(base[:, 0] - cell_centre + 1e-9), -1, 1)
    assert np.all(np.rint(2.5 + 1.5 * nudged[:, 0]) == count) and not np.allclose(nudged[:, 0], base[:, 0])
    sil = [env._grow_silhouette(a) for a in (base, nudged)]
    np.testing.assert_array_equal(sil[0], sil[1])
    # crossing into the next cell changes the tree
    jumped = base.copy()
    jumped[1, 0] = cell_centre[1] + (2 / 3 if count[1] < 4 else -2 / 3)
    assert not np.array_equal(env._grow_silhouette(jumped), sil[0])


def test_info_and_observation_contents():
    env = TreeGrowthEnv(target_seed=1, segment_penalty=0.5, iou_weight=2.0)
    obs, info = env.reset(seed=0)
    k2 = 16 * 16
    assert info["n_segments"] == 1 and info["generation"] == 0
    assert np.isclose(obs[2 * k2 + 4], info["iou"])
    np.testing.assert_allclose(obs[k2 : 2 * k2], env.target_mask.reshape(16, 4, 16, 4).mean(axis=(1, 3)).ravel())
    previous = info["iou"]
    for g, action in enumerate(np.random.default_rng(0).uniform(-1, 1, (6, 6)), start=1):
        obs, reward, terminated, truncated, info = env.step(action)
        assert env.observation_space.contains(obs)
        assert np.isclose(info["reward_iou"], 2.0 * (info["iou"] - previous))
        assert np.isclose(info["reward_segments"], -0.5 * info["new_segments"] / 512)
        assert np.isclose(reward, info["reward_iou"] + info["reward_segments"])
        assert info["generation"] == g and np.isclose(obs[2 * k2], g / 6)
        assert np.isclose(info["loss"], 1 - info["iou"])
        np.testing.assert_allclose(obs[:k2], env.design_mask.reshape(16, 4, 16, 4).mean(axis=(1, 3)).ravel())
        assert terminated == (g == 6) and not truncated
        previous = info["iou"]


def test_segment_cap_is_respected_in_the_env():
    env = TreeGrowthEnv(max_segments=30)
    env.reset(seed=0)
    for _ in range(6):
        _, _, _, _, info = env.step(np.ones(6, dtype=np.float32))  # 4 children every generation
        assert info["n_segments"] <= 30
    assert info["at_cap"] and info["n_segments"] == 30 and info["new_segments"] == 0


def test_image_target():
    mask = glyph_mask("Y", 64)
    env = TreeGrowthEnv(target=mask, generations=4)
    assert env.target_actions() is None
    np.testing.assert_array_equal(env.target_mask, mask)
    _, rewards, infos, terminated = rollout(env, np.zeros((4, 6), dtype=np.float32), seed=0)
    assert terminated and len(rewards) == 4
    assert np.isclose(sum(rewards), infos[-1]["iou"] - infos[0]["iou"])


def test_image_target_from_a_file(tmp_path):
    from PIL import Image

    picture = np.full((100, 100), 255, dtype=np.uint8)
    picture[20:90, 45:55] = 0  # a dark bar on white
    path = tmp_path / "bar.png"
    Image.fromarray(picture).save(path)
    env = TreeGrowthEnv(target=str(path))
    assert env.target_mask[40, 32] and not env.target_mask[40, 5]


def test_render_rgb_array():
    env = gym.make(ENV_ID, render_mode="rgb_array", render_resolution=128)
    env.reset(seed=0)
    for action in env.unwrapped.target_actions()[:3]:
        env.step(action)
    frame = env.render()
    pad, head = 12, 30
    assert frame.dtype == np.uint8 and frame.shape[1] == 3 * pad + 2 * 128 and frame.shape[0] > head + 128 + 30
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) >= 5  # background, bark, leaves, outline, overlap
    # a title above the panels, and under them a legend with a swatch of every overlap colour
    assert (frame[:head, :, :].min(axis=2) < 100).sum() > 50
    footer = frame[head + 128:].reshape(-1, 3)
    for colour in (*COMPARE_COLOURS[1:], TARGET_OUTLINE):
        assert np.all(footer == colour, axis=1).sum() >= 50, colour


def test_async_vector_env():
    envs = gym.vector.AsyncVectorEnv([lambda: gym.make(ENV_ID), lambda: gym.make(ENV_ID, target_seed=1)])
    try:
        obs, infos = envs.reset(seed=[0, 1])
        assert obs.shape == (2, 2 * 16 * 16 + N_STATS)
        actions = np.stack([TreeGrowthEnv(target_seed=s).target_actions() for s in (0, 1)], axis=1)
        for step in range(6):
            obs, rewards, terminated, truncated, infos = envs.step(actions[step])
        assert terminated.all() and np.allclose(infos["iou"], 1.0)
    finally:
        envs.close()


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"resolution": 0}, r"resolution must be an integer in \[8, 1024\]"),
        ({"resolution": 64.0}, r"resolution must be an integer"),
        ({"generations": 0}, r"generations must be an integer in \[1, 16\]"),
        ({"max_segments": 0}, r"max_segments must be an integer in \[1, 1000000\]"),
        ({"target_seed": -1}, r"target_seed must be an integer >= 0"),
        ({"obs_resolution": 7}, r"obs_resolution must divide resolution=64.*allowed: \[1, 2, 4, 8, 16, 32, 64\]"),
        ({"render_mode": "human"}, r"render_mode must be one of \[None, 'rgb_array'\]"),
        ({"iou_weight": float("nan")}, r"iou_weight must be a finite number"),
        ({"segment_penalty": -1.0}, r"segment_penalty must be a finite number >= 0.0"),
        ({"randomize_target": "yes"}, r"randomize_target must be True or False"),
        ({"render_resolution": 8}, r"render_resolution must be an integer in \[16, 2048\]"),
        ({"target": 123}, r"target must be None .*, got int"),
        ({"target": "/no/such/picture.png"}, r"target: cannot read image file"),
        ({"target": np.zeros((64, 64), dtype=bool)}, r"target: the image gives an empty mask"),
        ({"target": np.zeros((3, 3, 3, 3))}, r"target: an image array must be 2-D"),
        ({"target": np.ones((64, 64), dtype=bool), "randomize_target": True}, r"randomize_target=True needs target=None"),
    ],
)
def test_bad_constructor_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        TreeGrowthEnv(**kwargs)


def test_observation_helpers_give_plain_numpys_bits():
    # pooled_mask and tree_statistics call numpy's reductions directly for speed; the values must be the
    # bits of the plain ndarray.mean / ndarray.std expressions they replace
    from zg_envs import tree_grammar as tg
    from zg_envs.tree_observation import pooled_mask, tree_statistics

    rng = np.random.default_rng(3)
    for k, p in ((16, 4), (8, 3), (5, 7), (1, 9)):
        mask = rng.random((k * p, k * p)) < 0.4
        plain = mask.reshape(k, p, k, p).mean(axis=(1, 3), dtype=np.float32).ravel()
        assert pooled_mask(mask, k, p).tobytes() == plain.tobytes()
    for _ in range(20):
        tree = tg.grow_tree(rng.uniform(-1, 1, (int(rng.integers(1, 7)), 6)), int(rng.integers(2, 600)))
        stats = tree_statistics(tree, 6, 600, (0.1, 0.2, 0.3, 0.4, 0.5))
        tips = tree.tips
        if tips.shape[0]:
            expected = np.clip([tips[:, 0].mean(), tips[:, 1].mean(), tips[:, 0].std()], 0.0, 1.0)
            assert stats[9:12].tobytes() == expected.tobytes()
