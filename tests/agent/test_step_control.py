"""Step control (``step_control="auto"``) of ZeroGrads and OpenES, the batched sampler and design evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from zg_agent import problems
from zg_agent.optim import make_optimizer
from zg_agent.optim.sampling import gaussian_rows
from zg_agent.rollout.objective import EpisodeObjective


def shadow_art(grid: int) -> problems.Problem:
    """ShadowArt's loss over a whole population at once, started from the empty design."""
    import gymnasium as gym

    import zg_envs  # noqa: F401

    env = gym.make("zg/ShadowArt-v0", grid=grid)
    env.reset(seed=0)
    return problems.Problem(f"shadow-art-{grid}", lambda x: -env.unwrapped.batch_rewards(x),
                            np.full(grid**3, -0.5), 0.0)


def run(problem, budget, seed=0, method="zerograds", **options):
    """``(optimizer, loss of its final mean)`` after whole iterations within ``budget`` evaluations."""
    opt = make_optimizer(method, problem.x0, seed=seed, **options)
    while opt.num_evaluations + opt.popsize <= budget:
        x = opt.ask()
        opt.tell(x, problem.fun(x))
    return opt, float(problem.fun(opt.mean[None])[0])


@pytest.mark.parametrize("dim", [1, 40])
def test_step_control_converges_on_a_smooth_sphere_where_fixed_steps_stall(dim):
    problem = problems.sphere(dim)
    start = float(problem.fun(problem.x0[None])[0])
    _, fixed = run(problem, 6000, step_control="none")
    opt, adaptive = run(problem, 6000)
    # fixed sigma and step keep an Adam-sized jitter; the control shrinks both near the minimum
    assert adaptive < fixed / 3 and adaptive < 1e-3 * start, (adaptive, fixed)
    assert opt.sigma < 0.1 and opt._theta_adam.lr < 0.02


@pytest.mark.parametrize("make, budget", [(lambda: problems.step_sphere(100), 4000),
                                          (lambda: problems.threshold_match(1000), 8000)])
def test_step_control_still_descends_plateaus(make, budget):
    problem = make()
    start = float(problem.fun(problem.x0[None])[0])
    _, final = run(problem, budget)
    assert final < 0.6 * start, (final, start)


def test_a_rising_smoothed_loss_sends_theta_back_with_shorter_steps():
    # Shadow art with 4,096 voxels and far too long steps: every coordinate random-walks and the design fills
    # with noise. The control must notice the climbing batch means, go back and shorten the step.
    art = shadow_art(16)
    start = float(art.fun(art.x0[None])[0])
    _, fixed = run(art, 3000, sigma=0.3, lr_theta=0.1, step_control="none")
    opt, final = run(art, 3000, sigma=0.3, lr_theta=0.1)
    assert fixed > start + 0.1  # the failure being guarded against
    assert opt._control.reverts >= 1 and opt._theta_adam.lr < 0.1
    assert final < start


def test_a_flat_start_widens_sigma():
    # Every loss equal: nothing to learn at this sigma, so the control looks wider (up to 4x the start).
    opt, _ = run(problems.threshold_match(50), 3000, sigma=1e-4)  # x0 = -0.2: no sample crosses 0
    assert 1e-4 < opt.sigma <= 4e-4 + 1e-12


def test_resume_inside_a_window_and_before_a_revert_is_exact():
    problem = shadow_art(8)
    options = dict(sigma=0.3, lr_theta=0.3, control_window=4, seed=3)
    ref = make_optimizer("zerograds", problem.x0, **options)
    states, reverts = [], []
    for _ in range(90):
        states.append(ref.state_dict())
        x = ref.ask()
        ref.tell(x, problem.fun(x))
        reverts.append(ref._control.reverts)
    first = reverts.index(1)
    start = first - 2 if (first - 2) % 4 else first - 3  # inside a window, before the first revert
    resumed = make_optimizer("zerograds", problem.x0, **options)
    resumed.load_state_dict(states[start])
    for _ in range(90 - start):
        x = resumed.ask()
        resumed.tell(x, problem.fun(x))
    np.testing.assert_array_equal(resumed.mean, ref.mean)
    a, b = resumed.state_dict(), ref.state_dict()
    assert a["rng"] == b["rng"] and a["algo"]["control"]["means"] == b["algo"]["control"]["means"]
    assert a["algo"]["lr_theta_now"] == b["algo"]["lr_theta_now"] and a["algo"]["sigma"] == b["algo"]["sigma"]
    np.testing.assert_array_equal(a["algo"]["points"], b["algo"]["points"])


def test_state_with_another_step_control_is_refused():
    problem = problems.threshold_match(10)
    fixed = make_optimizer("zerograds", problem.x0, step_control="none", seed=0)
    controlled = make_optimizer("zerograds", problem.x0, seed=0)
    with pytest.raises(ValueError, match="saved with step_control='none'"):
        controlled.load_state_dict(fixed.state_dict())
    with pytest.raises(ValueError, match="saved with step_control='auto'"):
        fixed.load_state_dict(controlled.state_dict())


def test_a_plateau_right_after_a_shrink_undoes_it_instead_of_halving_the_step_each_round():
    from zg_agent.optim.step_control import StepControl

    theta = np.zeros(10)
    control = StepControl(theta, 0.1, dim=10, popsize=10, control_window=2, patience=2, shrink=0.5)
    sigma, lr = 0.1, 0.02
    noisy, flat = np.array([0.0, 1.0]), np.array([0.5, 0.5])  # the same batch mean, spread or all equal

    def feed(losses, iterations=6):  # one window to set the best, two without a better one: a stall
        nonlocal sigma, lr
        for _ in range(iterations):
            change = control.update(losses, theta, theta, sigma, lr)
            if change is not None:
                assert not change.reverted
                sigma, lr = change.sigma, change.lr

    feed(noisy)  # a stall on a spread of losses: look closer, with shorter steps
    assert (sigma, lr) == (0.05, 0.01)
    saved = StepControl(theta, 0.1, dim=10, popsize=10, control_window=2, patience=2, shrink=0.5)
    saved.load_state_dict(control.state_dict())
    assert saved.shrunk_from == control.shrunk_from == (0.1, 0.02)  # a resume right after the shrink keeps it
    feed(flat)  # the finer look is a plateau: the shrink is undone (a widening would keep the halved step)
    assert (sigma, lr) == (0.1, 0.02)
    for _ in range(3):  # and not tried again: no round of shrinking and widening that halves the step each time
        feed(noisy)
        assert (sigma, lr) == (0.1, 0.02)
    restored = StepControl(theta, 0.1, dim=10, popsize=10, control_window=2, patience=2, shrink=0.5)
    restored.load_state_dict(control.state_dict())
    assert restored.flat_floor == control.flat_floor == 0.1 and restored.shrunk_from is None
    for step in range(12):  # a climbing loss: a revert, after which the floor no longer holds
        change = control.update(np.array([0.5, 0.6]) + 0.1 * step, theta, theta, sigma, lr)
        if change is not None and change.reverted:
            break
    assert change is not None and change.reverted and control.flat_floor == 0.0
    old = control.state_dict()
    del old["shrunk_from"], old["flat_floor"]  # a state saved before the undo existed loads as "no shrink"
    restored.load_state_dict(old)
    assert restored.flat_floor == 0.0 and restored.shrunk_from is None


def test_sigma_never_shrinks_below_its_floor():
    # A 4-D sphere far from the origin stalls again and again; sigma stops at 1e-4 of its start (or sigma_min).
    problem = problems.Problem("far-sphere", lambda x: np.sum((x - 3.0) ** 2, axis=1), np.zeros(4), 0.0)
    opt, final = run(problem, 40_000, popsize=8)
    assert opt.sigma == pytest.approx(1e-5) and final < 1e-6
    opt, _ = run(problem, 20_000, popsize=8, sigma_min=1e-3)
    assert opt.sigma == pytest.approx(1e-3)


def test_tied_losses_share_their_rank():
    from zg_agent.optim.es import centered_ranks

    np.testing.assert_allclose(centered_ranks(np.array([3.0, 1.0, 1.0, 2.0])), [0.5, -1 / 3, -1 / 3, 1 / 6])
    np.testing.assert_array_equal(centered_ranks(np.full(5, 0.7)), np.zeros(5))


@pytest.mark.parametrize("method", ["zerograds", "es"])
@pytest.mark.parametrize("option, value, match", [
    ("step_control", "fast", r"step_control must be one of .*'auto'.*got 'fast'"),
    ("control_window", 0, r"control_window must be an integer >= 1, got 0"),
    ("patience", 0, r"patience must be an integer >= 1, got 0"),
    ("shrink", 1.0, r"shrink must be in \(0, 1\), got 1.0"),
    ("shrink", 0.0, r"shrink must be a finite number > 0, got 0.0"),
])
def test_bad_step_control_options_name_the_option_the_value_and_what_is_allowed(method, option, value, match):
    with pytest.raises(ValueError, match=match):
        make_optimizer(method, np.zeros(3), **{option: value})


def test_gaussian_rows_are_one_reproducible_float32_draw():
    a = gaussian_rows(np.random.default_rng(5), 4, 1000)
    b = gaussian_rows(np.random.default_rng(5), 4, 1000)
    assert a.dtype == np.float32 and a.shape == (4, 1000)
    np.testing.assert_array_equal(a, b)
    assert abs(float(a.std()) - 1.0) < 0.05
    rng = np.random.default_rng(5)
    gaussian_rows(rng, 4, 1000)
    assert not np.array_equal(gaussian_rows(rng, 4, 1000), a)  # the generator moved on by one draw


# ---------------------------------------------------------------------------------------------- batched designs
@pytest.mark.parametrize("env_kwargs", [{"grid": 8}, {"grid": 8, "loss": "iou", "volume_weight": 0.2},
                                        {"grid": 6, "resolution": 14}, {"grid": 5, "light": "point"},
                                        {"grid": 6, "targets": "random"},
                                        {"grid": 6, "targets": "random", "randomize_target": True}])
def test_batched_objective_equals_one_episode_at_a_time(env_kwargs, monkeypatch):
    from zg_agent.envs import run_episode
    from zg_envs.shadow_art_v0 import ShadowArtEnv

    calls = []
    original = ShadowArtEnv.batch_rewards
    monkeypatch.setattr(ShadowArtEnv, "batch_rewards", lambda self, a: calls.append(len(a)) or original(self, a))
    obj = EpisodeObjective("zg/ShadowArt-v0", env_kwargs, "open_loop", {"initial_action": -0.5},
                           max_episode_steps=1)
    try:
        rng = np.random.default_rng(0)
        thetas = obj.initial_params() + 0.6 * rng.standard_normal((12, obj.num_params))
        target = obj._env.unwrapped.target_actions()
        if target is not None and not env_kwargs.get("randomize_target"):  # a perfect design: a reward of 0
            thetas[0] = np.arctanh(0.5 * target)
        seeds = [4, 9]
        batched = obj.evaluate(thetas, seeds)
        assert calls == [12, 12]  # one vectorised call per reset seed
        one_by_one = np.array([[run_episode(obj._env, obj.policy, t, s)[0] for s in seeds] for t in thetas])
        # bit for bit, the sign of a zero included
        np.testing.assert_array_equal(batched.returns.view(np.int64), one_by_one.view(np.int64))
        assert batched.env_steps == 24 and np.all(batched.lengths == 1)
    finally:
        obj.close()


def test_batch_rewards_reads_float32_rows_as_their_float64_values():
    import gymnasium as gym

    import zg_envs  # noqa: F401

    env = gym.make("zg/ShadowArt-v0", grid=6)
    env.reset(seed=3)
    rows = np.random.default_rng(0).uniform(-1, 1, (5, 216)).astype(np.float32)
    rows[0, :7] = 0.0  # on the threshold: empty in both types
    np.testing.assert_array_equal(env.unwrapped.batch_rewards(rows), env.unwrapped.batch_rewards(rows.astype(float)))
    with pytest.raises(ValueError, match=r"rows \[1\]"):
        bad = rows.copy()
        bad[1, 0] = np.inf
        env.unwrapped.batch_rewards(bad)


def test_batch_rewards_refuses_bad_rows():
    import gymnasium as gym

    import zg_envs  # noqa: F401

    env = gym.make("zg/ShadowArt-v0", grid=4)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must have shape \(n, 64\)"):
        env.unwrapped.batch_rewards(np.zeros((2, 63)))
    bad = np.zeros((3, 64))
    bad[2, 5] = np.nan
    with pytest.raises(ValueError, match=r"rows \[2\]"):
        env.unwrapped.batch_rewards(bad)


def test_shadow_art_k32_with_shipped_settings_ends_no_worse_than_its_start():
    # The failure of fixed steps at 32,768 voxels: the design filled with noise. Shipped settings, small budget.
    obj = EpisodeObjective("zg/ShadowArt-v0", {"grid": 32}, "open_loop", {"initial_action": -0.5},
                           max_episode_steps=1)
    try:
        x0 = obj.initial_params()
        opt = make_optimizer("zerograds", x0, sigma=0.3, popsize=16, seed=0)
        seeds = obj.episode_seeds(0)
        start = obj(x0, seeds)
        while opt.num_evaluations < 3200:
            x = opt.ask()
            opt.tell(x, obj.evaluate(x, seeds).losses)
        assert obj(opt.mean, seeds) <= start
    finally:
        obj.close()


# ---------------------------------------------------------------------------------------------- OpenES
@pytest.mark.parametrize("seed", [0, 1])
def test_openes_with_step_control_does_not_end_worse_than_its_start_where_fixed_steps_diverge(seed):
    # ShadowArt with 4,096 voxels and a step of 0.05: with fixed steps every coordinate random-walks and the
    # design fills with noise. The control sees the batch means climb, goes back and halves the step.
    art = shadow_art(16)
    start = float(art.fun(art.x0[None])[0])
    _, fixed = run(art, 3000, seed, "es", sigma=0.3, lr=0.05, popsize=16, step_control="none")
    opt, final = run(art, 3000, seed, "es", sigma=0.3, lr=0.05, popsize=16, step_control="auto")
    assert fixed > start + 0.1  # the failure being guarded against
    assert opt._control.reverts >= 1 and opt._adam.lr < 0.05
    assert final < start


def test_openes_step_control_none_is_the_fixed_step_baseline_and_the_default():
    assert make_optimizer("es", np.zeros(3)).step_control == "none"
    opt, _ = run(shadow_art(16), 1600, method="es", sigma=0.3, lr=0.05, popsize=16)
    assert opt._control is None and opt._adam.lr == 0.05 and opt.sigma == 0.3
    assert "control" not in opt.state_dict()["algo"]


@pytest.mark.parametrize("make, options, changed", [
    (lambda: shadow_art(16), dict(sigma=0.3, lr=0.05, popsize=16), "reverts"),  # resume before the first revert
    (lambda: problems.sphere(40), dict(popsize=8), "sigma"),  # resume after sigma has shrunk once
])
def test_openes_resume_inside_a_window_is_exact(make, options, changed):
    problem = make()
    options = dict(options, step_control="auto", control_window=4, seed=3)
    ref = make_optimizer("es", problem.x0, **options)
    states, marks = [], []
    for _ in range(200):
        states.append(ref.state_dict())
        x = ref.ask()
        ref.tell(x, problem.fun(x))
        marks.append(ref._control.reverts if changed == "reverts" else ref.sigma < options.get("sigma", 0.1))
    first = marks.index(True) if changed == "sigma" else marks.index(1)
    inside = [i for i, st in enumerate(states) if st["algo"]["control"]["open_count"] > 0]  # mid-window states
    start = max(i for i in inside if i < first) if changed == "reverts" else min(i for i in inside if i > first + 1)
    resumed = make_optimizer("es", problem.x0, **options)
    resumed.load_state_dict(states[start])
    for _ in range(200 - start):
        x = resumed.ask()
        resumed.tell(x, problem.fun(x))
    np.testing.assert_array_equal(resumed.mean, ref.mean)
    a, b = resumed.state_dict(), ref.state_dict()
    assert a["rng"] == b["rng"] and a["algo"]["control"]["means"] == b["algo"]["control"]["means"]
    np.testing.assert_array_equal(a["algo"]["control"]["best_theta"], b["algo"]["control"]["best_theta"])
    assert a["algo"]["lr_now"] == b["algo"]["lr_now"] and a["algo"]["sigma"] == b["algo"]["sigma"]
    np.testing.assert_array_equal(a["algo"]["adam"]["m"], b["algo"]["adam"]["m"])


def test_openes_state_with_another_step_control_is_refused():
    problem = problems.threshold_match(10)
    fixed = make_optimizer("es", problem.x0, seed=0)
    controlled = make_optimizer("es", problem.x0, step_control="auto", seed=0)
    with pytest.raises(ValueError, match="saved with step_control='none'"):
        controlled.load_state_dict(fixed.state_dict())
    with pytest.raises(ValueError, match="saved with step_control='auto'"):
        fixed.load_state_dict(controlled.state_dict())


def test_openes_step_control_options_come_from_its_signature():
    from zg_agent.config import load_config
    from zg_agent.config.options import make_options

    opts = make_options("es", {"step_control": "auto", "control_window": 5, "shrink": 0.25}, "test")
    assert opts.kwargs() == {"step_control": "auto", "control_window": 5, "shrink": 0.25}
    opt = make_optimizer("es", np.zeros(3), **opts.kwargs())
    assert (opt.step_control, opt.control_window, opt.shrink) == ("auto", 5, 0.25)
    assert load_config("es", "zg/ShadowArt-v0").options.kwargs()["step_control"] == "auto"  # the shipped setting
