"""Environments for the trainers: env-id checks (with suggestions), :func:`make_env` with clear errors, the Box
action-space check, and one episode loop (:func:`play_episode`; :func:`run_episode` for a flat-theta policy)
used by the episode objective, the PPO trainer's evaluation and ``zg-replay``."""

from __future__ import annotations

import contextlib
import difflib
import importlib
import math
from typing import Callable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .policies import ObsStats, Policy
from .validation import check_non_empty_str

#: how to list every registered id (quoted in error messages)
LIST_ENVS = 'python -c "import gymnasium, zg_envs; gymnasium.pprint_registry()"'


def _import_env_package(env_id: str) -> None:
    """Import the package that registers ``env_id``: ``zg/...`` ids come from ``zg_envs``; ``module:Id`` ids
    from ``module``."""
    if ":" in env_id:
        importlib.import_module(env_id.split(":", 1)[0])
    elif env_id.startswith("zg/"):
        importlib.import_module("zg_envs")


def registered_id(env_id: str) -> str:
    """The id under which Gymnasium registered ``env_id`` (``module:Id`` -> ``Id``)."""
    return env_id.split(":", 1)[1] if ":" in env_id else env_id


def check_env_id(env_id) -> str:
    """Raise ``ValueError`` unless ``env_id`` is a registered Gymnasium id; suggests close matches."""
    check_non_empty_str("env_id", env_id)
    try:
        _import_env_package(env_id)
    except ImportError as exc:
        raise ValueError(f"env_id {env_id!r}: cannot import the package that registers it ({exc})") from exc
    name = registered_id(env_id)
    if name not in gym.registry:
        ids = sorted(gym.registry)
        close = difflib.get_close_matches(name, ids, n=5, cutoff=0.5)
        hint = f"did you mean {close}? " if close else ""
        zg = [i for i in ids if i.startswith("zg/")]
        raise ValueError(f"env_id {env_id!r} is not a registered Gymnasium environment; {hint}"
                         f"registered ids include {zg + [i for i in ids if '/' not in i][:20]} "
                         f"(see gymnasium.pprint_registry())")
    return env_id


def unknown_env_message(env_id: str, flag: str = "--env") -> str:
    """The short message a command-line tool gives for an unregistered id: close matches, this project's ids
    and how to list every id."""
    try:
        import zg_envs  # noqa: F401 - registers the zg/ ids
    except Exception:  # noqa: BLE001 - the message still works without them
        pass
    ids = sorted(gym.registry)
    close = difflib.get_close_matches(env_id, ids, n=3, cutoff=0.6)
    ours = [i for i in ids if i.startswith("zg/")]
    lines = [f"{flag} {env_id!r} is not a registered Gymnasium environment"]
    if close:
        lines.append(f"  did you mean: {', '.join(close)}")
    if ours:
        lines.append(f"  this project's environments: {', '.join(ours)}")
    lines.append(f"  list every registered id with: {LIST_ENVS}")
    return "\n".join(lines)


def make_env(env_id: str, env_kwargs: dict | None = None, max_episode_steps: int | None = None,
             render_mode: str | None = None) -> gym.Env:
    """``gymnasium.make`` with clear errors for unknown ids, rejected kwargs and missing modules."""
    check_env_id(env_id)
    kwargs = dict(env_kwargs or {})
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    try:
        return gym.make(registered_id(env_id), max_episode_steps=max_episode_steps, **kwargs)
    except TypeError as exc:
        names = constructor_kwargs(env_id)
        allowed = f" (allowed keys: {names})" if names is not None else ""
        raise ValueError(f"env_kwargs {env_kwargs!r} were rejected by {env_id!r}{allowed}: {exc}") from exc
    except ImportError as exc:
        raise ValueError(f"env_id {env_id!r} is registered but its module cannot be imported: {exc}") from exc


def make_eval_env(cfg, render_mode: str | None = None) -> gym.Env:
    """An env that scores a run of ``cfg`` (a :class:`~zg_agent.config.RunConfig`): ``env_kwargs`` with
    ``eval_env_kwargs`` over them. Kwargs the env rejects raise ``ValueError`` naming ``eval_env_kwargs``."""
    with eval_kwargs_errors(cfg):
        return make_env(cfg.env_id, cfg.evaluation_env_kwargs(), cfg.max_episode_steps, render_mode)


@contextlib.contextmanager
def eval_kwargs_errors(cfg):
    """Restate :func:`make_env`'s refusal of the evaluation kwargs of ``cfg`` as a mistake in its
    ``eval_env_kwargs`` (``env_kwargs`` alone are checked by the training envs)."""
    try:
        yield
    except ValueError as exc:
        if not cfg.eval_env_kwargs:
            raise
        if not isinstance(exc.__cause__, TypeError):  # a value the env refuses: the training env took env_kwargs
            raise ValueError(f"eval_env_kwargs {cfg.eval_env_kwargs!r} were rejected by {cfg.env_id!r}: {exc}") from exc
        names = constructor_kwargs(cfg.env_id)
        allowed = f"allowed: {names}" if names is not None else "allowed: the keyword arguments of its constructor"
        raise ValueError(f"eval_env_kwargs {cfg.eval_env_kwargs!r} were rejected by {cfg.env_id!r} (evaluation envs "
                         f"take env_kwargs {cfg.env_kwargs!r} with these keys over them; {allowed}): "
                         f"{exc.__cause__}") from exc


def constructor_kwargs(env_id: str) -> list[str] | None:
    """The keyword arguments that the registered constructor of ``env_id`` names (``render_mode`` left out);
    None when they cannot be read (a constructor taking ``**kwargs``, a spec without an entry point)."""
    import inspect

    from gymnasium.envs.registration import load_env_creator

    try:
        check_env_id(env_id)  # imports the package that registers it
        creator = load_env_creator(gym.spec(registered_id(env_id)).entry_point)
        params = inspect.signature(creator).parameters.values()
    except Exception:  # noqa: BLE001 - only a hint in an error message
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "render_mode"]


def check_eval_spaces(cfg, train_env: gym.Env, eval_env: gym.Env) -> None:
    """Raise ``ValueError`` when the evaluation kwargs of ``cfg`` give the env other spaces than training."""
    for name in ("observation_space", "action_space"):
        train_space, eval_space = getattr(train_env, name), getattr(eval_env, name)
        if train_space != eval_space:
            raise ValueError(f"eval_env_kwargs {cfg.eval_env_kwargs!r} change the {name.replace('_', ' ')} of "
                             f"{cfg.env_id!r} ({train_space} in training, {eval_space} in evaluation), so the "
                             f"trained policy cannot act in the evaluation env; allowed: keys that leave the "
                             f"spaces as they are (reward weights, termination rules)")


def episode_horizon(env: gym.Env, max_episode_steps: int | None = None) -> int | None:
    """The most steps an episode of ``env`` lasts: the smallest of the configured ``max_episode_steps``, the
    spec's time limit and the env's own ``unwrapped.horizon`` (every zg env sets it); None: no limit known."""
    spec_steps = env.spec.max_episode_steps if env.spec is not None else None
    limits = [n for n in (max_episode_steps, spec_steps, getattr(env.unwrapped, "horizon", None)) if n is not None]
    return min(limits) if limits else None


def check_box_actions(env: gym.Env, env_id: str) -> None:
    """Raise ``ValueError`` unless ``env`` has a ``gymnasium.spaces.Box`` action space."""
    if not isinstance(env.action_space, spaces.Box):
        raise ValueError(f"env {env_id!r} has action space {env.action_space!r}; only "
                         f"gymnasium.spaces.Box action spaces are supported")


def play_episode(env: gym.Env, act: Callable, seed: int, render: bool = False, *,
                 render_frame: Callable | None = None, observe: Callable | None = None,
                 stop_on_nan: bool = False):
    """One episode from ``env.reset(seed=seed)`` until termination or truncation, acting ``act(obs, t)``.

    Returns ``(return, length, frames or None)``; ``frames`` holds ``render_frame(env)`` (default
    ``env.render()``) after the reset and after every step when ``render``. ``observe(obs)`` sees every
    observation the policy acts on. With ``stop_on_nan`` a non-finite reward ends the episode at once with a
    NaN return (the caller reports it).
    """
    draw = render_frame or (lambda e: e.render())
    obs, _ = env.reset(seed=int(seed))
    frames = [draw(env)] if render else None
    total, t = 0.0, 0
    while True:
        if observe is not None:
            observe(obs)
        obs, reward, terminated, truncated, _ = env.step(act(obs, t))
        t += 1
        reward = float(reward)
        if stop_on_nan and not math.isfinite(reward):
            total = float("nan")
            break
        total += reward
        if render:
            frames.append(draw(env))
        if terminated or truncated:
            break
    return total, t, frames


def run_episode(env: gym.Env, policy: Policy, theta, seed: int, collect_stats: bool = False,
                render: bool = False):
    """One episode of ``theta`` under ``policy`` (:func:`play_episode`, stopping at a non-finite reward).

    Returns ``(return, length, obs_stats or None, frames or None)``.
    """
    seen = [] if collect_stats else None
    observe = (lambda obs: seen.append(policy.flatten_obs(obs))) if collect_stats else None
    total, t, frames = play_episode(env, policy.controller(theta), seed, render, observe=observe, stop_on_nan=True)
    stats = ObsStats.from_batch(np.stack(seen)) if seen else None
    return total, t, stats, frames
