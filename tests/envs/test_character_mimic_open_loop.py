"""zg/CharacterMimicOpenLoop-v0: a fixed start, the segment's horizon, falls end early, max_return, open-loop knots.

The checkers, seeded determinism, pickling and render are in test_env_contract.py, which runs this id too.
"""

import gymnasium as gym
import numpy as np
import pytest

import zg_envs  # noqa: F401  (registers the zg namespace)
from zg_agent.config import BLACK_BOX_ALGOS, load_config
from zg_agent.envs import episode_horizon
from zg_agent.rollout.objective import EpisodeObjective
from zg_envs.bullet.character_mimic_open_loop_v0 import CharacterMimicOpenLoopEnv
from zg_envs.bullet.mimic_reward import TERMS

ENV_ID = "zg/CharacterMimicOpenLoop-v0"


def play(env, actions, seed=0):
    """Return, steps, the last flags and info of one episode of ``actions`` (the last one held)."""
    env.reset(seed=seed)
    total, steps = 0.0, 0
    while True:
        _, reward, terminated, truncated, info = env.step(actions[min(steps, len(actions) - 1)])
        total += reward
        steps += 1
        if terminated or truncated:
            return total, steps, terminated, truncated, info


def test_every_episode_starts_from_the_same_state_whatever_the_seed():
    env = CharacterMimicOpenLoopEnv()
    first, info = env.reset(seed=0)
    assert info == {"time": 0.0, "phase": 0.0, "progress": 0.0, "root_deviation": 0.0, "tracking_lost": False,
                    "too_low": False, "tilt": 0.0, "tilted": False}
    again, _ = env.reset(seed=123)
    np.testing.assert_array_equal(first, again)
    actions = np.random.default_rng(0).uniform(-0.3, 0.3, (env.horizon, 28))
    assert play(env, actions, seed=1) == play(env, actions, seed=2)
    walk = CharacterMimicOpenLoopEnv(start_phase=0.5)
    assert walk.reset(seed=0)[1]["phase"] == pytest.approx(0.5)
    env.close(), walk.close()


def test_the_horizon_is_the_segment_and_a_fall_ends_the_episode_early():
    env = CharacterMimicOpenLoopEnv()  # one walk cycle
    assert env.horizon == round(env.clip.duration * 30) == 38
    assert CharacterMimicOpenLoopEnv(cycles=2).horizon == 2 * 38
    total, steps, terminated, truncated, info = play(env, np.zeros((1, 28)))
    # pure tracking of the walk pitches forward part-way: the episode ends there, with only the steps it lasted
    assert terminated and not truncated and steps == 23 < env.horizon and info["tilted"] and info["tilt"] > 30
    assert not info["tracking_lost"] and not info["too_low"] and info["progress"] == pytest.approx(23 / 38)
    assert total == pytest.approx(15.909, abs=1e-3)
    # without the tilt rule it goes on until its pelvis is too low, at step 28
    sinks = CharacterMimicOpenLoopEnv(max_tilt=None)
    total, steps, terminated, truncated, info = play(sinks, np.zeros((1, 28)))
    assert terminated and steps == 28 and info["too_low"] and not info["tilted"] and info["tilt"] > 30
    assert total == pytest.approx(18.598, abs=1e-3)
    # without the height rule too it dives on, and is left behind by the clip at step 31
    dives = CharacterMimicOpenLoopEnv(min_height_ratio=None, max_tilt=None)
    total, steps, terminated, truncated, info = play(dives, np.zeros((1, 28)))
    assert terminated and steps == 31 and info["tracking_lost"] and not info["too_low"]
    assert info["root_deviation"] > 0.5 and total == pytest.approx(19.977, abs=1e-3)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros(28))  # the episode is over
    # without the deviation limit it falls later, on a body part that is not a foot
    falls = CharacterMimicOpenLoopEnv(max_root_deviation=None, min_height_ratio=None, max_tilt=None)
    total, steps, terminated, truncated, info = play(falls, np.zeros((1, 28)))
    assert terminated and steps == 34 and not info["tracking_lost"] and falls._fallen()
    env.close(), sinks.close(), dives.close(), falls.close()


def test_the_kick_is_one_clip_and_pure_tracking_is_left_behind_early():
    env = CharacterMimicOpenLoopEnv(motion="kick")  # does not loop: one clip
    assert env.horizon == round(env.clip.duration * 30) == 46 and env.max_return == pytest.approx(47.0)
    total, steps, terminated, truncated, info = play(env, np.zeros((1, 28)))
    assert terminated and steps == 16 and info["tracking_lost"] and info["progress"] == pytest.approx(16 / 46)
    assert total < 0.2 * env.max_return
    env.close()


def test_a_completed_segment_truncates_at_the_horizon_with_full_progress():
    # pure tracking lands the whole jump, drifting more than 0.5 m from the clip's root and pitching more than 30
    # degrees from its pelvis on the way
    env = CharacterMimicOpenLoopEnv(motion="jump", max_root_deviation=None, min_height_ratio=None, max_tilt=None)
    total, steps, terminated, truncated, info = play(env, np.zeros((1, 28)))
    assert truncated and not terminated and steps == env.horizon == 53 and info["progress"] == 1.0
    assert 0.0 < total < env.max_return
    # the completing step earns the bonus, a term of its own; without it the return is the tracking alone
    assert info["reward_completion"] == env.completion_bonus == 1.0
    plain = CharacterMimicOpenLoopEnv(motion="jump", max_root_deviation=None, min_height_ratio=None, max_tilt=None,
                                      completion_bonus=0.0)
    total_plain, *_, info_plain = play(plain, np.zeros((1, 28)))
    assert total == pytest.approx(total_plain + 1.0) and info_plain["reward_completion"] == 0.0
    # an episode that ends early earns none
    lost = CharacterMimicOpenLoopEnv()
    *_, terminated, _, info = play(lost, np.zeros((1, 28)))
    assert terminated and info["reward_completion"] == 0.0
    env.close(), plain.close(), lost.close()


def test_max_return_is_every_step_tracked_perfectly():
    env = CharacterMimicOpenLoopEnv()
    assert env.max_return == pytest.approx(39.0) and env.max_return == env.horizon * env.max_reward + 1.0
    # a step's reward is the weighted sum of the similarities, each 1 exactly on the reference
    weights = dict(pose_weight=2.0, velocity_weight=0.5, end_effector_weight=0.25, root_weight=1.0, com_weight=0.5)
    heavy = CharacterMimicOpenLoopEnv(motion="walk", completion_bonus=2.0, **weights)
    assert heavy.max_return == pytest.approx(38 * 4.25 + 2.0)
    heavy.reset(seed=0)
    _, reward, _, _, info = heavy.step(np.zeros(28))
    perfect = sum(weights[f"{term}_weight"] * 1.0 for term in TERMS)
    assert reward == pytest.approx(sum(weights[f"{t}_weight"] * info[f"{t}_similarity"] for t in TERMS))
    assert reward < perfect == pytest.approx(heavy.max_reward)
    env.close(), heavy.close()


def test_bad_arguments_name_the_argument_and_what_is_allowed():
    with pytest.raises(ValueError, match=r"cycles must be 1 for the clip 'kick', which does not loop.*got 2"):
        CharacterMimicOpenLoopEnv(motion="kick", cycles=2)
    with pytest.raises(ValueError, match=r"cycles must be an integer >= 1, got 0"):
        CharacterMimicOpenLoopEnv(cycles=0)
    for bad in (1.0, -0.1, float("nan"), "0.5"):
        with pytest.raises(ValueError, match=r"start_phase must be a finite number in \[0, 1\), got"):
            CharacterMimicOpenLoopEnv(start_phase=bad)
    with pytest.raises(ValueError, match=r"max_root_deviation must be a finite number > 0.0, got 0"):
        CharacterMimicOpenLoopEnv(max_root_deviation=0)
    with pytest.raises(ValueError, match=r"min_height_ratio must be a finite number > 0.0, got 0"):
        CharacterMimicOpenLoopEnv(min_height_ratio=0)
    for bad in (0, -5, 181, float("nan")):
        with pytest.raises(ValueError, match=r"max_tilt must be a finite number in \(0.0, 180.0\], got"):
            CharacterMimicOpenLoopEnv(max_tilt=bad)
    with pytest.raises(ValueError, match=r"completion_bonus must be a finite number >= 0.0, got -1"):
        CharacterMimicOpenLoopEnv(completion_bonus=-1)


@pytest.mark.parametrize("algo", BLACK_BOX_ALGOS)
def test_shipped_configs_plan_open_loop_knots_over_the_env_horizon(algo):
    cfg = load_config(algo, ENV_ID)
    env = gym.make(ENV_ID, **cfg.env_kwargs)
    assert cfg.policy == "open_loop" and cfg.policy_options["knots"] >= 2
    # the plan covers the whole segment: the horizon the objective uses is the env's own
    assert episode_horizon(env, cfg.max_episode_steps) == env.unwrapped.horizon == 38
    env.close()


def test_open_loop_knots_reach_the_env():
    cfg = load_config("cma", ENV_ID)
    objective = EpisodeObjective(ENV_ID, {}, "open_loop", cfg.policy_options, max_episode_steps=cfg.max_episode_steps)
    policy = objective.policy
    assert policy.num_params == cfg.policy_options["knots"] * 28
    knots = cfg.policy_options["knots"]
    # knots sit evenly over steps 0-37; pure tracking pitches over after step 22, before the last knot acts
    assert np.linspace(0, objective.horizon - 1, knots)[-2] > 22
    second, last = np.zeros(policy.num_params), np.zeros(policy.num_params)
    second[1 * 28 + 6] = last[(knots - 1) * 28 + 6] = 1.5  # one spherical joint's offset at one knot
    env = CharacterMimicOpenLoopEnv()
    returns = []
    for params in (np.zeros(policy.num_params), second, last):
        returns.append(play(env, policy.actions(params).astype(np.float32))[0])  # the env's action dtype
        assert objective.rollout(params, seed=0)[0] == returns[-1]
    assert returns[1] != returns[0] == returns[2]  # a knot acts around its own time only
    objective.close(), env.close()
