"""ZeroGradsFunction: a black box as a differentiable torch function."""

import numpy as np
import pytest
import torch

from zg_agent.torch import ESTIMATOR_OPTIONS, ZeroGradsFunction

RNG = np.random.default_rng(0)
_A = RNG.standard_normal((10, 10))
HESSIAN = _A @ _A.T / 10 + np.eye(10)
CENTRE = RNG.standard_normal(10)


def quadratic(X):
    X = np.asarray(X)
    return 0.5 * np.einsum("ni,ij,nj->n", X - CENTRE, HESSIAN, X - CENTRE)


def quadratic_grad(x):
    return HESSIAN @ (x - CENTRE)


def plateau(X):  # piecewise constant: zero gradient almost everywhere, minimum 0 at 0.6 (+- 0.125)
    return np.sum(np.round(4 * (np.asarray(X) - 0.6)) ** 2, axis=1)


def cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def descend(f, theta0, steps, lr=0.02):
    theta = torch.nn.Parameter(torch.as_tensor(theta0).clone())
    opt = torch.optim.Adam([theta], lr=lr)
    values = []
    for _ in range(steps):
        opt.zero_grad()
        loss = f(theta)
        loss.backward()
        opt.step()
        values.append(float(loss.detach()))
    return theta.detach(), values


def test_gradient_of_a_quadratic_points_along_the_true_gradient():
    f = ZeroGradsFunction(quadratic, dim=10, popsize=40, seed=0)
    theta = torch.nn.Parameter(torch.zeros(10, dtype=torch.float64))
    cosines = []
    for _ in range(5):
        theta.grad = None
        f(theta).backward()
        cosines.append(cosine(theta.grad.numpy(), quadratic_grad(np.zeros(10))))
    assert min(cosines[2:]) > 0.9, cosines
    assert f.num_evaluations == 5 * 40 and f.num_calls == 5


def test_chain_rule_into_upstream_parameters_matches_finite_differences():
    # theta = tanh(W u): the black box sees theta, the user optimises u.
    W = torch.as_tensor(RNG.standard_normal((10, 3)) / 2)
    u = torch.nn.Parameter(torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64))
    f = ZeroGradsFunction(quadratic, dim=10, popsize=40, sigma=0.01, inner_sigma=0.0, history=1,
                          target_transform="standardize", ridge=1e-9, seed=0)
    loss = f(torch.tanh(W @ u))
    loss.backward()

    def total(v):
        return float(quadratic(np.tanh(W.numpy() @ v)[None])[0])

    h, v = 1e-6, u.detach().numpy()
    fd = np.array([(total(v + h * e) - total(v - h * e)) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(u.grad.numpy(), fd, rtol=2e-3, atol=1e-6)
    # The smoothed value of a quadratic is its value plus a sigma^2 term: close to the exact loss here.
    assert float(loss.detach()) == pytest.approx(total(v), rel=1e-3)


def test_torch_adam_through_the_wrapper_solves_a_plateau():
    f = ZeroGradsFunction(plateau, dim=50, seed=0)
    start = torch.zeros(50)
    with torch.no_grad():
        assert float(f(start)) == pytest.approx(50 * 2.0**2)  # round(-2.4) = -2 per coordinate
    theta, _ = descend(f, start, steps=200)
    with torch.no_grad():
        assert float(f(theta)) == 0.0
    assert f.num_evaluations == 1 + 200 * 20 + 1


def test_same_seed_same_run_other_seed_differs():
    runs = [descend(ZeroGradsFunction(plateau, dim=20, seed=s), torch.zeros(20), steps=15) for s in (3, 3, 4)]
    torch.testing.assert_close(runs[0][0], runs[1][0], rtol=0, atol=0)
    assert runs[0][1] == runs[1][1]
    assert not torch.equal(runs[0][0], runs[2][0])


def test_state_dict_resumes_exactly_through_torch_save(tmp_path):
    f = ZeroGradsFunction(plateau, dim=20, seed=1, surrogate="mlp", k_phi=2)
    theta = torch.nn.Parameter(torch.zeros(20))
    opt = torch.optim.Adam([theta], lr=0.02)

    def step(f, theta, opt):
        opt.zero_grad()
        f(theta).backward()
        opt.step()

    for _ in range(5):
        step(f, theta, opt)
    f.sigma = 0.08  # a schedule moved it; the state keeps it
    torch.save({"f": f.state_dict(), "opt": opt.state_dict(), "theta": theta.detach()}, tmp_path / "ckpt.pt")
    for _ in range(5):
        step(f, theta, opt)

    saved = torch.load(tmp_path / "ckpt.pt")  # torch's default, weights_only=True
    g = ZeroGradsFunction(plateau, dim=20, seed=1, surrogate="mlp", k_phi=2)
    g.load_state_dict(saved["f"])
    assert g.sigma == 0.08 and g.estimators[0].sigma == 0.08
    theta2 = torch.nn.Parameter(saved["theta"])
    opt2 = torch.optim.Adam([theta2], lr=0.02)
    opt2.load_state_dict(saved["opt"])
    for _ in range(5):
        step(g, theta2, opt2)
    torch.testing.assert_close(theta2.detach(), theta.detach(), rtol=0, atol=0)
    assert g.num_evaluations == f.num_evaluations == 200
    assert list(g.parameters()) == []  # the surrogates never leak into the user's optimizer

    other = ZeroGradsFunction(plateau, dim=20, seed=1, surrogate="linear")
    with pytest.raises(ValueError, match="saved with other settings: .*surrogate='mlp' \\(here 'linear'\\)"):
        other.load_state_dict(saved["f"])


def test_an_nn_module_black_box_lends_no_parameters():
    class Box(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))

        def forward(self, X):
            return (X**2).sum(dim=1) * self.scale.detach()

    f = ZeroGradsFunction(Box(), dim=3, array="torch", popsize=4, seed=0)
    assert list(f.parameters()) == []
    f(torch.ones(3, requires_grad=True)).backward()


def test_second_derivatives_through_the_surrogate_raise():
    f = ZeroGradsFunction(quadratic, dim=10, seed=0)
    theta = torch.zeros(10, dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="create_graph=True / double backward cannot go through it"):
        torch.autograd.grad(f(theta) + (theta**2).sum(), theta, create_graph=True)
    f(theta).backward()  # an ordinary backward still works


def test_evaluation_without_grad_leaves_the_surrogate_alone():
    a, b = (ZeroGradsFunction(quadratic, dim=10, seed=0) for _ in range(2))
    theta = torch.nn.Parameter(torch.zeros(10, dtype=torch.float64))
    grads = []
    for f, interleave in ((a, False), (b, True)):
        theta.grad = None
        f(theta).backward()
        if interleave:
            with torch.no_grad():
                assert float(f(theta)) == pytest.approx(quadratic(np.zeros((1, 10)))[0])
        theta.grad = None
        f(theta).backward()
        grads.append(theta.grad.clone())
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)
    assert (a.num_evaluations, b.num_evaluations) == (40, 41)


def test_exact_value_costs_one_more_evaluation_and_equals_f():
    f = ZeroGradsFunction(quadratic, dim=10, seed=0, value="exact")
    theta = torch.nn.Parameter(torch.ones(10, dtype=torch.float64))
    loss = f(theta)
    assert float(loss.detach()) == pytest.approx(quadratic(np.ones((1, 10)))[0])
    assert f.num_evaluations == f.evaluations_per_call() == 21
    loss.backward()
    assert theta.grad is not None and torch.count_nonzero(theta.grad) == 10


def test_rows_are_independent_points_with_their_own_surrogate():
    f = ZeroGradsFunction(quadratic, dim=10, popsize=40, seed=0)
    points = torch.stack([torch.zeros(10), torch.ones(10)]).double().requires_grad_(True)
    for _ in range(4):
        points.grad = None
        values = f(points)
        assert values.shape == (2,)
        values.sum().backward()
    for i in range(2):
        assert cosine(points.grad[i].numpy(), quadratic_grad(points[i].detach().numpy())) > 0.9
    assert f.num_evaluations == 4 * 2 * 40
    with pytest.raises(ValueError, match="number of rows of the first call"):
        f(torch.zeros(3, 10, dtype=torch.float64, requires_grad=True))


def test_dtype_and_device_follow_the_input_and_torch_arrays_reach_fun():
    seen = []

    def fun(X):
        seen.append((type(X), X.dtype))
        return (X**2).sum(dim=1)

    f = ZeroGradsFunction(fun, dim=4, array="torch", popsize=8, seed=0)
    theta = torch.ones(4, dtype=torch.float32, requires_grad=True)
    loss = f(theta)
    loss.backward()
    assert loss.dtype == torch.float32 and loss.shape == () and loss.device == theta.device
    assert theta.grad.dtype == torch.float32 and theta.grad.device == theta.device
    assert seen == [(torch.Tensor, torch.float32)]


def test_half_precision_theta_is_sampled_in_float32_and_overflow_is_named():
    seen = []

    def fun(X):
        seen.append(X.dtype)
        return ((X - 100.0) * 10).sum(dim=1)  # slope 10 per coordinate

    f = ZeroGradsFunction(fun, dim=2, array="torch", popsize=8, sigma=0.01, seed=0,
                          target_transform="standardize", inner_sigma=0.0, ridge=1e-9)
    theta = torch.full((2,), 100.0, dtype=torch.float16, requires_grad=True)
    f(theta).backward()
    assert seen == [torch.float32] and theta.grad.dtype == torch.float16
    np.testing.assert_allclose(theta.grad.float().numpy(), [10.0, 10.0], rtol=1e-2)
    big = ZeroGradsFunction(lambda X: np.full(len(X), 1e6), dim=2, seed=0)
    with pytest.raises(OverflowError, match="do not fit theta's dtype torch.float16"):
        big(torch.zeros(2, dtype=torch.float16, requires_grad=True))
    bf = ZeroGradsFunction(lambda X: (X**2).sum(dim=1).to(torch.bfloat16), dim=2, array="torch", popsize=4, seed=0)
    bf(torch.ones(2, dtype=torch.bfloat16, requires_grad=True)).backward()


def test_per_point_function_and_nonfinite_policy():
    calls = []

    def one(x):
        calls.append(x.shape)
        return float("nan") if x[0] > 0 else float(np.sum(x**2))

    with pytest.raises(ValueError, match="NaN or inf for samples"):
        ZeroGradsFunction(one, dim=3, vectorized=False, popsize=4, seed=0)(torch.zeros(3, requires_grad=True))
    f = ZeroGradsFunction(one, dim=3, vectorized=False, popsize=4, seed=0, nonfinite="worst")
    value = f(torch.zeros(3, requires_grad=True))
    value.backward()
    assert 1 <= f.num_nonfinite <= 3 and set(calls) == {(3,)}
    assert np.isfinite(float(value.detach()))  # the mean over the samples that returned a number
    with torch.no_grad():  # "worst" is for the fit only: f(theta) itself is reported as it came
        assert np.isnan(float(f(torch.ones(3))))


@pytest.mark.parametrize("kwargs, match", [
    (dict(fun="loss"), "fun must be callable"),
    (dict(dim=0), "dim must be an integer >= 1, got 0"),
    (dict(sigma=-1.0), "sigma must be a finite number > 0, got -1.0"),
    (dict(popsize=5), "popsize must be even"),
    (dict(value="mean"), r"value must be one of \['smoothed', 'exact'\], got 'mean'"),
    (dict(array="jax"), "array must be one of"),
    (dict(nonfinite="skip"), "nonfinite must be one of"),
    (dict(lr_theta=0.1), r"unknown option\(s\) \['lr_theta'\].*allowed"),
    (dict(seed=-1), "seed must be a non-negative integer"),
])
def test_bad_settings_name_the_argument(kwargs, match):
    kwargs = {"fun": quadratic, "dim": 10, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        ZeroGradsFunction(kwargs.pop("fun"), kwargs.pop("dim"), **kwargs)


@pytest.mark.parametrize("theta, match", [
    (np.zeros(10), "theta must be a torch.Tensor"),
    (torch.zeros(10, dtype=torch.int64), "floating dtype"),
    (torch.zeros(9), r"shape \(10,\) or \(b, 10\) with b >= 1, got \(9,\)"),
    (torch.zeros(2, 2, 10), r"got \(2, 2, 10\)"),
    (torch.zeros(0, 10), r"b >= 1, got \(0, 10\)"),
    (torch.full((10,), float("nan")), "NaN or inf"),
])
def test_bad_theta_is_named(theta, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ZeroGradsFunction(quadratic, dim=10)(theta)


@pytest.mark.parametrize("returned, match", [
    ("1.5", "returned '1.5' of type str"),
    (None, "returned None of type NoneType"),
    (np.zeros(3), r"returned an array of shape \(3,\) for 20 candidates"),
    (np.zeros(20, dtype=complex), "returned an array of dtype complex128"),
    (torch.zeros(20, dtype=torch.bool), "returned an array of dtype bool"),
])
def test_bad_losses_name_the_function(returned, match):
    def loss_fn(X):
        return returned

    with pytest.raises((TypeError, ValueError), match=f"loss function .*loss_fn .*{match}"):
        ZeroGradsFunction(loss_fn, dim=10)(torch.zeros(10, requires_grad=True))


def test_sigma_schedule_applies_to_every_row_and_is_checked():
    f = ZeroGradsFunction(quadratic, dim=10, seed=0)
    f(torch.zeros(2, 10, dtype=torch.float64, requires_grad=True))
    f.sigma = 0.05
    assert f.sigma == 0.05 and all(e.sigma == 0.05 for e in f.estimators)
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        f.sigma = 0.0
    assert set(ESTIMATOR_OPTIONS) >= {"sigma", "popsize", "surrogate", "history", "locality"}
