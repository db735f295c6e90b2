"""Surrogate-guided sampling (ZeroGrads(guided=..., guided_subspace=...)): covariance, pairs, determinism, resume."""

import pickle

import numpy as np
import pytest
import torch

from zg_agent import problems
from zg_agent.optim import make_optimizer
from zg_agent.optim.guided import GuidedSubspace
from zg_agent.optim.sampling import gaussian_rows
from zg_agent.torch import ZeroGradsFunction
from optim_runs import SPHERE, run_iterations


def test_guided_perturbations_have_the_guided_es_covariance_with_trace_d():
    d, g = 6, 0.6
    guide = GuidedSubspace(d, guided=g, k=2)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=d), rng.normal(size=d)
    guide.add(a)
    guide.add(b)
    u = np.linalg.qr(np.stack([a, b], axis=1))[0]  # (d, 2) orthonormal basis of the same span
    expected = (1 - g) * np.eye(d) + g * d / 2 * u @ u.T
    np.testing.assert_allclose(guide.covariance(), expected, atol=1e-12)
    assert np.trace(expected) == pytest.approx(d)

    eps = guide.perturbations(gaussian_rows(rng, 200_000, d), rng)
    empirical = eps.T @ eps / len(eps)
    # entries of an empirical covariance of n draws have std <= sqrt(2 / n) * max variance (about 0.01 here)
    np.testing.assert_allclose(empirical, expected, atol=0.05 * expected.max())
    assert np.abs(eps.mean(axis=0)).max() < 0.02


def test_the_subspace_skips_zero_gradients_and_counts_dependent_ones_once():
    guide = GuidedSubspace(5, guided=0.5, k=3)
    assert guide.rank == 0
    np.testing.assert_array_equal(guide.covariance(), np.eye(5))  # isotropic before the first gradient
    guide.add(np.zeros(5))
    guide.add(np.full(5, np.nan))
    assert guide.rank == 0
    guide.add(np.arange(5.0))
    guide.add(-2 * np.arange(5.0))  # the same direction
    assert guide.rank == 1
    guide.add(np.ones(5))
    guide.add(np.eye(5)[0])  # pushes out the first of the three kept
    assert guide.rank == 3
    basis = guide.basis()
    np.testing.assert_allclose(basis @ basis.T, np.eye(3), atol=1e-12)


def test_zerograds_guided_samples_come_in_antithetic_pairs_with_the_formula_covariance():
    d, g, k = 5, 0.5, 2
    opt = make_optimizer("zerograds", np.zeros(d), seed=0, guided=g, guided_subspace=k, inner_sigma=0.0,
                         popsize=4)
    fun = problems.sphere(d).fun
    run_iterations(opt, fun, 3)
    guide = opt.estimator.guide
    assert guide.rank == 2
    theta, sigma = opt.mean, opt.sigma
    draws = []
    for _ in range(20_000):
        eps = (opt.estimator.sample(theta, opt.rng) - theta) / sigma
        np.testing.assert_allclose(eps[:2], -eps[2:], atol=1e-12)
        draws.append(eps[:2])
    eps = np.concatenate(draws)
    expected = guide.covariance()
    np.testing.assert_allclose(eps.T @ eps / len(eps), expected, atol=0.05 * expected.max())


def test_guided_is_deterministic_from_the_seed_and_off_by_default():
    kw = {"guided": 0.5, "guided_subspace": 3}
    a = run_iterations(make_optimizer("zerograds", SPHERE.x0, seed=3, **kw), SPHERE.fun, 6)
    b = run_iterations(make_optimizer("zerograds", SPHERE.x0, seed=3, **kw), SPHERE.fun, 6)
    c = run_iterations(make_optimizer("zerograds", SPHERE.x0, seed=4, **kw), SPHERE.fun, 6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    plain = make_optimizer("zerograds", SPHERE.x0, seed=3)
    assert plain.estimator.guide is None and "guide" not in plain.state_dict()["algo"]
    np.testing.assert_array_equal(run_iterations(plain, SPHERE.fun, 6),
                                  run_iterations(make_optimizer("zerograds", SPHERE.x0, seed=3, guided=0.0),
                                                 SPHERE.fun, 6))
    assert not np.array_equal(a, run_iterations(make_optimizer("zerograds", SPHERE.x0, seed=3), SPHERE.fun, 6))


def test_guided_resume_mid_run_gives_the_uninterrupted_trajectory():
    kw = {"guided": 0.4, "guided_subspace": 2}
    full = run_iterations(make_optimizer("zerograds", SPHERE.x0, seed=1, **kw), SPHERE.fun, 10)
    first = make_optimizer("zerograds", SPHERE.x0, seed=1, **kw)
    head = run_iterations(first, SPHERE.fun, 4)
    first.ask()  # interrupted between ask and tell
    state = pickle.loads(pickle.dumps(first.state_dict()))
    assert len(state["algo"]["guide"]["gradients"]) == 2

    resumed = make_optimizer("zerograds", SPHERE.x0, seed=99, **kw)
    resumed.load_state_dict(state)
    pending = state["pending"]
    resumed.tell(pending, SPHERE.fun(pending))
    tail = np.concatenate([[resumed.mean], run_iterations(resumed, SPHERE.fun, 5)])
    np.testing.assert_array_equal(np.concatenate([head, tail]), full)

    other = make_optimizer("zerograds", SPHERE.x0, seed=1, guided=0.4, guided_subspace=1)
    with pytest.raises(ValueError, match="guided_subspace=1"):
        other.load_state_dict(state)
    longer = make_optimizer("zerograds", SPHERE.x0, seed=1, guided=0.4, guided_subspace=3)  # room for them, but
    with pytest.raises(ValueError, match=r"saved .* guided_subspace=2.*this optimizer has guided_subspace=3"):
        longer.load_state_dict(state)  # the ring's order would not carry over
    plain = make_optimizer("zerograds", SPHERE.x0, seed=1)
    with pytest.raises(ValueError, match=r"saved with guided sampling.*this optimizer has guided=0"):
        plain.load_state_dict(state)  # the subspace would be dropped without a word
    # a state saved without guided sampling loads, with an empty subspace (isotropic until the next fit)
    plain_state = make_optimizer("zerograds", SPHERE.x0, seed=1).state_dict()
    late = make_optimizer("zerograds", SPHERE.x0, seed=1, **kw)
    late.load_state_dict(plain_state)
    assert late.estimator.guide.rank == 0


def test_zerograds_function_resumes_guided_sampling_through_torch_save(tmp_path):
    def plateau(x):
        return np.round(4 * np.sum((x - 0.3) ** 2, axis=-1)) / 4

    def loop(f, theta, opt, n):
        for _ in range(n):
            opt.zero_grad()
            f(theta).backward()
            opt.step()

    kw = {"guided": 0.5, "guided_subspace": 2}
    f = ZeroGradsFunction(plateau, dim=10, seed=2, vectorized=True, **kw)
    theta = torch.nn.Parameter(torch.zeros(10, dtype=torch.float64))
    opt = torch.optim.Adam([theta], lr=0.05)
    loop(f, theta, opt, 4)
    torch.save({"f": f.state_dict(), "opt": opt.state_dict(), "theta": theta.detach()}, tmp_path / "ckpt.pt")
    loop(f, theta, opt, 4)

    saved = torch.load(tmp_path / "ckpt.pt")
    g = ZeroGradsFunction(plateau, dim=10, seed=2, vectorized=True, **kw)
    g.load_state_dict(saved["f"])
    theta2 = torch.nn.Parameter(saved["theta"])
    opt2 = torch.optim.Adam([theta2], lr=0.05)
    opt2.load_state_dict(saved["opt"])
    loop(g, theta2, opt2, 4)
    torch.testing.assert_close(theta2.detach(), theta.detach(), rtol=0, atol=0)

    # states saved before the option existed lack it in their settings: they had its default
    legacy = ZeroGradsFunction(plateau, dim=10, seed=2, vectorized=True)
    loop(legacy, theta2, opt2, 1)
    state = legacy.state_dict()
    key = next(k for k in state if k.endswith("_extra_state"))
    for name in ("guided", "guided_subspace"):
        del state[key]["options"][name]
    ZeroGradsFunction(plateau, dim=10, seed=2, vectorized=True).load_state_dict(state)


@pytest.mark.parametrize("options, match", [
    ({"guided": -0.1}, "guided must be a finite number >= 0, got -0.1"),
    ({"guided": 1.0}, r"guided must be in \[0, 1\) .*got 1.0"),
    ({"guided": float("nan")}, "guided must be a finite number >= 0, got nan"),
    ({"guided": "0.5"}, "guided must be a finite number >= 0, got '0.5'"),
    ({"guided": 0.5, "guided_subspace": 0}, "guided_subspace must be an integer >= 1, got 0"),
    ({"guided": 0.5, "guided_subspace": 2.0}, "guided_subspace must be an integer >= 1, got 2.0"),
    ({"guided": 0.5, "guided_subspace": 9}, r"guided_subspace must be an integer in \[1, d = 8\], got 9"),
])
def test_bad_guided_options_name_the_option_the_value_and_the_range(options, match):
    with pytest.raises(ValueError, match=match):
        make_optimizer("zerograds", SPHERE.x0, seed=0, **options)


def test_the_default_subspace_size_does_not_bind_below_its_dimension_when_off():
    make_optimizer("zerograds", np.zeros(1), seed=0)  # guided_subspace=4 > d = 1, unused
    with pytest.raises(ValueError, match=r"guided_subspace must be an integer in \[1, d = 1\], got 4"):
        make_optimizer("zerograds", np.zeros(1), seed=0, guided=0.5)


def test_guided_reaches_the_default_loss_on_a_plateau_sphere():
    p = problems.step_sphere(50)
    finals = {}
    for guided in (0.0, 0.5):
        opt = make_optimizer("zerograds", p.x0, seed=0, guided=guided)
        run_iterations(opt, p.fun, 150)
        finals[guided] = float(p.fun(opt.mean[None])[0])
    start = float(p.fun(p.x0[None])[0])
    assert finals[0.5] <= finals[0.0] + 1e-12 and finals[0.5] < 0.2 * start, finals
