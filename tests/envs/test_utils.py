"""Shared validation helpers of zg_envs.utils, and that every env uses them the same way."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import zg_envs
from zg_envs.utils import check_action, check_bool, check_float

BOX = spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)


# ------------------------------------------------------------------ check_action
def test_check_action_accepts_the_exact_shape_and_clips():
    out = check_action([0.5, -3.0, 2.0, 0.0], BOX)
    assert out.shape == (4,) and out.dtype == np.float64
    np.testing.assert_array_equal(out, [0.5, -1.0, 1.0, 0.0])


@pytest.mark.parametrize("shape", [(2, 2), (1, 4), (4, 1), (3,), (5,), ()])
def test_check_action_rejects_any_other_shape_naming_both(shape):
    action = np.zeros(shape)
    with pytest.raises(ValueError) as err:
        check_action(action, BOX)
    message = str(err.value)
    assert "(4,)" in message and str(shape) in message


def test_check_action_keeps_2d_boxes_exact():
    box = spaces.Box(0.0, 1.0, shape=(2, 3), dtype=np.float32)
    assert check_action(np.full((2, 3), 0.5), box).shape == (2, 3)
    with pytest.raises(ValueError, match=r"must have shape \(2, 3\), got an action of shape \(6,\)"):
        check_action(np.zeros(6), box)
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        check_action(np.zeros((3, 2)), box)


def test_check_action_rejects_non_finite_values():
    with pytest.raises(ValueError, match="non-finite"):
        check_action([0.0, np.nan, 0.0, 0.0], BOX)


def test_env_step_rejects_a_reshaped_action():
    env = gym.make("zg/TreeGrowth-v0")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"must have shape \(6,\), got an action of shape \(2, 3\)"):
        env.step(np.zeros((2, 3), dtype=np.float32))


# ------------------------------------------------------------------ check_float / check_bool
def test_check_float_accepts_numbers_in_range():
    assert check_float("w", 2) == 2.0 and isinstance(check_float("w", np.float32(0.5)), float)
    assert check_float("w", 0.0, minimum=0.0) == 0.0
    assert check_float("w", 1.0, minimum=0.0, maximum=1.0) == 1.0
    assert check_float("w", -7.5) == -7.5


@pytest.mark.parametrize(
    "value, kwargs, message",
    [
        (float("nan"), {}, r"w must be a finite number, got nan"),
        (float("inf"), {"minimum": 0.0}, r"w must be a finite number >= 0.0, got inf"),
        (True, {}, r"w must be a finite number, got True"),
        ("1", {}, r"w must be a finite number, got '1'"),
        (-0.1, {"minimum": 0.0}, r"w must be a finite number >= 0.0, got -0.1"),
        (0.0, {"minimum": 0.0, "strict": True}, r"w must be a finite number > 0.0, got 0.0"),
        (1.5, {"minimum": 0.0, "maximum": 1.0}, r"w must be a finite number in \[0.0, 1.0\], got 1.5"),
        (0, {"minimum": 0, "maximum": 1, "strict": True}, r"w must be a finite number in \(0, 1\], got 0"),
        (3.0, {"maximum": 2.0}, r"w must be a finite number <= 2.0, got 3.0"),
    ],
)
def test_check_float_errors_name_argument_value_and_range(value, kwargs, message):
    with pytest.raises(ValueError, match=message):
        check_float("w", value, **kwargs)


def test_check_bool():
    assert check_bool("flag", True) is True and check_bool("flag", np.bool_(False)) is False
    for bad in (1, 0, "yes", None):
        with pytest.raises(ValueError, match=rf"flag must be True or False, got {bad!r}"):
            check_bool("flag", bad)


# ------------------------------------------------------------------ the same validators in every env
@pytest.mark.parametrize(
    "env_id, kwargs, message",
    [
        ("zg/ShadowCaster-v0", {"randomize_target": 1}, r"randomize_target must be True or False, got 1"),
        ("zg/ShadowArt-v0", {"randomize_target": "yes"}, r"randomize_target must be True or False, got 'yes'"),
        ("zg/TreeGrowth-v0", {"randomize_target": None}, r"randomize_target must be True or False, got None"),
        ("zg/CharacterMimic-v0", {"random_start": 0}, r"random_start must be True or False, got 0"),
        ("zg/ShadowCaster-v0", {"reward_scale": -1.0}, r"reward_scale must be a finite number >= 0.0, got -1.0"),
        ("zg/ShadowArt-v0", {"volume_weight": float("nan")}, r"volume_weight must be a finite number >= 0.0"),
        ("zg/TreeGrowth-v0", {"iou_weight": "1"}, r"iou_weight must be a finite number, got '1'"),
        ("zg/CharacterMimic-v0", {"pose_weight": -1}, r"pose_weight must be a finite number >= 0.0, got -1"),
        ("zg/CharacterMimic-v0", {"spherical_action_scale": 0.0},
         r"spherical_action_scale must be a finite number > 0.0, got 0.0"),
        ("zg/CharacterLocomotion-v0", {"power": 0}, r"power must be a finite number > 0.0, got 0"),
        ("zg/CharacterLocomotion-v0", {"energy_weight": True}, r"energy_weight must be a finite number >= 0.0"),
    ],
)
def test_envs_share_the_validators(env_id, kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make(env_id, **kwargs)


@pytest.mark.parametrize("env_id", ["zg/CharacterMimic-v0", "zg/CharacterLocomotion-v0"])
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"control_frequency": 0}, r"control_frequency must be an integer >= 1, got 0"),
        ({"sim_frequency": 240.0}, r"sim_frequency must be an integer >= 1, got 240.0"),
        ({"control_frequency": 7}, r"sim_frequency must be a multiple of control_frequency"),
        ({"solver_iterations": 0}, r"solver_iterations must be an integer >= 1, got 0"),
        ({"render_width": 8}, r"render_width must be an integer in \[16, 4096\], got 8"),
    ],
)
def test_bullet_envs_validate_timing_in_the_base_class(env_id, kwargs, message):
    with pytest.raises(ValueError, match=message):
        gym.make(env_id, **kwargs)


@pytest.mark.parametrize("env_id, control", [("zg/CharacterMimic-v0", 30), ("zg/CharacterLocomotion-v0", 60)])
def test_bullet_timing_attributes(env_id, control):
    env = gym.make(env_id, control_frequency=control // 2, sim_frequency=240).unwrapped
    assert env.control_frequency == control // 2 and env.sim_frequency == 240
    assert env.frame_skip == 240 // (control // 2) and env.dt == pytest.approx(2.0 / control)
    assert env.metadata["render_fps"] == control // 2
    env.close()


# ------------------------------------------------------------------ render() without a render mode
@pytest.mark.parametrize("env_id", zg_envs.ENV_IDS)
def test_render_without_render_mode_warns_and_returns_none(env_id):
    env = gym.make(env_id, disable_env_checker=True).unwrapped
    env.reset(seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert env.render() is None
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 1 and "render() called without a render_mode" in messages[0], messages
    assert caught[0].filename == __file__  # the warning points at the caller of render()
    env.close()


def test_renamed_accessors_keep_their_old_names_with_a_deprecation_warning():
    from zg_envs.shadow_art_v0 import ShadowArtEnv
    from zg_envs.shadow_caster_v0 import ShadowCasterEnv
    from zg_envs.tree_growth_v0 import TreeGrowthEnv

    caster, art, tree = ShadowCasterEnv(n_casters=2), ShadowArtEnv(grid=4), TreeGrowthEnv(generations=1)
    for env in (caster, art, tree):
        env.reset(seed=0)
        env.step(np.ones(env.action_space.shape))
    pairs = [(caster, "target", "target_mask"), (caster, "shadow", "design_mask"), (art, "targets", "target_masks"),
             (art, "shadows", "design_masks"), (tree, "silhouette", "design_mask")]
    for env, old, new in pairs:
        with pytest.warns(DeprecationWarning, match=rf"{type(env).__name__}\.{old} is deprecated; use \.{new}"):
            value = getattr(env, old)
        assert np.array_equal(value, getattr(env, new)) and value.any()
