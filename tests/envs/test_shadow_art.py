"""zg/ShadowArt-v0: targets, rewards, scaling, point lights, the visual hull, bad arguments, vector envs.

The contract every env keeps (checkers, determinism, pickling, bad actions, render) is in test_env_contract.py.
"""

import gymnasium as gym
import numpy as np
import pytest

import zg_envs  # noqa: F401
from zg_envs.render.shadow import axis_shadows
from zg_envs.shadow_art_v0 import ShadowArtEnv
from zg_envs.targets import glyph_mask


def test_default_targets_are_three_different_glyphs():
    env = ShadowArtEnv()
    assert env.n_screens == 3 and env.action_space.shape == (16 ** 3,)
    t = env.target_masks
    assert t.shape == (3, 16, 16)
    assert np.array_equal(t[0], glyph_mask("Z", 16))
    assert not np.array_equal(t[0], t[1]) and not np.array_equal(t[1], t[2])


@pytest.mark.parametrize("kwargs", [{"targets": "random"}, {"targets": "random", "light": "point"},
                                    {"targets": "random", "randomize_target": True, "n_screens": 2},
                                    {"targets": "random", "resolution": 24, "loss": "iou"}])
def test_hidden_target_sculpture_reaches_loss_zero(kwargs):
    env = ShadowArtEnv(grid=12, **kwargs)
    env.reset(seed=4)
    design = env.target_actions()
    assert design.shape == env.action_space.shape and set(np.unique(design)) <= {-1.0, 1.0}
    _, reward, terminated, truncated, info = env.step(design)
    assert terminated and not truncated
    assert info["loss"] == 0.0 and reward == 0.0 and np.all(info["loss_per_screen"] == 0.0)
    # and an empty design is far from it
    env.reset(seed=4)
    _, reward_empty, *_ = env.step(-np.ones(env.action_space.shape))
    assert reward_empty < -0.05


def test_reward_terms_and_loss_match_a_hand_count():
    k = 8
    env = ShadowArtEnv(grid=k, volume_weight=0.5, targets=("square", "disc", "glyph:T"))
    env.reset(seed=0)
    occ = np.zeros((k, k, k), dtype=bool)
    occ[2:6, 3:5, 1:7] = True
    action = np.where(occ.ravel(), 0.7, -0.2)
    obs, reward, terminated, _, info = env.step(action)
    shadows = np.stack(axis_shadows(occ))
    expected = np.mean(shadows != env.target_masks, axis=(1, 2))
    assert np.allclose(info["loss_per_screen"], expected)
    assert info["loss"] == pytest.approx(expected.mean())
    assert info["occupied_fraction"] == pytest.approx(occ.mean())
    assert info["reward_volume"] == pytest.approx(-0.5 * occ.mean())
    assert reward == pytest.approx(info["reward_loss"] + info["reward_volume"])
    # observation: downsampled shadows then targets (resolution 8 -> obs 8: the images themselves)
    assert np.array_equal(obs[:3 * 64].reshape(3, 8, 8), shadows.astype(np.float32))
    assert np.array_equal(obs[3 * 64:].reshape(3, 8, 8), env.target_masks.astype(np.float32))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(action)


def test_empty_and_full_grids():
    env = ShadowArtEnv(grid=8, targets="random")
    env.reset(seed=0)
    _, _, _, _, info = env.step(-np.ones(8 ** 3))
    # nothing cast: every target pixel is missed
    assert np.allclose(info["loss_per_screen"], env.target_masks.mean(axis=(1, 2)))
    env.reset()
    _, _, _, _, info = env.step(np.ones(8 ** 3))
    assert np.allclose(info["loss_per_screen"], 1.0 - env.target_masks.mean(axis=(1, 2)))  # everything cast


def test_randomized_targets_differ_between_resets_and_follow_the_seed():
    env = ShadowArtEnv(grid=8, targets="random", randomize_target=True)
    env.reset(seed=9)
    first, sculpture = env.target_masks, env.target_actions()
    env.reset()
    assert not np.array_equal(env.target_masks, first)
    env.reset(seed=9)
    assert np.array_equal(env.target_masks, first) and np.array_equal(env.target_actions(), sculpture)
    fixed = ShadowArtEnv(grid=8, targets="random")
    fixed.reset(seed=1)
    t1 = fixed.target_masks
    fixed.reset(seed=2)
    assert np.array_equal(fixed.target_masks, t1)


@pytest.mark.parametrize("grid", [32, 48])
def test_large_grids_match_a_hand_count(grid):
    env = ShadowArtEnv(grid=grid, volume_weight=0.2)
    env.reset(seed=0)
    action = np.random.default_rng(0).uniform(-1, 1, grid ** 3)
    _, reward, _, _, info = env.step(action)
    occ = (action > 0).reshape(grid, grid, grid)
    shadows = np.stack(axis_shadows(occ))
    assert np.array_equal(env.design_masks, shadows)
    loss = np.mean(shadows != env.target_masks, axis=(1, 2)).mean()
    assert info["loss"] == pytest.approx(loss) and info["occupied_fraction"] == pytest.approx(occ.mean())
    assert reward == pytest.approx(-loss - 0.2 * occ.mean())


def test_point_lights_magnify_the_shadow():
    k = 8
    occ = np.zeros((k, k, k), dtype=bool)
    occ[3:5, 3:5, 3:5] = True
    action = np.where(occ.ravel(), 1.0, -1.0)
    directional = ShadowArtEnv(grid=k, resolution=32, targets="random")
    point = ShadowArtEnv(grid=k, resolution=32, targets="random", light="point")
    for env in (directional, point):
        env.reset(seed=0)
        env.step(action)
    area_dir = directional.design_masks.sum(axis=(1, 2)) * (2.0 / 32) ** 2
    half = (5.0 + 2.0) / (5.0 - 1.0)
    area_point = point.design_masks.sum(axis=(1, 2)) * (2.0 * half / 32) ** 2
    assert np.allclose(area_dir, 0.5 ** 2)  # a 0.5 x 0.5 block, one pixel per 1/16
    assert np.all(area_point > area_dir)


@pytest.mark.parametrize("kwargs,match", [
    ({"grid": 2}, "grid"),
    ({"grid": 1000}, "grid"),
    ({"n_screens": 1}, "n_screens"),
    ({"n_screens": 4}, "n_screens"),
    ({"targets": ("glyph:A",)}, "targets"),
    ({"targets": ("glyph:A", "glyph:B"), "n_screens": 3}, "n_screens"),
    ({"targets": ("glyph:A", "blob")}, r"targets\[1\]"),
    ({"targets": ("glyph:A", "random")}, "random"),
    ({"targets": "unknown"}, "targets"),
    ({"targets": ("a.png", "glyph:B"), "randomize_target": True}, "randomize_target"),
    ({"light": "spot"}, "light"),
    ({"resolution": 4}, "resolution"),
    ({"obs_resolution": 0}, "obs_resolution"),
    ({"loss": "l2"}, "loss"),
    ({"volume_weight": -1}, "volume_weight"),
    ({"render_mode": "human"}, "render_mode"),
])
def test_bad_constructor_arguments_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ShadowArtEnv(**kwargs)


def test_unreadable_image_target_raises(tmp_path):
    path = tmp_path / "broken.png"
    path.write_text("nope")
    with pytest.raises(ValueError, match=r"targets\[0\]"):
        ShadowArtEnv(grid=8, targets=(str(path), "glyph:B"))


def test_async_vector_env_matches_serial_envs():
    vec = gym.vector.AsyncVectorEnv([lambda: gym.make("zg/ShadowArt-v0", grid=8, targets="random",
                                                      randomize_target=True)] * 2)
    serial = [ShadowArtEnv(grid=8, targets="random", randomize_target=True) for _ in range(2)]
    try:
        obs, _ = vec.reset(seed=[0, 1])
        assert np.array_equal(obs, np.stack([env.reset(seed=seed)[0] for env, seed in zip(serial, (0, 1))]))
        actions = np.random.default_rng(0).uniform(-1, 1, (2, 2, 8 ** 3)).astype(np.float32)
        for episode in range(2):
            obs, rewards, terminated, _, infos = vec.step(actions[episode])
            assert terminated.all()
            for i, env in enumerate(serial):
                _, r, _, _, info = env.step(actions[episode, i])
                assert rewards[i] == r and infos["loss"][i] == info["loss"]
            obs, *_ = vec.step(actions[episode])  # the autoreset step: a new episode, new random targets
            assert np.array_equal(obs, np.stack([env.reset()[0] for env in serial]))
    finally:
        vec.close()


def test_visual_hull_of_glyph_targets_casts_no_extra_shadow():
    """Carving the intersection of the three extruded targets: every shadow lies inside its target."""
    k = 16
    env = ShadowArtEnv(grid=k)
    env.reset(seed=0)
    t0, t1, t2 = env.target_masks
    # invert the documented screen orientations: screen 0 -> [iy, iz], screen 1 -> [ix, iz], screen 2 -> [ix, iy]
    hull = t0[::-1, ::-1].T[None, :, :] & t1[::-1, :].T[:, None, :] & t2[::-1, :].T[:, :, None]
    _, reward, _, _, info = env.step(np.where(hull.ravel(), 1.0, -1.0))
    assert np.all(env.design_masks <= env.target_masks)
    assert info["loss"] < 0.1 and reward > -0.1


@pytest.mark.parametrize(
    "kwargs",
    [{"targets": "random"}, {"targets": "random", "light": "point", "grid": 12},
     {"targets": "random", "resolution": 24}, {"targets": "random", "n_screens": 2, "resolution": 12}],
)
def test_visual_hull_solves_consistent_targets(kwargs):
    env = ShadowArtEnv(**kwargs)
    env.reset(seed=0)
    hull = env.visual_hull()
    assert hull.shape == env.action_space.shape and hull.dtype == np.float32 and set(np.unique(hull)) <= {-1.0, 1.0}
    assert np.all(hull[env.target_actions() > 0] > 0)  # the hidden sculpture is inside its visual hull
    _, _, _, _, info = env.step(hull)
    assert info["loss"] == 0.0


@pytest.mark.parametrize("kwargs", [{}, {"light": "point"}, {"n_screens": 2, "resolution": 20}])
def test_visual_hull_of_glyphs_never_shadows_outside_a_target(kwargs):
    env = ShadowArtEnv(**kwargs)
    env.reset(seed=0)
    hull = env.visual_hull()
    env.step(hull)
    assert not (env.design_masks & ~env.target_masks).any()
    assert 0.0 < (hull > 0).mean() < 0.5
    # adding any carved-away voxel back would shadow a pixel outside a target
    rng = np.random.default_rng(0)
    for index in rng.choice(np.flatnonzero(hull < 0), size=5, replace=False):
        env.reset()
        grown = hull.copy()
        grown[index] = 1.0
        env.step(grown)
        assert (env.design_masks & ~env.target_masks).any()


@pytest.mark.parametrize("kwargs", [{}, {"loss": "iou", "light": "point", "grid": 8, "n_screens": 2}])
def test_reset_info_is_the_empty_designs_info(kwargs):
    env = ShadowArtEnv(volume_weight=0.3, **kwargs)
    _, at_reset = env.reset(seed=0)
    _, reward, _, _, empty = env.step(-np.ones(env.action_space.shape))
    assert set(at_reset) == set(empty) - {"reward_loss", "reward_volume"}
    for key, value in at_reset.items():
        assert np.array_equal(value, empty[key]), key
    assert at_reset["occupied_fraction"] == 0.0 and reward == -at_reset["loss"] < 0.0
