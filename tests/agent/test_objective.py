"""Episode objective: losses, common random numbers, env-step counting, observation statistics, the horizon,
NaN and bad-input errors (the backends: test_backends.py)."""

import sys

import gymnasium as gym
import numpy as np
import pytest

import toy_envs  # noqa: F401 - registers zgtest/Toy-v0, zgtest/ToyLimited-v0 and Hanging-v0
from zg_agent.objective import EpisodeObjective, _EnvConfig, make_backend
from zg_agent.policies import make_policy


def _thetas(obj, n, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return obj.initial_params() + scale * rng.normal(size=(n, obj.num_params))


# ------------------------------------------------------------------------------------------ serial
def test_losses_are_minus_mean_returns_and_match_a_manual_rollout():
    with EpisodeObjective("Pendulum-v1", policy_kind="open_loop", policy_options={"knots": 4},
                          max_episode_steps=40) as obj:
        assert obj.horizon == 40 and obj.num_params == 4
        thetas = _thetas(obj, 3)
        res = obj.evaluate(thetas, [11, 12])
        assert res.returns.shape == (3, 2) and res.lengths.shape == (3, 2)
        np.testing.assert_array_equal(res.lengths, 40)
        assert res.env_steps == 3 * 2 * 40 and obj.total_env_steps == 240
        np.testing.assert_allclose(res.losses, -res.returns.mean(axis=1))
        assert res.obs_stats is None
        # the same episode by hand
        pol = make_policy("open_loop", obj.observation_space, obj.action_space, 40, knots=4)
        env = gym.make("Pendulum-v1", max_episode_steps=40)
        obs, _ = env.reset(seed=12)
        total, ctrl = 0.0, pol.controller(thetas[1])
        for t in range(40):
            obs, r, term, trunc, _ = env.step(ctrl(obs, t))
            total += float(r)
        assert trunc and total == res.returns[1, 1]
        env.close()


def test_common_random_numbers_and_reproducibility():
    with EpisodeObjective("Pendulum-v1", policy_kind="linear", max_episode_steps=30) as obj:
        theta = _thetas(obj, 1)[0]
        res = obj.evaluate(np.stack([theta, theta, theta + 0.5]), [3, 4, 5])
        # identical candidates see identical episodes
        np.testing.assert_array_equal(res.returns[0], res.returns[1])
        # different reset seeds give different starting states
        assert len(set(res.returns[0].tolist())) == 3
        again = obj.evaluate(np.stack([theta]), [3, 4, 5])
        np.testing.assert_array_equal(again.returns[0], res.returns[0])
        # rollout() runs the same episode in-process
        ret, length, frames = obj.rollout(theta, 4)
        assert ret == res.returns[0, 1] and length == 30 and frames is None


def test_episode_seeds_are_deterministic_per_iteration():
    obj = EpisodeObjective("Pendulum-v1", policy_kind="linear", episodes=3, seed=5)
    s0 = obj.episode_seeds(0)
    assert len(s0) == 3 and s0 == obj.episode_seeds(0)
    assert s0 != obj.episode_seeds(1)
    assert len(obj.episode_seeds(2, count=7)) == 7
    other = EpisodeObjective("Pendulum-v1", policy_kind="linear", episodes=3, seed=6)
    assert other.episode_seeds(0) != s0
    obj.close()
    other.close()


def test_linear_policy_obs_stats_cover_every_visited_state():
    with EpisodeObjective("MountainCarContinuous-v0", policy_kind="linear", max_episode_steps=25) as obj:
        res = obj.evaluate(_thetas(obj, 2, scale=0.1), [0, 1])
        assert res.obs_stats.count == res.env_steps == 100
        before = obj.policy.state_dict()
        assert before["count"] == 0  # evaluate leaves the statistics alone unless asked
        again = obj.evaluate(_thetas(obj, 2, scale=0.1), [0, 1], update_statistics=True)
        assert obj.policy.state_dict()["count"] == 100
        np.testing.assert_array_equal(obj.policy.stats.mean, again.obs_stats.mean)
        # MountainCar positions start in [-0.6, -0.4] and move slowly
        assert -0.8 < obj.policy.stats.mean[0] < -0.2
        # rollout() uses the statistics it was given and changes nothing
        obj.rollout(_thetas(obj, 1, scale=0.1)[0], 3)
        assert obj.policy.state_dict()["count"] == 100


def test_mountain_car_open_loop_full_throttle_reaches_episode_limit():
    with EpisodeObjective("MountainCarContinuous-v0", policy_kind="open_loop",
                          policy_options={"knots": 2, "squash": "clip"}, max_episode_steps=50) as obj:
        res = obj.evaluate(np.array([[1.0, 1.0], [0.0, 0.0]]), [0])
        # constant full throttle pays the action cost 0.1 * a^2 every step; zero action pays nothing
        np.testing.assert_allclose(res.returns[:, 0], [-0.1 * 50, 0.0])


def test_render_rollout_returns_frames():
    with EpisodeObjective("zgtest/Toy-v0", policy_kind="open_loop", max_episode_steps=5) as obj:
        ret, length, frames = obj.rollout(np.zeros(obj.num_params), 0, render=True)
        assert length == 5 and len(frames) == 6 and frames[-1].shape == (4, 6, 3)
        assert frames[-1][0, 0, 0] == 50
        ret2, _, _ = obj.rollout(np.zeros(obj.num_params), 0)
        assert ret == ret2


# ------------------------------------------------------------------------------------------ errors
def test_nan_return_names_candidate_and_reset_seed():
    with EpisodeObjective("zgtest/ToyLimited-v0", env_kwargs={"nan_above": 0.5}, policy_kind="open_loop",
                          policy_options={"squash": "clip"}) as obj:
        thetas = np.zeros((3, obj.num_params))
        thetas[2, 0] = 0.9  # first action of candidate 2 produces a NaN reward
        with pytest.raises(ValueError, match=r"candidate 2 with reset seed 17"):
            obj.evaluate(thetas, [17, 18])


@pytest.mark.filterwarnings("ignore:.*not within the observation space")
def test_nan_from_env_dynamics_is_reported():
    with EpisodeObjective("Pendulum-v1", env_kwargs={"g": float("nan")}, policy_kind="linear",
                          max_episode_steps=10) as obj:
        with pytest.raises(ValueError, match=r"candidate 0 with reset seed 5"):
            obj.evaluate(_thetas(obj, 2), [5])


def test_bad_input_gives_clear_value_errors():
    with pytest.raises(ValueError, match=r"not a registered Gymnasium env.*did you mean \[.*'Pendulum-v1'"):
        EpisodeObjective("Pendulum-v9", policy_kind="linear")
    with pytest.raises(ValueError, match="zg/NoSuchEnv-v0.*zg/ShadowCaster-v0"):
        EpisodeObjective("zg/NoSuchEnv-v0", policy_kind="linear")
    with pytest.raises(ValueError, match="only gymnasium.spaces.Box action spaces"):
        EpisodeObjective("CartPole-v1", policy_kind="linear")
    with pytest.raises(ValueError, match=r"backend must be one of \['serial', 'process', 'ray'\], got 'gpu'"):
        EpisodeObjective("Pendulum-v1", policy_kind="linear", backend="gpu")
    with pytest.raises(ValueError, match="env_kwargs .* rejected"):
        EpisodeObjective("Pendulum-v1", env_kwargs={"gravity": 3.0}, policy_kind="linear")
    with pytest.raises(ValueError, match="max_episode_steps is required"):
        EpisodeObjective("zgtest/Toy-v0", policy_kind="open_loop")
    with pytest.raises(ValueError, match="episodes must be a positive integer"):
        EpisodeObjective("Pendulum-v1", policy_kind="linear", episodes=0)
    with pytest.raises(ValueError, match="policy kind must be one of"):
        EpisodeObjective("Pendulum-v1", policy_kind="transformer")
    with EpisodeObjective("Pendulum-v1", policy_kind="linear") as obj:
        with pytest.raises(ValueError, match=r"thetas must have shape \(n, 4\)"):
            obj.evaluate(np.zeros((2, 5)), [0])
        with pytest.raises(ValueError, match="must be finite"):
            obj.evaluate(np.full((1, 4), np.nan), [0])
        with pytest.raises(ValueError, match="reset_seeds"):
            obj.evaluate(np.zeros((1, 4)), [-1])
        with pytest.raises(ValueError, match="reset_seeds"):
            obj.evaluate(np.zeros((1, 4)), [])
    obj.close()
    with pytest.raises(RuntimeError, match="closed"):
        obj.evaluate(np.zeros((1, 4)), [0])


def test_ray_backend_without_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    cfg = _EnvConfig("Pendulum-v1", {}, None, "linear", {}, None)
    with pytest.raises(ImportError, match=r"pip install -e \.\[ray\]"):
        make_backend("ray", cfg)


@pytest.mark.parametrize("kwargs, horizon", [({}, 8), ({"n_casters": 12}, 12), ({"n_casters": 3}, 3)])
def test_open_loop_horizon_follows_the_env(kwargs, horizon):
    # no max_episode_steps: the env's own horizon (here n_casters) is the open-loop horizon and episode length
    with EpisodeObjective("zg/ShadowCaster-v0", dict(kwargs, resolution=16), "open_loop") as obj:
        assert obj.horizon == horizon and obj.policy.num_params == horizon * obj.action_space.shape[0]
        assert obj.evaluate(obj.initial_params(), [0]).lengths.ravel().tolist() == [horizon]
    with EpisodeObjective("zg/ShadowCaster-v0", dict(kwargs, resolution=16), "open_loop", max_episode_steps=2) as obj:
        assert obj.horizon == 2  # a configured limit below the env's horizon wins


def test_load_solution_uses_the_same_horizon_as_training(tmp_path):
    from zg_agent.config import load_config
    from zg_agent.training import load_solution, train

    cfg = load_config("random", "zg/ShadowCaster-v0", budget=24, eval_every=24, run_root=str(tmp_path),
                      overrides=["env_kwargs.n_casters=3", "env_kwargs.resolution=16", "options.popsize=4",
                                 "log_formats=[csv]", "render=off"])
    result = train(cfg)
    policy, theta, _ = load_solution(result.run_dir)
    assert policy.horizon == 3 and theta.size == 3 * policy.action_space.shape[0]
