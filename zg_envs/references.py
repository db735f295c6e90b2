"""Reference scores of an environment instance, so that any result can be given as a normalised score.

Every reference is an undiscounted episode RETURN of the env exactly as configured (its arguments, its time
limit), so it is on the same scale as the returns a trainer reports:

- ``start``: the design or behaviour the optimizers start from, a constant action in every step (the Box
  centre, zero, unless ``start_action`` says otherwise, e.g. ShadowArt's shipped start of -0.5: an empty
  sculpture);
- ``random``: the mean return of uniformly random actions over fixed-seed episodes;
- ``upper``: the best known return and where it comes from (``upper_source``), or ``None`` where none is
  known: the env's own ``max_return`` when it declares one; the hidden target's actions where the target is
  a hidden design (ShadowCaster, TreeGrowth, ShadowArt ``targets="random"``: loss 0 / IoU 1); ShadowArt's
  visual hull of the user's targets otherwise; CharacterMimic's largest possible return (the sum of the
  reward weights in every step of the longest episode); for the locomotion characters, published PyBullet
  scores (RL Baselines3 Zoo), which hold only for the default reward and 1,000-step episodes.

The normalised score is ``(score - start) / (upper - start)``: 0 at the start, 1 at the upper reference.

    import gymnasium as gym, zg_envs
    from zg_envs.references import reference_scores
    env = gym.make("zg/ShadowCaster-v0", max_episode_steps=8)
    refs = reference_scores(env)
    print(refs.start, refs.random, refs.upper, refs.upper_source, refs.normalize(0.1))
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

#: RL Baselines3 Zoo, benchmark.md ("Performance of trained agents", one trained agent each, deterministic
#: evaluation): PyBullet's port of each locomotion task. The first entry is the upper reference (PPO, the RL
#: method of this project); the others are quoted in the source string. Humanoid has no PyBullet entry there.
ZOO = "RL Baselines3 Zoo benchmark.md (github.com/DLR-RM/rl-baselines3-zoo)"
PUBLISHED: dict[str, tuple[str, tuple[tuple[str, float, str], ...]]] = {
    "hopper": ("HopperBulletEnv-v0", (("PPO", 2575.054, "2M"), ("SAC", 2603.494, "1M"))),
    "walker2d": ("Walker2DBulletEnv-v0", (("PPO", 2109.992, "2M"), ("SAC", 2292.266, "1M"))),
    "half_cheetah": ("HalfCheetahBulletEnv-v0", (("PPO", 2924.721, "2M"), ("SAC", 2792.170, "1M"))),
    "ant": ("AntBulletEnv-v0", (("PPO", 2865.922, "2M"), ("SAC", 3073.114, "1M"))),
    "Pendulum-v1": ("Pendulum-v1", (("PPO", -172.225, "100k"), ("SAC", -156.995, "20k"))),
}
#: the locomotion reward settings that the published scores were measured with (our defaults)
_LOCOMOTION_DEFAULTS = {"forward_weight": 1.0, "alive_weight": 1.0, "energy_weight": 0.2}
_PUBLISHED_STEPS = 1000


@dataclass(frozen=True)
class References:
    """Reference returns of one configured env (see the module docstring)."""

    start: float
    random: float
    upper: float | None
    upper_source: str
    start_source: str = "the Box centre (zero action) in every step"

    def normalize(self, score: float) -> float:
        """``(score - start) / (upper - start)``; NaN when there is no upper reference or it equals the start."""
        if self.upper is None or not math.isfinite(self.upper) or self.upper == self.start:
            return math.nan
        return (float(score) - self.start) / (self.upper - self.start)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "References":
        return cls(**{k: d[k] for k in ("start", "random", "upper", "upper_source", "start_source") if k in d})


# ---------------------------------------------------------------------------------------------- episodes
def _constant_action(space: spaces.Box, start_action) -> np.ndarray:
    centre = (space.low.astype(np.float64) + space.high) / 2.0
    centre = np.where(np.isfinite(centre), centre, 0.0)
    if start_action is None:
        return centre.astype(space.dtype)
    try:
        a = np.broadcast_to(np.asarray(start_action, dtype=np.float64), space.shape)
    except (ValueError, TypeError):
        raise ValueError(f"start_action must be a number or an array of shape {space.shape}, "
                         f"got {start_action!r}") from None
    if not np.all(np.isfinite(a)) or np.any(a < space.low) or np.any(a > space.high):
        raise ValueError(f"start_action must be finite and inside the action Box [{space.low.min()}, "
                         f"{space.high.max()}], got {start_action!r}")
    return a.astype(space.dtype)


def _episode(env: gym.Env, seed: int, act) -> float:
    """Return of one episode from ``reset(seed=seed)``; ``act(t)`` gives the action of step ``t``."""
    env.reset(seed=int(seed))
    total, t, done = 0.0, 0, False
    while not done:
        _, reward, terminated, truncated, _ = env.step(act(t))
        total += float(reward)
        t, done = t + 1, terminated or truncated
    return total


def _time_limit(env: gym.Env) -> int | None:
    """The smallest TimeLimit wrapped around ``env`` (None without one)."""
    limits, e = [], env
    while isinstance(e, gym.Wrapper):
        if isinstance(e, gym.wrappers.TimeLimit):
            limits.append(int(e._max_episode_steps))
        e = e.env
    return min(limits) if limits else None


# ---------------------------------------------------------------------------------------------- upper
def _design_upper(env: gym.Env, seeds) -> tuple[float, str] | None:
    """The return of the hidden target's actions, else of ShadowArt's visual hull, over ``seeds``."""
    u = env.unwrapped
    if not callable(getattr(u, "target_actions", None)):
        return None
    returns, source = [], None
    for seed in seeds:
        env.reset(seed=int(seed))
        target = u.target_actions()  # read after the reset: a randomised target changes with it
        if target is not None:
            actions, source = np.asarray(target), "the hidden target's own design (loss 0 / IoU 1)"
        elif callable(getattr(u, "visual_hull", None)):
            actions, source = u.visual_hull(), "the visual hull of the targets (env.unwrapped.visual_hull())"
        else:
            return None
        steps = actions.reshape(-1, *env.action_space.shape)
        returns.append(_episode(env, seed, lambda t, s=steps: s[min(t, len(s) - 1)]))
    return float(np.mean(returns)), source


def _mimic_upper(env: gym.Env) -> tuple[float, str] | None:
    u = env.unwrapped
    names = ("pose_weight", "velocity_weight", "end_effector_weight", "root_weight", "com_weight")
    if not all(hasattr(u, n) for n in names) or getattr(u, "horizon", None) is None:
        return None
    steps = int(u.horizon)
    limit = _time_limit(env)
    if limit is not None:
        steps = min(steps, limit)
    per_step = sum(float(getattr(u, n)) for n in names)
    return per_step * steps, (f"the largest possible return: every similarity 1 in all {steps} steps of the "
                              f"longest episode ({per_step:g} per step)")


def _published_upper(env: gym.Env) -> tuple[float | None, str] | None:
    u = env.unwrapped
    key = getattr(u, "character", None)
    if key is None and env.spec is not None:
        key = env.spec.id
    if key not in PUBLISHED:
        if getattr(u, "character", None) is not None:
            return None, f"no published PyBullet score of {key!r} in {ZOO}"
        return None
    bullet_id, scores = PUBLISHED[key]
    quoted = ", ".join(f"{algo} {score:,.1f} after {steps} steps" for algo, score, steps in scores)
    text = f"published for {bullet_id} in {ZOO}: {quoted}"
    if getattr(u, "character", None) is not None:
        changed = [n for n, v in _LOCOMOTION_DEFAULTS.items() if float(getattr(u, n, v)) != v]
        limit = _time_limit(env)
        if changed or limit != _PUBLISHED_STEPS:
            why = (f"{', '.join(changed)} changed" if changed else
                   f"episodes of {limit} steps, not {_PUBLISHED_STEPS}")
            return None, f"not applicable ({why}); {text}"
    return scores[0][1], text


def upper_reference(env: gym.Env, seeds=(0,)) -> tuple[float | None, str]:
    """``(upper, source)`` of ``env`` as configured (see the module docstring); ``(None, why)`` if unknown."""
    u = env.unwrapped
    declared = getattr(u, "max_return", None)
    if declared is not None:
        return float(declared), "the env's own max_return"
    for finder in (lambda: _design_upper(env, seeds), lambda: _mimic_upper(env), lambda: _published_upper(env)):
        found = finder()
        if found is not None:
            return found
    return None, "none known for this env"


# ---------------------------------------------------------------------------------------------- public
def reference_scores(env: gym.Env, *, seed: int = 0, episodes: int = 1, random_episodes: int = 5,
                     start_action=None) -> References:
    """The references of ``env`` as configured (wrappers included): start, random, upper (module docstring).

    Args:
        env: a Gymnasium env with a Box action space, e.g. ``gymnasium.make("zg/TreeGrowth-v0")``.
        seed: reset seed of the first episode; episode ``i`` is reset with ``seed + i``. The random actions
            are drawn from ``numpy.random.default_rng(seed)``.
        episodes: episodes of the start (and of the upper reference), averaged; use the evaluation seeds'
            count (and ``seed`` the first of them) to get exactly what an evaluation of the start reports.
        random_episodes: episodes of uniformly random actions, averaged.
        start_action: the constant action of the start (a number or an array of the action shape); default
            the Box centre.
    """
    if not isinstance(env.action_space, spaces.Box):
        raise ValueError(f"env must have a Box action space, got {env.action_space!r}")
    for name, value in (("episodes", episodes), ("random_episodes", random_episodes)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    space = env.action_space
    a0 = _constant_action(space, start_action)
    seeds = [seed + i for i in range(episodes)]
    start = float(np.mean([_episode(env, s, lambda t: a0) for s in seeds]))
    rng = np.random.default_rng(seed)
    low = np.where(np.isfinite(space.low), space.low, -1.0)
    high = np.where(np.isfinite(space.high), space.high, 1.0)
    rand = float(np.mean([_episode(env, seed + i, lambda t: rng.uniform(low, high).astype(space.dtype))
                          for i in range(random_episodes)]))
    upper, source = upper_reference(env, seeds)
    start_source = ("the Box centre (zero action) in every step" if start_action is None
                    else f"the constant action {np.asarray(start_action).tolist()!r} in every step")
    return References(start, rand, upper, source, start_source)
