""":class:`RunConfig`: everything one training run needs, typed and documented field by field, with the
names each field may take, imported from the modules that own them."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..logger import FORMATS
from ..optim import OPTIMIZERS
from ..policies import POLICY_KINDS
from ..rollout.backends import BACKENDS
from ..validation import check_choice, check_int, check_seconds
from .options import Options, OptimizerOptions, PPOOptions, make_options
from .typed import ConfigError

#: The black-box (ask/tell) algorithms: every registered optimizer (:data:`zg_agent.optim.OPTIMIZERS`).
BLACK_BOX_ALGOS: tuple[str, ...] = tuple(OPTIMIZERS)
#: Every algorithm the trainer knows: the ask/tell optimizers and stable-baselines3's PPO.
ALGOS: tuple[str, ...] = BLACK_BOX_ALGOS + ("ppo",)
#: the logger's writers (:data:`zg_agent.logger.FORMATS`)
LOG_FORMATS: tuple[str, ...] = FORMATS
RENDER_MODES: tuple[str, ...] = ("auto", "off")


@dataclass
class RunConfig:
    """Everything one training run needs; saved as ``config.yaml`` in its run folder."""

    env_id: str = "Pendulum-v1"
    """Gymnasium environment id (any env with a Box action space; ours are ``zg/...``)"""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """keyword arguments for ``gymnasium.make``"""
    eval_env_kwargs: dict[str, Any] = field(default_factory=dict)
    """keys that override ``env_kwargs`` in every env that scores the run (periodic and final evaluation, the
    reference scores, ``zg-replay``), never in training: a training-only reward, e.g. ``env_kwargs:
    {alive_weight: 0.0}`` with ``eval_env_kwargs: {alive_weight: 1.0}`` reports the env's full reward"""
    algo: str = "zerograds"
    """one of zerograds, es, cma, random (black-box, ask/tell) or ppo (stable-baselines3)"""
    seed: int = 0
    """seed of every random source: optimizer, policy initialisation, episode resets, PPO"""
    budget: int = 100_000
    """training budget in environment steps (the x-axis of every curve); evaluation runs are not counted"""
    eval_every: int = 10_000
    """evaluate the current solution every this many env steps (and once at step 0)"""
    eval_episodes: int = 5
    """episodes per evaluation, with fixed reset seeds (the same for every algorithm and run seed)"""
    episodes_per_candidate: int = 1
    """black-box only: episodes averaged per candidate (common random numbers within an iteration)"""
    max_episode_steps: int | None = None
    """cap on episode length (None: the env's own limits). Episodes last at most the smallest of this, the
    registered TimeLimit and the env's own ``horizon``, which is also the open-loop policy's horizon"""
    policy: str = "linear"
    """black-box only: parameterisation of theta: open_loop, linear or mlp"""
    policy_options: dict[str, Any] = field(default_factory=dict)
    """black-box only: options of the policy (open_loop: knots; mlp: hidden_sizes; ...)"""
    backend: str = "serial"
    """black-box only: where candidates are evaluated: serial, process or ray"""
    num_workers: int | None = None
    """worker processes / Ray actors (None: number of CPUs)"""
    ray_address: str | None = None
    """address of a Ray cluster (None: a local Ray instance)"""
    episode_timeout_s: float | None = None
    """black-box only, process and ray backends: an episode running longer than this many seconds (a hung env)
    fails the run with an error naming the candidate and reset seed (None: no limit; serial ignores it)"""
    checkpoint_every: int | None = None
    """save a checkpoint every this many iterations (PPO: rollouts); None: every ``checkpoint_seconds``.
    A Ctrl-C always saves at the iteration boundary; this only bounds what a crash or kill -9 loses"""
    checkpoint_seconds: float = 30.0
    """wall time between checkpoints when ``checkpoint_every`` is None (0: every iteration)"""
    log_formats: list[str] = field(default_factory=lambda: ["tensorboard", "csv"])
    """logger writers: tensorboard, csv, stdout"""
    run_root: str = "runs"
    """folder under which run folders ``<env>__<algo>__s<seed>__<time>`` are created"""
    render: str = "auto"
    """pictures in TensorBoard: auto (when the env renders rgb_array) or off; YAML's booleans are accepted
    (``render: off`` reads as false: false is off, true is auto)"""
    render_every: int = 4
    """log pictures at every n-th evaluation (and at the last one)"""
    slice_every: int = 10
    """ZeroGrads only: plot surrogate vs true loss along a 1-D slice every n iterations (0: never)"""
    slice_points: int = 9
    """ZeroGrads only: true-loss evaluations per slice plot (not counted in the budget)"""
    options: Options | None = None
    """the algorithm's own settings, filled from ``options:`` in the YAML: an optimizer's keyword options
    (:class:`~zg_agent.config.OptimizerOptions`) or PPO's (:class:`~zg_agent.config.PPOOptions`); None: defaults"""

    def __post_init__(self):
        self.render = render_mode(self.render)
        if self.options is None and self.algo in ALGOS:
            self.options = make_options(self.algo)

    def evaluation_env_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of the evaluation envs: ``env_kwargs`` with ``eval_env_kwargs`` over them."""
        return {**self.env_kwargs, **self.eval_env_kwargs}

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (YAML-safe) of every field, options included."""
        d = {f.name: copy.deepcopy(getattr(self, f.name)) for f in dataclasses.fields(self) if f.name != "options"}
        d["options"] = self.options.to_dict() if self.options is not None else {}
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def validate(self) -> "RunConfig":
        """Check values (not only types); raises :class:`ConfigError` naming the field."""
        check_choice("algo", self.algo, ALGOS, error=ConfigError)
        check_choice("policy", self.policy, POLICY_KINDS, error=ConfigError)
        check_choice("backend", self.backend, BACKENDS, error=ConfigError)
        check_choice("render", self.render, RENDER_MODES, error=ConfigError)
        for fmt in self.log_formats:
            check_choice("log_formats", fmt, LOG_FORMATS, error=ConfigError)
        for name, minimum in (("budget", 1), ("eval_every", 1), ("eval_episodes", 1),
                              ("episodes_per_candidate", 1), ("render_every", 1),
                              ("slice_every", 0), ("slice_points", 3), ("seed", 0)):
            check_int(name, getattr(self, name), minimum, error=ConfigError)
        check_seconds("episode_timeout_s", self.episode_timeout_s, error=ConfigError)
        if not self.checkpoint_seconds >= 0:
            raise ConfigError(f"checkpoint_seconds must be a number >= 0, got {self.checkpoint_seconds!r}")
        for name in ("max_episode_steps", "num_workers", "checkpoint_every"):
            check_int(name, getattr(self, name), 1, allow_none=True, error=ConfigError)
        for name in ("env_kwargs", "eval_env_kwargs", "policy_options"):
            value = getattr(self, name)
            if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                raise ConfigError(f"{name} must be a mapping of keyword names to values, got {value!r}")
        if not self.env_id:
            raise ConfigError("env_id must be a non-empty Gymnasium id, got ''")
        expected = PPOOptions if self.algo == "ppo" else OptimizerOptions
        if not isinstance(self.options, expected) or self.options.algo != self.algo:
            raise ConfigError(f"options must be the {expected.__name__} of algo {self.algo!r}, got {self.options!r}")
        return self


def render_mode(value):
    """YAML 1.1 reads ``off`` / ``on`` / ``no`` / ``yes`` as booleans: False means "off", True "auto"."""
    if isinstance(value, bool):
        return "auto" if value else "off"
    return value
