"""The ask/tell contract, determinism, resume and bad input, for every registered optimizer."""

import pickle

import numpy as np
import pytest

import zg_agent
from zg_agent import problems
from zg_agent.optim import OPTIMIZERS, make_optimizer
from optim_runs import SPHERE, run_iterations


@pytest.mark.parametrize("method", OPTIMIZERS)
def test_ask_tell_contract(method):
    opt = make_optimizer(method, SPHERE.x0, seed=0)
    assert opt.num_evaluations == 0 and opt.best.f == np.inf
    xs = opt.ask()
    assert xs.shape == (opt.popsize, SPHERE.dim) and xs.dtype == np.float64
    losses = SPHERE.fun(xs)
    metrics = opt.tell(xs, losses)
    assert isinstance(metrics, dict) and all(isinstance(v, float) for v in metrics.values())
    assert opt.num_evaluations == opt.popsize and opt.num_iterations == 1
    assert opt.best.f == pytest.approx(losses.min())
    np.testing.assert_array_equal(opt.best.x, xs[np.argmin(losses)])
    assert opt.mean.shape == (SPHERE.dim,) and np.all(np.isfinite(opt.mean))


@pytest.mark.parametrize("method", OPTIMIZERS)
def test_same_seed_same_trajectory_and_other_seed_differs(method):
    a = run_iterations(make_optimizer(method, SPHERE.x0, seed=3), SPHERE.fun, 5)
    b = run_iterations(make_optimizer(method, SPHERE.x0, seed=3), SPHERE.fun, 5)
    c = run_iterations(make_optimizer(method, SPHERE.x0, seed=4), SPHERE.fun, 5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("method", OPTIMIZERS)
def test_resume_from_state_dict_gives_the_uninterrupted_trajectory(method):
    full = run_iterations(make_optimizer(method, SPHERE.x0, seed=1), SPHERE.fun, 8)

    first = make_optimizer(method, SPHERE.x0, seed=1)
    head = run_iterations(first, SPHERE.fun, 3)
    first.ask()  # interrupted between ask and tell: the pending batch is part of the state
    state = pickle.loads(pickle.dumps(first.state_dict()))

    resumed = make_optimizer(method, SPHERE.x0, seed=99)  # the seed is overwritten by the state
    resumed.load_state_dict(state)
    pending = state["pending"]
    resumed.tell(pending, SPHERE.fun(pending))
    tail = np.concatenate([[resumed.mean], run_iterations(resumed, SPHERE.fun, 4)])
    np.testing.assert_array_equal(np.concatenate([head, tail]), full)
    assert resumed.num_evaluations == 8 * resumed.popsize


@pytest.mark.parametrize("method", OPTIMIZERS)
def test_one_dimensional_problem(method):
    res = zg_agent.minimize(problems.toy_1d().fun, [-1.0], method=method, budget=200, seed=0, vectorized=True)
    assert res.x.shape == (1,) and np.isfinite(res.fun)


def test_every_method_beats_its_start_on_the_step_sphere():
    f0 = SPHERE.fun(SPHERE.x0[None])[0]
    for method in OPTIMIZERS:
        res = zg_agent.minimize(SPHERE.fun, SPHERE.x0, method=method, budget=2000, seed=0, vectorized=True)
        assert res.fun < 0.5 * f0, method


def test_zerograds_solves_the_1d_toy():
    p = problems.toy_1d()
    res = zg_agent.minimize(p.fun, p.x0, method="zerograds", budget=4000, seed=0, vectorized=True)
    assert p.fun(res.mean[None])[0] < 0.1  # from 3.45 at x = -1 to the bottom step around x = 2
    assert abs(res.mean[0] - 2.0) < 0.3


def test_zerograds_improves_quantized_rosenbrock():
    p = problems.quantized_rosenbrock()
    f0 = p.fun(p.x0[None])[0]
    res = zg_agent.minimize(p.fun, p.x0, method="zerograds", budget=4000, seed=0, vectorized=True)
    assert res.fun <= 0.5 * f0  # 12.5 -> the next quantised terrace or better


def test_zerograds_descends_a_plateau_in_high_dimension():
    p = problems.threshold_match(500)
    res = zg_agent.minimize(p.fun, p.x0, method="zerograds", budget=3000, seed=0, vectorized=True)
    assert p.fun(res.mean[None])[0] < 0.3  # starts at ~0.5: half the bits are wrong


def test_minimize_history_is_monotone_and_within_budget():
    res = zg_agent.minimize(SPHERE.fun, SPHERE.x0, method="es", budget=205, seed=0, vectorized=True)
    assert res.num_evaluations <= 205 and res.num_evaluations == res.history_evaluations[-1]
    assert np.all(np.diff(res.history_best) <= 0)
    assert res.fun == res.history_best[-1]


def test_minimize_scalar_function_and_callback_stop():
    calls = []
    res = zg_agent.minimize(lambda x: float(np.sum(x**2)), np.ones(3), method="random", budget=1000, seed=0,
                            callback=lambda it, m: calls.append(it) or it >= 2)
    assert calls == [1, 2] and res.num_evaluations == 2 * 20


def test_zerograds_surrogate_starts_flat_and_reports_diagnostics():
    opt = make_optimizer("zerograds", SPHERE.x0, seed=0)
    pts = opt.rng.standard_normal((5, SPHERE.dim))
    np.testing.assert_allclose(opt.predict(pts), opt.predict(pts[:1]).repeat(5))  # zero-initialised output
    xs = opt.ask()
    metrics = opt.tell(xs, SPHERE.fun(xs))
    for key in ("surrogate_loss", "surrogate_error", "grad_norm", "grad_cosine", "sigma"):
        assert np.isfinite(metrics[key]), key
    assert -1.0 <= metrics["grad_cosine"] <= 1.0
    assert opt.predict(xs).shape == (len(xs),)


def test_zerograds_surrogate_gradient_agrees_with_a_smooth_slope():
    # On a linear loss, the fitted surrogate's gradient must point along the true gradient.
    direction = np.linspace(-1, 1, 10)
    opt = make_optimizer("zerograds", np.zeros(10), seed=0)
    for _ in range(20):
        xs = opt.ask()
        metrics = opt.tell(xs, xs @ direction)
    assert metrics["grad_cosine"] > 0.5  # the 10-pair finite-difference estimate is itself noisy
    assert np.corrcoef(-opt.mean, direction)[0, 1] > 0.8
    assert opt.mean @ direction < -0.5  # 20 Adam steps of 0.02 along the right signs give about -1.1


@pytest.mark.parametrize("surrogate", ["mlp", "quadratic", "linear"])
def test_zerograds_surrogate_families_and_encoding(surrogate):
    res = zg_agent.minimize(SPHERE.fun, SPHERE.x0, method="zerograds", budget=400, seed=0, vectorized=True,
                            surrogate=surrogate, encoding_bands=2 if surrogate == "mlp" else 0,
                            fit="adam")
    assert res.fun < SPHERE.fun(SPHERE.x0[None])[0]


@pytest.mark.slow
@pytest.mark.parametrize("surrogate", ["linear", "mlp"])
def test_zerograds_runs_at_two_hundred_thousand_dimensions(surrogate):
    dim = 200_000
    opt = make_optimizer("zerograds", np.zeros(dim), seed=0, popsize=4, surrogate=surrogate, width=8)
    start = np.abs(opt.mean).mean()
    for _ in range(2):
        xs = opt.ask()
        opt.tell(xs, np.abs(xs - 0.5).mean(axis=1))
    assert opt.mean.shape == (dim,) and np.all(np.isfinite(opt.mean))
    assert np.abs(opt.mean).mean() > start  # it moved


@pytest.mark.parametrize("surrogate", ["linear", "quadratic"])
def test_exact_fit_recovers_a_linear_and_a_quadratic_function(surrogate):
    # Noise-free targets inside the span of the features: the ridge fit must reproduce them closely.
    dim = 6
    opt = make_optimizer("zerograds", np.zeros(dim), seed=0, surrogate=surrogate, fit="exact",
                         target_transform="none", ridge=1e-6, popsize=40, inner_sigma=0.0)
    slope = np.arange(1.0, dim + 1)
    fun = (lambda x: x @ slope) if surrogate == "linear" else (lambda x: x @ slope + 5.0 * (x * x).sum(axis=1))
    xs = opt.ask()
    opt.tell(xs, fun(xs))
    probe = opt.rng.normal(0.0, 0.1, (5, dim))
    np.testing.assert_allclose(opt.predict(probe), fun(probe), atol=1e-3 * np.abs(fun(probe)).max() + 1e-4)


def test_predict_uses_the_frame_the_surrogate_was_fitted_in():
    opt = make_optimizer("zerograds", np.zeros(3), seed=0, surrogate="linear", fit="exact",
                         target_transform="none", ridge=1e-6, inner_sigma=0.0)
    xs = opt.ask()
    opt.tell(xs, xs @ np.array([1.0, -2.0, 0.5]))  # theta moves after the fit ...
    probe = np.array([[0.3, 0.1, -0.2]])
    np.testing.assert_allclose(opt.predict(probe), probe @ np.array([1.0, -2.0, 0.5]), atol=1e-3)  # ... predict does not


def test_exact_fit_is_refused_for_the_mlp():
    with pytest.raises(ValueError, match="fit='exact' needs surrogate='linear' or 'quadratic'"):
        make_optimizer("zerograds", np.zeros(3), surrogate="mlp", fit="exact")
    with pytest.raises(ValueError, match="sigma_min must be at most sigma"):
        make_optimizer("zerograds", np.zeros(3), sigma=0.1, sigma_min=0.2)


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("method", OPTIMIZERS)
def test_bad_x0(method):
    with pytest.raises(ValueError, match="x0 must be finite"):
        make_optimizer(method, [0.0, np.nan])
    with pytest.raises(ValueError, match="x0 must be a non-empty 1-D"):
        make_optimizer(method, np.zeros((2, 2)))


@pytest.mark.parametrize("method", OPTIMIZERS)
def test_tell_checks_shapes_and_order(method):
    opt = make_optimizer(method, np.zeros(4), seed=0)
    with pytest.raises(RuntimeError, match="without a pending ask"):
        opt.tell(np.zeros((2, 4)), np.zeros(2))
    xs = opt.ask()
    with pytest.raises(RuntimeError, match="called again before tell"):
        opt.ask()
    with pytest.raises(ValueError, match="candidates must have the shape asked"):
        opt.tell(xs[:-1], np.zeros(len(xs) - 1))
    with pytest.raises(ValueError, match="one value per candidate"):
        opt.tell(xs, np.zeros(len(xs) + 1))
    with pytest.raises(ValueError, match="NaN or inf for candidates \\[1\\]"):
        opt.tell(xs, np.where(np.arange(len(xs)) == 1, np.nan, 0.0))
    opt.tell(xs, np.zeros(len(xs)))  # the failed calls did not consume the pending batch


def test_random_search_never_moves_to_a_point_worse_than_the_start():
    opt = make_optimizer("random", np.zeros(3), seed=0, sigma=5.0)
    xs = opt.ask()
    np.testing.assert_array_equal(xs[0], np.zeros(3))
    opt.tell(xs, np.abs(xs).sum(axis=1))  # every perturbed point is worse than the start
    np.testing.assert_array_equal(opt.mean, np.zeros(3))


def test_nonfinite_worst_policy_counts_and_never_becomes_best():
    opt = make_optimizer("es", np.zeros(3), seed=0, nonfinite="worst", popsize=4)
    xs = opt.ask()
    metrics = opt.tell(xs, np.array([1.0, -np.inf, 2.0, np.nan]))
    assert metrics["num_nonfinite"] == 2.0 and opt.num_nonfinite == 2
    assert opt.best.f == 1.0
    np.testing.assert_array_equal(opt.best.x, xs[0])


def test_unknown_method_option_and_bad_values():
    with pytest.raises(ValueError, match="method must be one of"):
        make_optimizer("adamw", np.zeros(2))
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['sigmaa'\].*allowed"):
        make_optimizer("zerograds", np.zeros(2), sigmaa=0.1)
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        make_optimizer("zerograds", np.zeros(2), sigma=-1.0)
    with pytest.raises(ValueError, match="popsize must be even"):
        make_optimizer("es", np.zeros(2), popsize=5)
    with pytest.raises(ValueError, match="surrogate must be one of"):
        make_optimizer("zerograds", np.zeros(2), surrogate="gp")
    with pytest.raises(ValueError, match="target_transform must be one of"):
        make_optimizer("zerograds", np.zeros(2), target_transform="log")
    with pytest.raises(ValueError, match="nonfinite must be one of"):
        make_optimizer("random", np.zeros(2), nonfinite="ignore")


def test_budget_below_one_batch():
    with pytest.raises(ValueError, match="budget must be an integer of at least one batch \\(20"):
        zg_agent.minimize(lambda x: 0.0, np.zeros(2), method="zerograds", budget=10)
    with pytest.raises(ValueError, match="fun must be callable"):
        zg_agent.minimize(3.0, np.zeros(2))


def test_state_dict_of_another_optimizer_is_refused():
    state = make_optimizer("es", np.zeros(3), seed=0).state_dict()
    with pytest.raises(ValueError, match="state is for OpenES"):
        make_optimizer("zerograds", np.zeros(3), seed=0).load_state_dict(state)


def _loss_returning(value):
    def my_loss(x):
        return value
    return my_loss


@pytest.mark.parametrize("value", [1, 1.5, np.float32(1.5), np.int64(2), np.array(1.5), np.array([1.5]),
                                   np.array([[2]], dtype=np.int32)])
def test_minimize_accepts_real_numbers_and_size_one_real_arrays(value):
    res = zg_agent.minimize(_loss_returning(value), np.zeros(2), method="random", budget=20, seed=0)
    assert res.fun == float(np.asarray(value).ravel()[0])


@pytest.mark.parametrize("value,error", [
    ("1.5", TypeError), (None, TypeError), (1 + 2j, TypeError), (np.complex128(1.0), TypeError),
    (True, TypeError), (np.bool_(False), TypeError), ([1.5], TypeError), (np.array(["1.5"]), TypeError),
    (np.array([1.0 + 0j]), TypeError), (np.array([1.0, 2.0]), ValueError), (np.zeros((0,)), ValueError),
])
def test_minimize_refuses_other_loss_values_naming_the_loss(value, error):
    with pytest.raises(error, match=r"loss function _loss_returning.<locals>.my_loss returned .*"
                                    r"it must return a real number"):
        zg_agent.minimize(_loss_returning(value), np.zeros(2), method="random", budget=20, seed=0)


def test_minimize_names_the_type_of_a_bad_loss():
    with pytest.raises(TypeError, match=r"returned '1.5' of type str; it must return a real number: int, float"):
        zg_agent.minimize(_loss_returning("1.5"), np.zeros(2), method="random", budget=20, seed=0)


@pytest.mark.parametrize("make,error,match", [
    (lambda xs: np.sum(xs, axis=1), None, None),
    (lambda xs: np.sum(xs, axis=1).tolist(), None, None),
    (lambda xs: np.sum(xs, axis=1, keepdims=True), ValueError, r"returned an array of shape \(10, 1\) for 10"),
    (lambda xs: np.sum(xs), ValueError, r"returned an array of shape \(\) for 10 candidates"),
    (lambda xs: np.sum(xs, axis=1).astype(str), TypeError, r"returned an array of dtype <U"),
    (lambda xs: np.sum(xs, axis=1) + 0j, TypeError, "returned an array of dtype complex128"),
    (lambda xs: None, TypeError, "returned None of type NoneType"),
    (lambda xs: [None] * len(xs), TypeError, "returned an array of dtype object"),
])
def test_minimize_vectorized_needs_a_real_array_of_shape_n(make, error, match):
    def run():
        return zg_agent.minimize(make, np.zeros(2), method="random", budget=10, seed=0, vectorized=True,
                                 popsize=10)
    if error is None:
        assert run().num_evaluations == 10
    else:
        with pytest.raises(error, match=rf"loss function .*<lambda> \(vectorized=True\) {match}"):
            run()


def test_tell_refuses_losses_that_are_not_real_numbers():
    opt = make_optimizer("random", np.zeros(2), popsize=2, seed=0)
    xs = opt.ask()
    with pytest.raises(TypeError, match=r"losses must be real numbers \(int or float\), got an array of dtype <U3"):
        opt.tell(xs, ["1.5", "2.0"])
    opt.tell(xs, [1.5, 2])
