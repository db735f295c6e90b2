"""zg/ShadowArt-v0: API checks, determinism, targets, rewards, scaling, bad input, vector envs, PPO smoke run."""

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import zg_envs  # noqa: F401
from zg_envs.render.shadow import axis_shadows
from zg_envs.shadow_art_v0 import ShadowArtEnv
from zg_envs.targets import glyph_mask

VARIANTS = [
    {},
    {"grid": 8, "n_screens": 2},
    {"grid": 8, "targets": "random", "loss": "iou"},
    {"grid": 8, "light": "point", "resolution": 12, "obs_resolution": 6},
    {"grid": 8, "randomize_target": True, "volume_weight": 0.1},
    {"grid": 10, "resolution": 16, "targets": ("glyph:A", "disc")},
]


@pytest.mark.parametrize("kwargs", VARIANTS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "default")
def test_env_checkers_pass_without_warnings(kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gym_check_env(gym.make("zg/ShadowArt-v0", **kwargs).unwrapped, skip_render_check=True)
        sb3_check_env(ShadowArtEnv(**kwargs), warn=True)
    assert [str(w.message) for w in caught] == []


def test_make_without_import_and_render_picture():
    env = gym.make("zg_envs:zg/ShadowArt-v0", render_mode="rgb_array")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3 and frame.shape[1] > frame.shape[0]
    with pytest.warns(UserWarning, match="render_mode"):
        assert ShadowArtEnv(grid=8).render() is None


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


def test_seeded_rollouts_are_identical():
    actions = np.random.default_rng(0).uniform(-1, 1, size=(4, 8 ** 3)).astype(np.float32)
    results = []
    for _ in range(2):
        env = ShadowArtEnv(grid=8, targets="random", randomize_target=True)
        out = [env.reset(seed=9)[0]]
        for a in actions:
            obs, reward, *_ = env.step(a)
            out += [obs, reward, env.reset()[0]]
        results.append(out)
    for x, y in zip(*results):
        assert np.array_equal(x, y)
    # randomised targets differ between resets
    assert not np.array_equal(results[0][0], results[0][3])


@pytest.mark.parametrize("grid", [32, 48])
def test_large_grids_work(grid):
    env = ShadowArtEnv(grid=grid)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.random.default_rng(0).uniform(-1, 1, grid ** 3))
    assert env.action_space.shape == (grid ** 3,) and -1.0 <= reward <= 0.0 and 0.0 < info["occupied_fraction"] < 1.0


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


def test_out_of_box_actions_are_clipped_and_non_finite_raise():
    env = ShadowArtEnv(grid=4)
    env.reset(seed=0)
    a = np.random.default_rng(0).uniform(-1, 1, 64)
    _, r1, *_ = env.step(a)
    env.reset()
    _, r2, *_ = env.step(a * 50.0)
    assert r1 == r2
    env.reset()
    a[5] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        env.step(a)


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


def test_pickles_and_runs_in_async_vector_env():
    env = ShadowArtEnv(grid=8, targets="random")
    clone = pickle.loads(pickle.dumps(env))
    assert np.array_equal(clone.target_actions(), env.target_actions())
    vec = gym.vector.AsyncVectorEnv([lambda: gym.make("zg/ShadowArt-v0", grid=8)] * 2)
    try:
        obs, _ = vec.reset(seed=[0, 1])
        for _ in range(3):
            obs, rewards, terminated, truncated, infos = vec.step(vec.action_space.sample())
        assert obs.shape == (2,) + env.observation_space.shape and np.all(rewards <= 0.0) and "loss" in infos
    finally:
        vec.close()


def test_ppo_short_run_completes():
    from stable_baselines3 import PPO

    env = gym.make("zg/ShadowArt-v0", grid=6, resolution=8, obs_resolution=4, randomize_target=True)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    action, _ = model.predict(env.reset(seed=0)[0], deterministic=True)
    assert action.shape == (6 ** 3,)


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
