"""The contract every zg env keeps: no step after the episode's end, no unknown reset options."""

import gymnasium as gym
import numpy as np
import pytest

import zg_envs  # noqa: F401  (registers the zg namespace)

# small, fast settings; the env ends the episode itself within a few steps
ENVS = {
    "zg/ShadowCaster-v0": {"n_casters": 2},
    "zg/ShadowArt-v0": {"grid": 4},
    "zg/TreeGrowth-v0": {"generations": 2},
    "zg/CharacterMimic-v0": {"episode_length": 3},  # truncated by the env itself
    "zg/CharacterLocomotion-v0": {"power": 50.0},  # strong torques: the hopper falls (terminated)
}


def _run_to_end(env, rng):
    env.reset(seed=0)
    for _ in range(200):
        _, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, env.action_space.shape))
        if terminated or truncated:
            return
    pytest.fail("the episode did not end")


@pytest.mark.parametrize("env_id", list(ENVS))
def test_step_after_the_episode_ended_raises(env_id):
    env = gym.make(env_id, disable_env_checker=True, **ENVS[env_id]).unwrapped  # no TimeLimit on top
    rng = np.random.default_rng(0)
    with pytest.raises(RuntimeError, match=r"reset\(\)"):
        env.step(env.action_space.sample())  # before the first reset
    _run_to_end(env, rng)
    with pytest.raises(RuntimeError, match=r"ended.*reset\(\)"):
        env.step(np.zeros(env.action_space.shape))
    _run_to_end(env, rng)  # a reset starts a new episode that steps normally
    env.close()


@pytest.mark.parametrize("env_id", list(ENVS))
def test_unknown_reset_options_raise_and_name_the_allowed_ones(env_id):
    env = gym.make(env_id, disable_env_checker=True, **ENVS[env_id]).unwrapped
    allowed = r"\['phase'\]" if "Mimic" in env_id else "takes no reset options"
    with pytest.raises(ValueError, match=rf"unknown reset option\(s\) \['phse'\]; .*{allowed}"):
        env.reset(seed=0, options={"phse": 0.5})
    with pytest.raises(ValueError, match="must be a dict or None"):
        env.reset(options=[("phase", 0.5)])
    env.reset(seed=0, options={})  # an empty dict and None are fine
    env.reset(seed=0, options=None)
    env.close()


def test_mimic_phase_option_still_works():
    env = gym.make("zg/CharacterMimic-v0", disable_env_checker=True).unwrapped
    _, info = env.reset(options={"phase": 0.25})
    assert info["phase"] == pytest.approx(0.25)
    env.close()
