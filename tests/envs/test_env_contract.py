"""The contract every registered zg env keeps, checked once for all of them (and their main variants).

Both env checkers, seeded determinism, pickling, bad actions, the episode's end, reset options, full info at
reset, reward terms that sum to the reward, the horizon, render. Env-specific behaviour is tested in each
env's own file.
"""

import copy
import inspect
import pickle
import re
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import zg_envs
from zg_envs.bullet.character_locomotion_v0 import CHARACTERS

# (env id, small and fast arguments); the first case of each id is its default-like one
CASES = [
    ("zg/ShadowCaster-v0", {"n_casters": 3}),
    ("zg/ShadowCaster-v0", {"n_casters": 2, "shape": "box", "obs_type": "image", "resolution": 40}),
    ("zg/ShadowCaster-v0", {"n_casters": 2, "target": "glyph:A", "randomize_target": True, "loss": "iou"}),
    ("zg/ShadowArt-v0", {"grid": 8, "volume_weight": 0.1}),
    ("zg/ShadowArt-v0", {"grid": 8, "light": "point", "resolution": 12, "obs_resolution": 6}),
    ("zg/ShadowArt-v0", {"grid": 6, "targets": "random", "randomize_target": True, "n_screens": 2}),
    ("zg/TreeGrowth-v0", {"generations": 3, "segment_penalty": 0.5}),
    ("zg/TreeGrowth-v0", {"generations": 2, "randomize_target": True, "resolution": 32}),
    ("zg/CharacterMimic-v0", {"episode_length": 6}),
    ("zg/CharacterMimic-v0", {"motion": "backflip", "episode_length": 6, "random_start": False}),
    ("zg/CharacterMimicOpenLoop-v0", {}),
    ("zg/CharacterMimicOpenLoop-v0", {"motion": "kick", "start_phase": 0.5}),
    *[("zg/CharacterLocomotion-v0", {"character": character}) for character in CHARACTERS],
]
IDS = [f"{env_id[3:-3]}-{','.join(f'{k}={v}' for k, v in kwargs.items())}" for env_id, kwargs in CASES]
# small pictures keep the render checks fast
RENDER_KWARGS = {"zg/TreeGrowth-v0": {"render_resolution": 64},
                 "zg/CharacterMimic-v0": {"render_width": 64, "render_height": 48},
                 "zg/CharacterMimicOpenLoop-v0": {"render_width": 64, "render_height": 48},
                 "zg/CharacterLocomotion-v0": {"render_width": 64, "render_height": 48}}
IMAGE_ENVS = ("zg/ShadowCaster-v0", "zg/ShadowArt-v0", "zg/TreeGrowth-v0")  # no early end: always `horizon` steps


def make(env_id, kwargs, render=False):
    extra = {"render_mode": "rgb_array", **RENDER_KWARGS.get(env_id, {})} if render else {}
    return gym.make(env_id, **kwargs, **extra)


def rollout(env, seed, steps, action_seed=0):
    """``steps`` random-action steps from ``reset(seed=seed)``, resetting (unseeded) after each episode end."""
    rng = np.random.default_rng(action_seed)
    obs, info = env.reset(seed=seed)
    out = [("reset", obs, info)]
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, env.action_space.shape))
        out.append(("step", obs, reward, terminated, truncated, info))
        if terminated or truncated:
            out.append(("reset",) + env.reset())
    return out


def assert_same(a, b):
    """Two rollouts are the same bit for bit: observations, rewards, flags and every info entry."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x[0] == y[0] and len(x) == len(y)
        for u, v in zip(x[1:], y[1:]):
            if isinstance(u, dict):
                assert u.keys() == v.keys() and all(np.array_equal(u[k], v[k]) for k in u), (u, v)
            else:
                assert np.array_equal(u, v), (u, v)


def steps_for(env):
    horizon = env.unwrapped.horizon
    return 12 if horizon is None else min(2 * horizon + 1, 14)  # crosses an episode end where it is short


def test_every_registered_id_is_covered():
    registered = {env_id for env_id in gym.registry if env_id.startswith("zg/")}
    assert registered == set(zg_envs.ENV_IDS) == {env_id for env_id, _ in CASES}


@pytest.mark.parametrize("env_id", zg_envs.ENV_IDS)
def test_render_mode_is_keyword_only(env_id):
    entry = gym.spec(env_id).entry_point
    module, name = entry.split(":")
    cls = getattr(__import__(module, fromlist=[name]), name)
    parameters = inspect.signature(cls.__init__).parameters
    assert parameters["render_mode"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["render_mode"].default is None


@pytest.mark.parametrize("env_id, kwargs", CASES, ids=IDS)
def test_both_checkers_pass_without_warnings(env_id, kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = make(env_id, kwargs, render=True)
        gym_check_env(env.unwrapped, skip_render_check=False)
        sb3_check_env(make(env_id, kwargs).unwrapped, warn=True)
    messages = [str(w.message) for w in caught]
    if env_id.startswith("zg/Character"):  # unbounded velocity observations are deliberate, as in MuJoCo's envs
        messages = [m for m in messages if not re.search("Box observation space (minimum|maximum) value", m)]
    assert messages == []


@pytest.mark.parametrize("env_id, kwargs", CASES, ids=IDS)
def test_same_seed_same_rollout_and_a_reset_leaves_no_trace(env_id, kwargs):
    a, b = make(env_id, kwargs), make(env_id, kwargs)
    steps = steps_for(a)
    first = rollout(a, 7, steps)
    assert_same(first, rollout(b, 7, steps))  # two envs
    rollout(a, 8, steps // 2 + 1, action_seed=1)  # another episode in between ...
    assert_same(first, rollout(a, 7, steps))  # ... leaves no trace
    a.close(), b.close()


@pytest.mark.parametrize("env_id, kwargs", CASES, ids=IDS)
def test_pickled_and_deep_copied_envs_give_the_same_episode(env_id, kwargs):
    env = make(env_id, kwargs)
    rollout(env, 1, 3)  # a used env: a physics client is connected, an episode is running
    clone, twin = pickle.loads(pickle.dumps(env)), copy.deepcopy(env)
    assert clone.unwrapped.spec.id == env_id
    steps = steps_for(env)
    expected = rollout(env, 5, steps)
    assert_same(rollout(clone, 5, steps), expected)
    assert_same(rollout(twin, 5, steps), expected)
    env.close(), clone.close(), twin.close()


@pytest.mark.parametrize("env_id, kwargs", CASES, ids=IDS)
def test_bad_actions_raise_and_leave_the_episode_untouched(env_id, kwargs):
    env, fresh = make(env_id, kwargs).unwrapped, make(env_id, kwargs).unwrapped
    env.reset(seed=0)
    fresh.reset(seed=0)
    shape = env.action_space.shape
    for bad in (np.nan, np.inf, -np.inf):
        action = np.zeros(shape)
        action.flat[-1] = bad
        with pytest.raises(ValueError, match="non-finite"):
            env.step(action)
    for wrong in ((shape[0] + 1,), (1,) + shape, ()):
        with pytest.raises(ValueError, match=r"action must have shape"):
            env.step(np.zeros(wrong))
    with pytest.raises(ValueError, match=r"action must have shape"):
        env.step(np.zeros(shape[0] - 1))
    zeros = np.zeros(shape, env.action_space.dtype)
    assert_same([("step",) + env.step(zeros)], [("step",) + fresh.step(zeros)])  # nothing happened before
    env.close(), fresh.close()


@pytest.mark.parametrize("env_id, kwargs", CASES, ids=IDS)
def test_out_of_box_actions_act_like_clipped_ones(env_id, kwargs):
    wild, clipped = make(env_id, kwargs).unwrapped, make(env_id, kwargs).unwrapped
    wild.reset(seed=0)
    clipped.reset(seed=0)
    big = 3.0 * np.random.default_rng(0).uniform(-1, 1, wild.action_space.shape)
    assert np.abs(big).max() > 1.0
    assert_same([("step",) + wild.step(big)], [("step",) + clipped.step(np.clip(big, -1.0, 1.0))])
    wild.close(), clipped.close()


# The ant and the half cheetah do not fall within a few hundred random steps and have no limit of their
# own; the end-of-episode guard is the base class's, shared by every character, and runs for the others.
ENDING = [(case, name) for case, name in zip(CASES, IDS) if case[1].get("character") not in ("ant", "half_cheetah")]


@pytest.mark.parametrize("env_id, kwargs", [c for c, _ in ENDING], ids=[n for _, n in ENDING])
def test_step_before_reset_and_after_the_end_raises(env_id, kwargs):
    env = make(env_id, kwargs).unwrapped  # no TimeLimit: the env's own end
    zeros = np.zeros(env.action_space.shape)
    with pytest.raises(RuntimeError, match=r"reset\(\)"):
        env.step(zeros)  # before the first reset
    rng = np.random.default_rng(0)
    for attempt in range(2):  # a reset starts a new episode that steps normally and ends again
        env.reset(seed=attempt)
        for step in range(1, 301):
            _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, env.action_space.shape))
            if terminated or truncated:
                break
        assert terminated or truncated, "the episode did not end"
        horizon = env.horizon
        assert horizon is None or step <= horizon
        if env_id in IMAGE_ENVS:
            assert terminated and step == horizon
        with pytest.raises(RuntimeError, match=r"ended.*reset\(\)"):
            env.step(zeros)
    env.close()


@pytest.mark.parametrize("env_id", zg_envs.ENV_IDS)
def test_unknown_reset_options_raise_and_name_the_allowed_ones(env_id):
    kwargs = next(k for i, k in CASES if i == env_id)
    env = make(env_id, kwargs).unwrapped
    allowed = r"\['phase'\]" if "Mimic" in env_id else "takes no reset options"
    with pytest.raises(ValueError, match=rf"unknown reset option\(s\) \['phse'\]; .*{allowed}"):
        env.reset(seed=0, options={"phse": 0.5})
    with pytest.raises(ValueError, match="must be a dict or None"):
        env.reset(options=[("phase", 0.5)])
    env.reset(seed=0, options={})  # an empty dict and None are fine
    env.reset(seed=0, options=None)
    env.close()


@pytest.mark.parametrize("env_id, kwargs", CASES, ids=IDS)
def test_full_info_at_reset_and_reward_terms_that_sum_to_the_reward(env_id, kwargs):
    env = make(env_id, kwargs)
    seen_terms = False
    for record in rollout(env, 3, steps_for(env)):
        if record[0] == "reset":
            reset_info = record[2]
            assert reset_info, "reset must return the env's info, not an empty dict"
            assert not any(k.startswith("reward_") for k in reset_info)
            continue
        _, _, reward, _, _, info = record
        assert set(reset_info) <= set(info), set(reset_info) - set(info)  # the same keys as a step ...
        terms = [v for k, v in info.items() if k.startswith("reward_")]  # ... plus the reward terms
        assert terms and sum(terms) == pytest.approx(reward, rel=1e-12, abs=1e-12)
        seen_terms = seen_terms or any(t != 0.0 for t in terms)
    assert seen_terms


@pytest.mark.parametrize("env_id, kwargs", CASES, ids=IDS)
def test_horizon(env_id, kwargs):
    env = make(env_id, kwargs)
    horizon = env.unwrapped.horizon
    expected = {"zg/ShadowCaster-v0": kwargs.get("n_casters"), "zg/ShadowArt-v0": 1,
                "zg/TreeGrowth-v0": kwargs.get("generations"), "zg/CharacterMimic-v0": kwargs.get("episode_length"),
                "zg/CharacterMimicOpenLoop-v0": {"kick": 23}.get(kwargs.get("motion"), 38),  # the rest of the clip
                "zg/CharacterLocomotion-v0": None}[env_id]
    assert horizon == expected
    assert env.spec.max_episode_steps == (1000 if horizon is None else None)  # a TimeLimit only where none is built in
    env.close()


@pytest.mark.parametrize("env_id, kwargs", CASES, ids=IDS)
def test_render_returns_an_rgb_picture_of_the_current_state(env_id, kwargs):
    env = make(env_id, kwargs, render=True)
    env.reset(seed=0)
    first = env.render()
    env.step(np.ones(env.action_space.shape, env.action_space.dtype))
    second = env.render()
    for frame in (first, second):
        assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8
        assert frame.ndim == 3 and frame.shape[2] == 3 and frame.shape[0] >= 16 and frame.shape[1] >= 16
        assert frame.std() > 1.0  # a picture, not a blank
    assert not np.array_equal(first, second)  # it shows the state: a step changes it
    env.close()
