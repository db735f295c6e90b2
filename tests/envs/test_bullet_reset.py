"""Exact PyBullet resets: an episode is bit-identical on a fresh env and after any other episode."""

import numpy as np
import pytest

from zg_envs.bullet.character_locomotion_v0 import CHARACTERS, CharacterLocomotionEnv
from zg_envs.bullet.character_mimic_v0 import CharacterMimicEnv


def _policy_episode(env, seed, weights, steps):
    """A seeded episode under a linear feedback policy: any trace in an observation changes the actions."""
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(np.tanh(weights @ obs))
        out.append(np.append(obs, [reward, terminated, truncated]))
        if terminated or truncated:
            break
    return np.concatenate(out)


def _other_episodes(env, rng, count, max_steps):
    """Episodes of random lengths and random actions, some ending on a fall, some cut short."""
    for _ in range(count):
        env.reset(seed=int(rng.integers(1000)))
        for _ in range(int(rng.integers(1, max_steps + 1))):
            _, _, terminated, truncated, _ = env.step(rng.uniform(-1.5, 1.5, env.action_space.shape))
            if terminated or truncated:
                break


def _assert_exact_after_others(make, steps, others, max_other_steps):
    env = make()
    rng = np.random.default_rng(1)
    weights = rng.normal(0.0, 0.3, (env.action_space.shape[0], env.observation_space.shape[0]))
    fresh = _policy_episode(env, 7, weights, steps)
    for round_ in range(others):
        _other_episodes(env, rng, 2, max_other_steps)
        again = _policy_episode(env, 7, weights, steps)
        assert again.shape == fresh.shape, f"round {round_}: episode length changed after other episodes"
        np.testing.assert_array_equal(again, fresh, err_msg=f"round {round_}: the reset left a trace")
    env.close()
    other = make()
    np.testing.assert_array_equal(_policy_episode(other, 7, weights, steps), fresh)
    other.close()


@pytest.mark.parametrize("character", list(CHARACTERS))
def test_locomotion_episode_is_identical_after_other_episodes(character):
    _assert_exact_after_others(lambda: CharacterLocomotionEnv(character=character), 40, 6, 40)


@pytest.mark.parametrize("motion", ["walk", "jump"])
def test_mimic_episode_is_identical_after_other_episodes(motion):
    _assert_exact_after_others(lambda: CharacterMimicEnv(motion=motion, episode_length=12), 12, 3, 12)


def test_reset_observation_shows_no_contact_left_by_the_last_episode():
    env = CharacterLocomotionEnv(character="hopper")
    env.reset(seed=0)
    for _ in range(200):  # until the foot is on the ground at the end of an episode
        obs, _, terminated, _, _ = env.step(np.zeros(3))
        if obs[-1] == 1.0 or terminated:
            break
    assert obs[-1] == 1.0
    obs, _ = env.reset(seed=0)  # the character starts in the air
    assert obs[-1] == 0.0 and env.client.getContactPoints() == ()
    env.close()
