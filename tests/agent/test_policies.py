"""Policy parameterisations: sizes, action mapping into the Box, interpolation, normalisation, errors."""

import numpy as np
import pytest
from gymnasium import spaces

from zg_agent.policies import POLICY_KINDS, LinearPolicy, MLPPolicy, ObsStats, OpenLoopPolicy, make_policy

OBS = spaces.Box(-np.inf, np.inf, shape=(3,), dtype=np.float32)
ACT = spaces.Box(np.array([-2.0, 0.0], dtype=np.float32), np.array([2.0, 1.0], dtype=np.float32))


# ------------------------------------------------------------------------------------------ open loop
def test_open_loop_per_step_maps_each_step_through_tanh():
    pol = make_policy("open_loop", OBS, ACT, horizon=4)
    assert pol.num_params == 4 * 2
    theta = np.linspace(-1.5, 1.5, 8)
    ctrl = pol.controller(theta)
    centre, half = np.array([0.0, 0.5]), np.array([2.0, 0.5])
    for t in range(4):
        a = ctrl(None, t)
        assert a.dtype == np.float32 and a.shape == (2,)
        np.testing.assert_allclose(a, centre + half * np.tanh(theta.reshape(4, 2)[t]), rtol=1e-6)
    # past the horizon the last action is held
    np.testing.assert_array_equal(ctrl(None, 10), ctrl(None, 3))


def test_open_loop_zero_is_box_centre_and_large_values_stay_inside():
    for squash in ("tanh", "clip"):
        pol = make_policy("open_loop", OBS, ACT, horizon=3, squash=squash)
        np.testing.assert_allclose(pol.controller(pol.initial_params(0))(None, 0), [0.0, 0.5])
        acts = pol.actions(np.full(pol.num_params, 50.0))
        assert np.all(acts <= ACT.high) and np.all(acts >= ACT.low)
        acts = pol.actions(np.full(pol.num_params, -50.0))
        assert np.all(acts <= ACT.high) and np.all(acts >= ACT.low)
    # clip is linear inside the Box
    pol = make_policy("open_loop", OBS, ACT, horizon=1, squash="clip")
    np.testing.assert_allclose(pol.controller([0.5, -0.5])(None, 0), [1.0, 0.25])


def test_open_loop_knots_interpolate_linearly_between_evenly_spaced_knots():
    act = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
    pol = make_policy("open_loop", OBS, act, horizon=5, knots=3, squash="clip")
    assert pol.num_params == 3
    # knots at t = 0, 2, 4 with values 0, 1, -1
    acts = pol.actions([0.0, 1.0, -1.0])[:, 0]
    np.testing.assert_allclose(acts, [0.0, 0.5, 1.0, 0.0, -1.0])
    const = make_policy("open_loop", OBS, act, horizon=5, knots=1, squash="clip")
    np.testing.assert_allclose(const.actions([0.3])[:, 0], [0.3] * 5)
    # knot-major layout with two action dims
    pol2 = make_policy("open_loop", OBS, ACT, horizon=3, knots=2, squash="clip")
    acts2 = pol2.actions([1.0, 1.0, -1.0, -1.0])  # knot 0 = (1, 1), knot 1 = (-1, -1)
    np.testing.assert_allclose(acts2, [[2.0, 1.0], [0.0, 0.5], [-2.0, 0.0]])


def test_open_loop_init_scale_draws_from_seed():
    pol = make_policy("open_loop", OBS, ACT, horizon=4, init_scale=0.5)
    np.testing.assert_array_equal(pol.initial_params(1), pol.initial_params(1))
    assert not np.array_equal(pol.initial_params(1), pol.initial_params(2))


@pytest.mark.parametrize("squash", ["tanh", "clip"])
@pytest.mark.parametrize("knots", [None, 1, 2])
def test_open_loop_initial_action_is_where_theta0_maps(squash, knots):
    # ACT is [-2, 2] x [0, 1]: a number applies to every dimension, a list to each one
    for initial, expected in ((0.5, [0.5, 0.5]), ([-1.5, 0.25], [-1.5, 0.25]), (None, [0.0, 0.5])):
        pol = make_policy("open_loop", OBS, ACT, horizon=3, knots=knots, squash=squash, initial_action=initial)
        theta0 = pol.initial_params(0)
        np.testing.assert_allclose(pol.actions(theta0), np.tile(expected, (3, 1)), rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(pol.initial_params(5), theta0)  # no noise without init_scale
    assert not np.any(make_policy("open_loop", OBS, ACT, horizon=3, squash=squash).initial_params(0))
    # the faces of the Box are reachable through clip only
    if squash == "clip":
        pol = make_policy("open_loop", OBS, ACT, horizon=2, squash="clip", initial_action=[2.0, 0.0])
        np.testing.assert_allclose(pol.actions(pol.initial_params(0)), [[2.0, 0.0], [2.0, 0.0]])


def test_open_loop_initial_action_with_noise_and_unbounded_dimensions():
    act = spaces.Box(np.array([-1.0, -np.inf], np.float32), np.array([1.0, np.inf], np.float32))
    pol = make_policy("open_loop", OBS, act, horizon=2, initial_action=[-0.5, 7.0])
    np.testing.assert_allclose(pol.initial_params(0), [np.arctanh(-0.5), 7.0] * 2)
    noisy = make_policy("open_loop", OBS, act, horizon=2, initial_action=[-0.5, 7.0], init_scale=0.1)
    diff = noisy.initial_params(3) - pol.initial_params(0)
    assert 0 < np.abs(diff).max() < 1.0  # noise around the initial action, not around the Box centre


def test_shadow_art_starts_from_an_empty_sculpture_that_perturbations_keep_mostly_empty():
    # at the Box centre (action 0, the voxel threshold) a perturbation of sigma 0.3 fills half the voxels
    import gymnasium as gym

    import zg_envs  # noqa: F401 - registers zg/ShadowArt-v0

    env = gym.make("zg/ShadowArt-v0")
    rng = np.random.default_rng(0)
    filled = {}
    for initial in (None, -0.5):
        pol = make_policy("open_loop", env.observation_space, env.action_space, horizon=1, initial_action=initial)
        theta0 = pol.initial_params(0)
        assert not np.any(pol.actions(theta0) > 0)
        filled[initial] = float(np.mean(pol.actions(theta0 + 0.3 * rng.normal(size=theta0.shape)) > 0))
    env.close()
    assert 0.4 < filled[None] < 0.6 and filled[-0.5] < 0.1


@pytest.mark.parametrize("squash", ["tanh", "clip"])
@pytest.mark.parametrize("horizon, knots", [(1, None), (1, 1), (5, None), (5, 1), (5, 3)])
@pytest.mark.parametrize("space", [ACT, spaces.Box(-1.0, 1.0, shape=(2, 3), dtype=np.float64),
                                   spaces.Box(np.array([-1.0, -np.inf]), np.array([1.0, np.inf]), dtype=np.float64)])
def test_open_loop_first_actions_equal_each_controllers_first_action_bit_for_bit(squash, horizon, knots, space):
    pol = make_policy("open_loop", OBS, space, horizon=horizon, knots=knots, squash=squash)
    thetas = 3.0 * np.random.default_rng(0).standard_normal((7, pol.num_params))
    thetas[1] = -0.0  # signed zeros (kept as -0.0 in an unbounded dimension)
    thetas[2, -1] = np.nan  # a non-finite value in a later knot or step
    thetas[3, -1] = 1e300  # beyond float32 in an unbounded dimension of a later knot
    first = pol.first_actions(thetas)
    one_by_one = np.stack([pol.controller(t)(None, 0) for t in thetas])
    assert first.shape == (7,) + space.shape and first.dtype == one_by_one.dtype == space.dtype
    np.testing.assert_array_equal(first.view(np.uint8), one_by_one.view(np.uint8))
    with pytest.raises(ValueError, match=rf"thetas must have shape \(n, {pol.num_params}\), got \(7,\)"):
        pol.first_actions(thetas[:, 0])


@pytest.mark.parametrize("squash", ["tanh", "clip"])
def test_action_map_gives_the_formulas_values_bit_for_bit(squash):
    # the map works in place for speed; its values must stay those of the plain formula
    from zg_agent.policies.base import _ActionMap

    space = spaces.Box(np.array([-2.0, 0.0, -1.0], dtype=np.float32), np.array([2.0, 1.0, 3.0], dtype=np.float32))
    m = _ActionMap(space, squash)
    u = 3.0 * np.random.default_rng(0).standard_normal((500, 3))
    u[0] = -0.0
    formula = m.centre + m.half * np.tanh(u) if squash == "tanh" else np.clip(m.centre + m.half * u, m.low, m.high)
    np.testing.assert_array_equal(m.rows(u).view(np.uint32), formula.astype(np.float32).view(np.uint32))
    np.testing.assert_array_equal(m(u[7]).view(np.uint32), formula[7].astype(np.float32).view(np.uint32))


def test_open_loop_initial_action_errors_name_the_argument_and_the_box():
    with pytest.raises(ValueError, match=r"initial_action must lie strictly inside .* dimension 1 is 1.0, "
                                         r"allowed \(0.0, 1.0\)"):
        make_policy("open_loop", OBS, ACT, horizon=2, initial_action=1.0)  # a face of [0, 1]: tanh cannot
    with pytest.raises(ValueError, match=r"initial_action must lie inside the action Box: dimension 0 is -3.0, "
                                         r"allowed \[-2.0, 2.0\]"):
        make_policy("open_loop", OBS, ACT, horizon=2, squash="clip", initial_action=[-3.0, 0.5])
    for bad in ("low", True, [0.1, 0.2, 0.3], [], float("nan"), [[0.1, 0.2]]):
        with pytest.raises(ValueError, match="initial_action must"):
            make_policy("open_loop", OBS, ACT, horizon=2, initial_action=bad)


def test_open_loop_errors_name_the_argument():
    with pytest.raises(ValueError, match="horizon"):
        make_policy("open_loop", OBS, ACT, horizon=None)
    with pytest.raises(ValueError, match="knots"):
        make_policy("open_loop", OBS, ACT, horizon=4, knots=5)
    with pytest.raises(ValueError, match="knots"):
        make_policy("open_loop", OBS, ACT, horizon=4, knots=0)
    pol = make_policy("open_loop", OBS, ACT, horizon=4)
    with pytest.raises(ValueError, match=r"theta must have shape \(8,\)"):
        pol.controller(np.zeros(7))


# ------------------------------------------------------------------------------------------ linear
def test_linear_policy_matches_hand_computation_without_normalisation():
    pol = make_policy("linear", OBS, ACT, normalize_obs=False, squash="clip")
    assert pol.num_params == 2 * 3 + 2
    assert not pol.uses_obs_stats
    w = np.array([[0.1, 0.2, 0.3], [-0.4, 0.0, 0.5]])
    b = np.array([0.05, -0.1])
    obs = np.array([1.0, -1.0, 0.5])
    a = pol.controller(np.concatenate([w.ravel(), b]))(obs, 0)
    u = w @ obs + b
    np.testing.assert_allclose(a, np.clip([0.0, 0.5] + np.array([2.0, 0.5]) * u, ACT.low, ACT.high), rtol=1e-6)
    # ARS starts at zero: the Box centre
    np.testing.assert_allclose(pol.controller(pol.initial_params(3))(obs, 0), [0.0, 0.5])


def test_linear_policy_normalises_with_running_statistics():
    pol = make_policy("linear", OBS, ACT, bias=False, squash="clip", obs_clip=None)
    assert pol.uses_obs_stats and pol.num_params == 6
    rng = np.random.default_rng(0)
    batch1, batch2 = rng.normal(3.0, 2.0, (50, 3)), rng.normal(-1.0, 0.5, (30, 3))
    pol.update_statistics(ObsStats.from_batch(batch1))
    pol.update_statistics(ObsStats.from_batch(batch2))
    allx = np.concatenate([batch1, batch2])
    np.testing.assert_allclose(pol.stats.mean, allx.mean(0))
    np.testing.assert_allclose(pol.stats.std, allx.std(0))
    assert pol.stats.count == 80
    theta = np.array([0.1, 0.0, 0.0, 0.0, 0.1, 0.0])
    obs = np.array([1.0, 2.0, 3.0])
    z = (obs - allx.mean(0)) / allx.std(0)
    expected = np.clip([0.0, 0.5] + np.array([2.0, 0.5]) * (theta.reshape(2, 3) @ z), ACT.low, ACT.high)
    np.testing.assert_allclose(pol.controller(theta)(obs, 0), expected, rtol=1e-5)
    # statistics live outside theta and round-trip through state_dict
    other = make_policy("linear", OBS, ACT, bias=False, squash="clip", obs_clip=None)
    other.load_state_dict(pol.state_dict())
    np.testing.assert_array_equal(other.controller(theta)(obs, 0), pol.controller(theta)(obs, 0))


def test_obs_clip_bounds_normalised_observations():
    pol = make_policy("linear", OBS, spaces.Box(-100, 100, (1,)), bias=False, squash="clip", obs_clip=2.0)
    pol.update_statistics(ObsStats.from_batch(np.random.default_rng(1).normal(0, 1, (100, 3))))
    a = pol.controller(np.array([0.01, 0.0, 0.0]))(np.array([1e6, 0.0, 0.0]), 0)
    np.testing.assert_allclose(a, [100 * 0.01 * 2.0], rtol=1e-6)


def test_obs_stats_merge_equals_batch_statistics_and_handles_empty():
    rng = np.random.default_rng(2)
    parts = [rng.normal(size=(n, 4)) for n in (1, 7, 20)]
    merged = ObsStats.merge_all([ObsStats.from_batch(p) for p in parts] + [None], 4)
    ref = ObsStats.from_batch(np.concatenate(parts))
    assert merged.count == 28
    np.testing.assert_allclose(merged.mean, ref.mean)
    np.testing.assert_allclose(merged.m2, ref.m2)
    empty = ObsStats.empty(4)
    np.testing.assert_array_equal(empty.std, np.ones(4))
    # constant features do not divide by zero
    const = ObsStats.from_batch(np.ones((5, 4)))
    np.testing.assert_array_equal(const.std, np.ones(4))


# ------------------------------------------------------------------------------------------ mlp
def test_mlp_sizes_seeded_init_and_actions_inside_box():
    pol = make_policy("mlp", OBS, ACT, hidden_sizes=(5, 4))
    assert pol.num_params == (5 * 3 + 5) + (4 * 5 + 4) + (2 * 4 + 2)
    th0 = pol.initial_params(7)
    np.testing.assert_array_equal(th0, pol.initial_params(7))
    assert not np.array_equal(th0, pol.initial_params(8))
    layers = pol.unflatten(th0)
    assert [w.shape for w, _ in layers] == [(5, 3), (4, 5), (2, 4)]
    rng = np.random.default_rng(0)
    ctrl = pol.controller(rng.normal(0, 10, pol.num_params))
    for _ in range(20):
        a = ctrl(rng.normal(0, 100, 3), 0)
        assert a.shape == (2,) and a.dtype == np.float32
        assert np.all(a >= ACT.low) and np.all(a <= ACT.high)


def test_mlp_forward_matches_hand_computation():
    act = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
    pol = make_policy("mlp", OBS, act, hidden_sizes=(2,), normalize_obs=False)
    theta = np.arange(pol.num_params, dtype=float) / 10 - 0.5
    w1, b1 = theta[:6].reshape(2, 3), theta[6:8]
    w2, b2 = theta[8:10].reshape(1, 2), theta[10:11]
    obs = np.array([0.3, -0.2, 0.1])
    expected = np.tanh(w2 @ np.tanh(w1 @ obs + b1) + b2)
    np.testing.assert_allclose(pol.controller(theta)(obs, 0), expected, rtol=1e-6)


def test_mlp_flattens_dict_observations():
    obs_space = spaces.Dict({"a": spaces.Box(-1, 1, (2,)), "b": spaces.Discrete(3)})
    pol = make_policy("mlp", obs_space, ACT, hidden_sizes=(4,), normalize_obs=False)
    assert pol.obs_dim == 5  # the Box, then the one-hot of the Discrete
    flat = make_policy("mlp", spaces.Box(-np.inf, np.inf, (5,)), ACT, hidden_sizes=(4,), normalize_obs=False)
    theta = np.random.default_rng(0).normal(0, 1, pol.num_params)
    obs = {"a": np.array([0.25, -0.5], np.float32), "b": 1}
    np.testing.assert_array_equal(pol.controller(theta)(obs, 0),
                                  flat.controller(theta)(np.array([0.25, -0.5, 0.0, 1.0, 0.0]), 0))
    # the discrete part reaches the network
    assert not np.array_equal(pol.controller(theta)(dict(obs, b=2), 0), pol.controller(theta)(obs, 0))


# ------------------------------------------------------------------------------------------ registry / errors
def test_make_policy_bad_input_names_argument_and_allowed_values():
    with pytest.raises(ValueError, match="policy kind must be one of"):
        make_policy("rnn", OBS, ACT)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['hiden_sizes'\]"):
        make_policy("mlp", OBS, ACT, hiden_sizes=(4,))
    with pytest.raises(ValueError, match="action_space must be a gymnasium.spaces.Box"):
        make_policy("linear", OBS, spaces.Discrete(3))
    with pytest.raises(ValueError, match="squash must be one of"):
        make_policy("linear", OBS, ACT, squash="sigmoid")
    with pytest.raises(ValueError, match="hidden_sizes"):
        make_policy("mlp", OBS, ACT, hidden_sizes=(4, 0))
    with pytest.raises(ValueError, match="normalize_obs"):
        make_policy("linear", OBS, ACT, normalize_obs="yes")
    pol = make_policy("linear", OBS, ACT)
    with pytest.raises(ValueError, match="dimension 3"):
        pol.update_statistics(ObsStats.from_batch(np.zeros((2, 4))))
    assert set(POLICY_KINDS) == {"open_loop", "linear", "mlp"}
    assert isinstance(make_policy("open_loop", OBS, ACT, horizon=2), OpenLoopPolicy)
    assert isinstance(make_policy("linear", OBS, ACT), LinearPolicy)
    assert isinstance(make_policy("mlp", OBS, ACT), MLPPolicy)


def test_infinite_action_bounds_pass_raw_outputs():
    act = spaces.Box(np.array([-np.inf, -1.0], np.float32), np.array([np.inf, 1.0], np.float32))
    pol = make_policy("open_loop", OBS, act, horizon=1)
    np.testing.assert_allclose(pol.controller([5.0, 5.0])(None, 0), [5.0, np.tanh(5.0)])
