"""zg/ShadowCaster-v0: targets, rewards, observation layout, action mapping, bad arguments, vector envs.

The contract every env keeps (checkers, determinism, pickling, bad actions, render) is in test_env_contract.py.
"""

import gymnasium as gym
import numpy as np
import pytest

import zg_envs  # noqa: F401
from zg_envs.shadow_caster_v0 import ShadowCasterEnv, action_to_occluder
from zg_envs.targets import glyph_mask


def test_randomized_targets_change_between_resets_and_fixed_ones_do_not():
    env = ShadowCasterEnv(randomize_target=True)
    env.reset(seed=3)
    first = env.target_mask.copy()
    env.reset()
    assert not np.array_equal(first, env.target_mask)
    fixed = ShadowCasterEnv(target_seed=5)
    fixed.reset(seed=1)
    t1 = fixed.target_mask
    fixed.reset(seed=2)
    assert np.array_equal(t1, fixed.target_mask)
    assert not np.array_equal(t1, ShadowCasterEnv(target_seed=6).target_mask)


@pytest.mark.parametrize("kwargs", [{}, {"shape": "box"}, {"loss": "iou"}, {"randomize_target": True}])
def test_hidden_target_scene_reaches_loss_zero_in_any_order(kwargs):
    env = ShadowCasterEnv(**kwargs)
    _, info = env.reset(seed=11)
    initial = info["loss"]
    assert initial > 0.0
    total = 0.0
    for a in env.unwrapped.target_actions()[::-1]:  # reversed: the union does not care about order
        _, reward, terminated, _, info = env.step(a)
        total += reward
    assert terminated
    assert info["loss"] == 0.0 and info["iou"] == 1.0 and info["l1"] == 0.0
    assert np.array_equal(env.design_mask, env.target_mask)
    assert total == pytest.approx(initial)


def test_return_is_initial_minus_final_loss_and_info_terms():
    env = ShadowCasterEnv(n_casters=5, reward_scale=2.0, target="glyph:S")
    _, info = env.reset(seed=0)
    initial = info["loss"]
    rng = np.random.default_rng(0)
    total = 0.0
    for step in range(5):
        _, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, 4))
        total += reward
        assert info["reward_loss_decrease"] == reward and info["n_placed"] == step + 1
        assert not truncated and terminated == (step == 4)
        assert info["loss"] == pytest.approx(np.mean(env.design_mask != env.target_mask))
        inter, union = np.sum(env.design_mask & env.target_mask), np.sum(env.design_mask | env.target_mask)
        assert info["iou"] == pytest.approx(inter / union)
    assert total == pytest.approx(2.0 * (initial - info["loss"]))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(4))


def test_observation_layout():
    env = ShadowCasterEnv(n_casters=3, resolution=32, obs_resolution=8, target="square")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2 * 64 + 12 + 1,) and obs.dtype == np.float32
    assert np.allclose(obs[64:128], glyph_mask("\u25a0", 32).reshape(8, 4, 8, 4).mean(axis=(1, 3)).ravel())
    assert not obs[:64].any() and obs[-1] == 0.0
    a = np.array([0.5, -0.25, 0.0, 1.0], dtype=np.float32)
    obs, *_ = env.step(a)
    assert np.allclose(obs[128:132], a) and not obs[132:140].any() and obs[-1] == pytest.approx(1 / 3)
    assert np.allclose(obs[:64], env.design_mask.reshape(8, 4, 8, 4).mean(axis=(1, 3)).ravel())
    assert env.observation_space.contains(obs)


def test_action_mapping_covers_the_documented_ranges():
    assert action_to_occluder([-1, -1, -1, -1]) == pytest.approx((-0.5, -0.5, 0.35, 0.06))
    assert action_to_occluder([1, 1, 1, 1]) == pytest.approx((0.5, 0.5, 1.05, 0.20))
    assert action_to_occluder([0, 0.5, 0, 0]) == pytest.approx((0.0, 0.25, 0.70, 0.13))


@pytest.mark.parametrize("kwargs,match", [
    ({"n_casters": 0}, "n_casters"),
    ({"n_casters": 2.5}, "n_casters"),
    ({"resolution": 4}, "resolution"),
    ({"obs_resolution": 100}, "obs_resolution"),
    ({"shape": "cone"}, "shape"),
    ({"loss": "l2"}, "loss"),
    ({"target": "no-such-target"}, "target"),
    ({"target": 3}, "target"),
    ({"target": "missing_file.png"}, "target"),
    ({"target": np.zeros((3, 3, 3, 3))}, "target"),
    ({"target": np.zeros((8, 8)) + 0.5, "randomize_target": True}, "randomize_target"),
    ({"reward_scale": -1.0}, "reward_scale"),
    ({"reward_scale": float("nan")}, "reward_scale"),
    ({"obs_type": "rgb"}, "obs_type"),
    ({"render_mode": "human"}, "render_mode"),
    ({"randomize_target": "yes"}, "randomize_target"),
])
def test_bad_constructor_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ShadowCasterEnv(**kwargs)


def test_unreadable_image_file_raises(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="target"):
        ShadowCasterEnv(target=str(path))


def test_image_target_from_file_and_array(tmp_path):
    from PIL import Image

    img = np.full((40, 40), 255, dtype=np.uint8)
    img[10:30, 5:20] = 0  # a dark rectangle on white
    path = tmp_path / "sil.png"
    Image.fromarray(img).save(path)
    from_file = ShadowCasterEnv(target=str(path), resolution=40)
    from_array = ShadowCasterEnv(target=img, resolution=40)
    assert np.array_equal(from_file.target_mask, img == 0) and np.array_equal(from_array.target_mask, img == 0)
    assert from_file.target_actions() is None


def test_async_vector_env_matches_serial_envs():
    vec = gym.vector.AsyncVectorEnv([lambda: gym.make("zg/ShadowCaster-v0", n_casters=3),
                                     lambda: gym.make("zg/ShadowCaster-v0", n_casters=3, target_seed=1)])
    serial = [ShadowCasterEnv(n_casters=3), ShadowCasterEnv(n_casters=3, target_seed=1)]
    try:
        obs, _ = vec.reset(seed=[0, 1])
        expected = [env.reset(seed=seed)[0] for env, seed in zip(serial, (0, 1))]
        assert np.array_equal(obs, np.stack(expected))
        actions = np.random.default_rng(0).uniform(-1, 1, (3, 2, 4)).astype(np.float32)
        for step in range(3):
            obs, rewards, terminated, _, infos = vec.step(actions[step])
            for i, env in enumerate(serial):
                o, r, t, _, info = env.step(actions[step, i])
                assert np.array_equal(obs[i], o) and rewards[i] == r and terminated[i] == t
                assert infos["loss"][i] == info["loss"]
        assert terminated.all()
    finally:
        vec.close()
