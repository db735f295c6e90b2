"""The ``options`` of a run: the algorithm's own settings, with one source each.

A black-box optimizer's options are the keyword arguments of its class (:class:`OptimizerOptions` reads the
names, types and defaults from its signature, so a new option of an optimizer is settable from YAML and
``--set`` without a copy here); PPO's are stable-baselines3's keyword arguments (:class:`PPOOptions`). In
both, an option left at ``None`` keeps the owner's default.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import typing
from dataclasses import dataclass
from typing import Any, Union

from .typed import ConfigError, coerce

#: keyword arguments of an optimizer that come from the run, not from ``options``
_FROM_THE_RUN = ("seed", "nonfinite")


@functools.cache
def optimizer_option_types(algo: str) -> dict[str, Any]:
    """Option name -> type annotation of the optimizer registered as ``algo``, in signature order."""
    from ..optim import get_optimizer_class

    init = get_optimizer_class(algo).__init__
    hints = typing.get_type_hints(init)
    return {name: hints.get(name, Any) for name, p in inspect.signature(init).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in _FROM_THE_RUN}


class OptimizerOptions:
    """The options of one ask/tell optimizer (``make_optimizer(algo, x0, **options.kwargs())``): only those
    set are kept; reading an unset one gives ``None`` (the optimizer's default, see its class docstring)."""

    def __init__(self, algo: str, values: dict[str, Any] | None = None, source: str = "arguments"):
        self.algo = algo
        self._values: dict[str, Any] = {}
        self.update(values or {}, source)

    def allowed(self) -> dict[str, Any]:
        """Option name -> type, from the optimizer's signature."""
        return optimizer_option_types(self.algo)

    def update(self, values: dict[str, Any], source: str) -> None:
        """Set options from a mapping, typed by the optimizer's annotations; ``None`` unsets one."""
        allowed = self.allowed() if values else {}
        for key, value in values.items():
            if key not in allowed:
                raise ConfigError(f"unknown config key {f'options.{key}'!r} in {source}; "
                                  f"allowed options of {self.algo}: {list(allowed)}")
            if value is None:
                self._values.pop(key, None)
            else:
                self._values[key] = coerce(value, allowed[key], f"options.{key}", source)

    def kwargs(self) -> dict[str, Any]:
        """The options that are set, as keyword arguments for ``make_optimizer``."""
        return dict(self._values)

    def to_dict(self) -> dict[str, Any]:
        """Every option of the optimizer, ``None`` where unset (what ``config.yaml`` shows)."""
        return {name: self._values.get(name) for name in self.allowed()}

    def __getattr__(self, name: str):
        if name.startswith("_"):  # copy and pickle look up private names before __init__ has run
            raise AttributeError(name)
        if name in self.allowed():
            return self._values.get(name)
        raise AttributeError(f"{self.algo} has no option {name!r}; allowed: {list(self.allowed())}")

    def __eq__(self, other) -> bool:
        return (isinstance(other, OptimizerOptions) and other.algo == self.algo
                and other._values == self._values)

    def __repr__(self) -> str:
        return f"OptimizerOptions({self.algo!r}, {self._values!r})"


@dataclass
class PPOOptions:
    """Keyword arguments of stable-baselines3's ``PPO`` (plus the number of parallel envs and
    observation/reward normalisation); ``None`` keeps SB3's default (:meth:`resolved` reads it). See
    https://stable-baselines3.readthedocs.io/en/master/modules/ppo.html for each one's meaning."""

    policy: str = "MlpPolicy"
    """SB3 policy class name"""
    n_envs: int = 1
    """environments stepped in parallel by one DummyVecEnv (env steps are counted over all of them)"""
    normalize: bool = False
    """wrap the envs in VecNormalize (running observation and reward normalisation)"""
    learning_rate: float | None = None
    n_steps: int | None = None
    """steps per environment per rollout"""
    batch_size: int | None = None
    n_epochs: int | None = None
    gamma: float | None = None
    gae_lambda: float | None = None
    clip_range: float | None = None
    ent_coef: float | None = None
    vf_coef: float | None = None
    max_grad_norm: float | None = None
    use_sde: bool | None = None
    sde_sample_freq: int | None = None
    target_kl: float | None = None
    net_arch: list[int] | None = None
    """hidden layer sizes of policy and value networks (``policy_kwargs``)"""
    log_std_init: float | None = None
    """initial log standard deviation of the Gaussian policy (``policy_kwargs``)"""
    ortho_init: bool | None = None
    """orthogonal initialisation of the networks (``policy_kwargs``)"""

    algo = "ppo"
    _OURS = ("policy", "n_envs", "normalize")
    _POLICY_KWARGS = ("net_arch", "log_std_init", "ortho_init")

    def __post_init__(self):
        for f in dataclasses.fields(self):  # built directly (not through update): the same ranges
            _check_ppo_range(f.name, getattr(self, f.name), "")

    def update(self, values: dict[str, Any], source: str) -> None:
        """Set options from a mapping, typed by the annotations above."""
        hints = typing.get_type_hints(PPOOptions)
        names = [f.name for f in dataclasses.fields(self)]
        for key, value in values.items():
            if key not in names:
                raise ConfigError(f"unknown config key {f'options.{key}'!r} in {source}; "
                                  f"allowed options of ppo: {names}")
            value = coerce(value, hints[key], f"options.{key}", source)
            _check_ppo_range(key, value, source)
            setattr(self, key, value)

    def resolved(self, name: str):
        """The value PPO runs with: the one set here, else SB3's default (imports SB3)."""
        value = getattr(self, name)
        if value is None and name not in self._POLICY_KWARGS:
            from stable_baselines3 import PPO

            value = inspect.signature(PPO.__init__).parameters[name].default
        return value

    def ppo_kwargs(self) -> dict[str, Any]:
        """The keyword arguments for ``PPO(...)`` that are set (without policy, env, seed and the wrappers)."""
        skip = self._OURS + self._POLICY_KWARGS
        kw = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
              if f.name not in skip and getattr(self, f.name) is not None}
        policy_kwargs = {k: getattr(self, k) for k in self._POLICY_KWARGS if getattr(self, k) is not None}
        if "net_arch" in policy_kwargs:
            policy_kwargs["net_arch"] = list(policy_kwargs["net_arch"])
        if policy_kwargs:
            kw["policy_kwargs"] = policy_kwargs
        return kw

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: PPO option -> (least, greatest, whether the least is allowed, what the bound says; every value finite): SB3
#: checks few of these itself, and the ones it does check fail with torch's or its own text, naming no option.
_PPO_RANGES = {
    "n_envs": (1, None, True, "an integer >= 1"),
    "learning_rate": (0.0, None, False, "a number > 0"),
    "n_steps": (1, None, True, "an integer >= 1"),
    "batch_size": (2, None, True, "an integer >= 2 (advantages are normalised over each minibatch)"),
    "n_epochs": (1, None, True, "an integer >= 1"),
    "gamma": (0.0, 1.0, True, "a number in [0, 1]"),
    "gae_lambda": (0.0, 1.0, True, "a number in [0, 1]"),
    "clip_range": (0.0, None, False, "a number > 0"),
    "ent_coef": (0.0, None, True, "a number >= 0"),
    "vf_coef": (0.0, None, True, "a number >= 0"),
    "max_grad_norm": (0.0, None, False, "a number > 0"),
    "sde_sample_freq": (-1, None, True, "an integer >= -1 (-1: sample the noise once per rollout)"),
    "target_kl": (0.0, None, False, "a number > 0"),
    "log_std_init": (-math.inf, None, False, "a finite number"),
}


def _check_ppo_range(key: str, value: Any, source: str) -> None:
    """Refuse a PPO option outside the range SB3 can run with; ``None`` (SB3's default) passes."""
    where = f" in {source}" if source else ""
    if key == "net_arch" and value is not None and (not value or any(n < 1 for n in value)):
        raise ConfigError(f"options.net_arch{where} must be a non-empty list of layer sizes >= 1, got {value!r}")
    if value is None or key not in _PPO_RANGES:
        return
    least, greatest, least_allowed, allowed = _PPO_RANGES[key]
    below = value < least if least_allowed else value <= least
    if below or (greatest is not None and value > greatest) or not math.isfinite(value):
        raise ConfigError(f"options.{key}{where} must be {allowed}, got {value!r}")


#: the type of :attr:`RunConfig.options <zg_agent.config.RunConfig.options>`
Options = Union[OptimizerOptions, PPOOptions]


def make_options(algo: str, values: dict[str, Any] | None = None, source: str = "arguments") -> Options:
    """Empty (all defaults) options of ``algo``, then ``values`` set on them."""
    if algo == "ppo":
        opts = PPOOptions()
        opts.update(values or {}, source)
        return opts
    return OptimizerOptions(algo, values, source)
