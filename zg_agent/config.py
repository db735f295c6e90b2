"""Run configuration: typed dataclasses, YAML files keyed by environment id, and ``--set`` overrides.

One YAML file per algorithm ships inside the package, in ``zg_agent/configs/`` (``zerograds.yaml``,
``es.yaml``, ``cma.yaml``, ``random.yaml``, ``ppo.yaml``; read with :mod:`importlib.resources`, so they are
found after a plain ``pip install``); ``config=`` / ``config_dir=`` point at a user's own files instead. Each maps an environment id (or ``default``) to a partial
:class:`RunConfig`; the ``default`` entry is applied first, then the entry of the environment::

    default:
      budget: 100000
      policy: linear
      options: {sigma: 0.05, popsize: 16}
    Pendulum-v1:
      budget: 50000

``options`` holds the algorithm's own settings: the keyword options of the optimizer passed to
``make_optimizer`` (:class:`ZeroGradsOptions`, :class:`ESOptions`, :class:`CMAOptions`,
:class:`RandomOptions`), or the keyword arguments of stable-baselines3's ``PPO`` (:class:`PPOOptions`).
An option left at ``None`` keeps the optimizer's own default.

Overrides from the command line use dotted keys and are parsed by the type of the field::

    --set budget=20000 --set options.sigma=0.2 --set env_kwargs.resolution=32 --set policy_options.hidden_sizes=[32,32]

Every mistake (unknown key, wrong type, missing file, unknown algorithm) is a :class:`ConfigError`
(a ``ValueError``) that names the key, the file and what is allowed.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from .logger import FORMATS
from .logger import markdown_table as _markdown_table
from .optim import OPTIMIZERS
from .policies import POLICY_KINDS
from .rollout.backends import BACKENDS
from .validation import check_choice, check_int, check_seconds

#: The black-box (ask/tell) algorithms: every registered optimizer (:data:`zg_agent.optim.OPTIMIZERS`).
BLACK_BOX_ALGOS: tuple[str, ...] = tuple(OPTIMIZERS)
#: Every algorithm the trainer knows: the ask/tell optimizers and stable-baselines3's PPO.
ALGOS: tuple[str, ...] = BLACK_BOX_ALGOS + ("ppo",)
#: the logger's writers (:data:`zg_agent.logger.FORMATS`)
LOG_FORMATS: tuple[str, ...] = FORMATS
RENDER_MODES: tuple[str, ...] = ("auto", "off")

#: The shipped YAML files: ``zg_agent/configs/`` inside the installed package (package data).
DEFAULT_CONFIG_DIR = importlib.resources.files(__package__) / "configs"


class ConfigError(ValueError):
    """A configuration mistake; the message names the key, the source and what is allowed."""


# ---------------------------------------------------------------------------------------------- options
@dataclass
class ZeroGradsOptions:
    """Options of ZeroGrads (``make_optimizer("zerograds", x0, **options)``); ``None`` keeps its default.
    See :class:`zg_agent.optim.zerograds.ZeroGrads` for the defaults and the paper's settings."""

    sigma: float | None = None
    """std of the Gaussian perturbations around theta (the smoothing kernel's width), in parameter units"""
    popsize: int | None = None
    """loss evaluations (candidates) per iteration; even when antithetic"""
    antithetic: bool | None = None
    """draw perturbations in pairs (eps, -eps)"""
    inner_sigma: float | None = None
    """std of the extra jitter of each evaluated point, relative to sigma (0: no smoothing)"""
    surrogate: str | None = None
    """surrogate family: auto (ZeroGrads' default: the quadratic model up to dimension d = 32, the linear
    model above), mlp (the paper's neural surrogate), quadratic (diagonal) or linear"""
    layers: int | None = None
    """MLP layers including the output layer (paper: 3 low-d, 8 high-d)"""
    width: int | None = None
    """MLP hidden width (paper: 64 low-d, 128 high-d)"""
    encoding_bands: int | None = None
    """positional-encoding frequency bands of the MLP input (0: off)"""
    leaky_slope: float | None = None
    """negative slope of the leaky ReLUs"""
    linear_skip: bool | None = None
    """add a linear term to the MLP"""
    fit: str | None = None
    """how the surrogate is fitted: auto (exact for linear/quadratic, adam for the MLP), adam or exact"""
    ridge: float | None = None
    """ridge penalty of the exact fit, relative to the mean eigenvalue of the sample Gram matrix"""
    lr_theta: float | None = None
    """Adam step size of theta, which descends the surrogate's gradient"""
    beta1_theta: float | None = None
    """Adam's first-moment decay for theta (the surrogate already averages over stored batches)"""
    lr_phi: float | None = None
    """Adam step size of the surrogate's parameters"""
    k_phi: int | None = None
    """surrogate fitting steps per batch"""
    k_theta: int | None = None
    """theta steps per batch"""
    target_transform: str | None = None
    """how losses become regression targets: standardize, rank or none"""
    history: int | None = None
    """batches kept and refitted each iteration (1: only the fresh batch)"""
    locality: float | None = None
    """width (in sigmas) of the kernel weighting stored samples by distance to theta (0: equal weights)"""
    sigma_decay: float | None = None
    """sigma is multiplied by this after every iteration (1: constant)"""
    sigma_min: float | None = None
    """lower bound of sigma under decay"""
    normalize_gradient: bool | None = None
    """rescale the surrogate gradient to norm sqrt(d) before the Adam step of theta"""


@dataclass
class ESOptions:
    """Options of OpenAI-style ES (``make_optimizer("es", x0, **options)``); ``None`` keeps its default."""

    sigma: float | None = None
    """standard deviation of the antithetic Gaussian perturbations"""
    popsize: int | None = None
    """candidates per iteration (antithetic pairs, so even)"""
    lr: float | None = None
    """Adam learning rate of the mean"""
    weight_decay: float | None = None
    """L2 weight decay of the mean"""


@dataclass
class CMAOptions:
    """Options of CMA-ES (``make_optimizer("cma", x0, **options)``); ``None`` keeps its default."""

    sigma: float | None = None
    """initial step size"""
    popsize: int | None = None
    """candidates per iteration (None: CMA-ES's default 4 + 3 ln d)"""
    separable: bool | None = None
    """diagonal covariance (separable CMA-ES); None: chosen when the dimension exceeds separable_above"""
    separable_above: int | None = None
    """dimension above which separable=None means diagonal"""


@dataclass
class RandomOptions:
    """Options of (1 + lambda) random search (``make_optimizer("random", x0, **options)``)."""

    sigma: float | None = None
    """standard deviation of the Gaussian samples around the best point so far"""
    popsize: int | None = None
    """samples per iteration"""


@dataclass
class PPOOptions:
    """Keyword arguments of stable-baselines3's ``PPO`` (plus the number of parallel envs and
    observation/reward normalisation); see https://stable-baselines3.readthedocs.io/en/master/modules/ppo.html
    """

    policy: str = "MlpPolicy"
    """SB3 policy class name"""
    n_envs: int = 1
    """environments stepped in parallel by one DummyVecEnv (env steps are counted over all of them)"""
    normalize: bool = False
    """wrap the envs in VecNormalize (running observation and reward normalisation)"""
    learning_rate: float = 3e-4
    """Adam learning rate"""
    n_steps: int = 2048
    """steps per environment per rollout"""
    batch_size: int = 64
    """minibatch size"""
    n_epochs: int = 10
    """epochs over each rollout"""
    gamma: float = 0.99
    """discount factor"""
    gae_lambda: float = 0.95
    """GAE lambda"""
    clip_range: float = 0.2
    """PPO clipping parameter"""
    ent_coef: float = 0.0
    """entropy bonus coefficient"""
    vf_coef: float = 0.5
    """value loss coefficient"""
    max_grad_norm: float = 0.5
    """gradient clipping norm"""
    use_sde: bool = False
    """generalised state-dependent exploration"""
    sde_sample_freq: int = -1
    """resample the SDE noise every n steps (-1: once per rollout)"""
    target_kl: float | None = None
    """early-stop an update when the KL divergence exceeds this"""
    net_arch: list[int] | None = None
    """hidden layer sizes of policy and value networks (None: SB3's default [64, 64])"""
    log_std_init: float | None = None
    """initial log standard deviation of the Gaussian policy (None: SB3's default 0)"""
    ortho_init: bool | None = None
    """orthogonal initialisation of the networks (None: SB3's default True)"""

    def ppo_kwargs(self) -> dict[str, Any]:
        """The keyword arguments for ``PPO(...)`` (without policy, env, seed and the wrappers)."""
        kw = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
              if f.name not in ("policy", "n_envs", "normalize", "net_arch", "log_std_init", "ortho_init")}
        policy_kwargs: dict[str, Any] = {}
        if self.net_arch is not None:
            policy_kwargs["net_arch"] = list(self.net_arch)
        if self.log_std_init is not None:
            policy_kwargs["log_std_init"] = self.log_std_init
        if self.ortho_init is not None:
            policy_kwargs["ortho_init"] = self.ortho_init
        if policy_kwargs:
            kw["policy_kwargs"] = policy_kwargs
        return kw


#: algorithm name -> the dataclass of its ``options``
ALGO_OPTIONS: dict[str, type] = {
    "zerograds": ZeroGradsOptions,
    "es": ESOptions,
    "cma": CMAOptions,
    "random": RandomOptions,
    "ppo": PPOOptions,
}


def optimizer_kwargs(options) -> dict[str, Any]:
    """The options that are set (not ``None``), as keyword arguments for ``make_optimizer``."""
    return {k: v for k, v in dataclasses.asdict(options).items() if v is not None}


# ---------------------------------------------------------------------------------------------- run
@dataclass
class RunConfig:
    """Everything one training run needs; saved as ``config.yaml`` in its run folder."""

    env_id: str = "Pendulum-v1"
    """Gymnasium environment id (any env with a Box action space; ours are ``zg/...``)"""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """keyword arguments for ``gymnasium.make``"""
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
    """cap on episode length (None: the env's own TimeLimit); also the open-loop horizon"""
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
    options: Any = None
    """the algorithm's own settings (see ALGO_OPTIONS); filled from ``options:`` in the YAML"""

    def __post_init__(self):
        self.render = _render_mode(self.render)
        if self.options is None and self.algo in ALGO_OPTIONS:
            self.options = ALGO_OPTIONS[self.algo]()

    # ------------------------------------------------------------------ helpers
    def to_dict(self) -> dict[str, Any]:
        """A plain dict (YAML-safe) of every field, options included."""
        d = dataclasses.asdict(self)
        d["options"] = dataclasses.asdict(self.options) if self.options is not None else {}
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def validate(self) -> "RunConfig":
        """Check values (not only types); raises :class:`ConfigError` naming the field."""
        _check_choice("algo", self.algo, ALGOS)
        _check_choice("policy", self.policy, POLICY_KINDS)
        _check_choice("backend", self.backend, BACKENDS)
        _check_choice("render", self.render, RENDER_MODES)
        for fmt in self.log_formats:
            _check_choice("log_formats", fmt, LOG_FORMATS)
        for name, minimum in (("budget", 1), ("eval_every", 1), ("eval_episodes", 1),
                              ("episodes_per_candidate", 1), ("render_every", 1),
                              ("slice_every", 0), ("slice_points", 3), ("seed", 0)):
            check_int(name, getattr(self, name), minimum, error=ConfigError)
        check_seconds("episode_timeout_s", self.episode_timeout_s, error=ConfigError)
        if not self.checkpoint_seconds >= 0:
            raise ConfigError(f"checkpoint_seconds must be a number >= 0, got {self.checkpoint_seconds!r}")
        for name in ("max_episode_steps", "num_workers", "checkpoint_every"):
            check_int(name, getattr(self, name), 1, allow_none=True, error=ConfigError)
        if not self.env_id:
            raise ConfigError("env_id must be a non-empty Gymnasium id, got ''")
        expected = ALGO_OPTIONS[self.algo]
        if not isinstance(self.options, expected):
            raise ConfigError(f"options must be a {expected.__name__} for algo {self.algo!r}, "
                              f"got {type(self.options).__name__}")
        return self


def _render_mode(value):
    """YAML 1.1 reads ``off`` / ``on`` / ``no`` / ``yes`` as booleans: False means "off", True "auto"."""
    if isinstance(value, bool):
        return "auto" if value else "off"
    return value


#: per-field conversions applied before the type check (YAML files and --set alike)
_FIELD_CONVERTERS = {"render": _render_mode}


def _check_choice(name, value, allowed):
    check_choice(name, value, allowed, error=ConfigError)


# ---------------------------------------------------------------------------------------------- typing
def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(value, tp, key: str, source: str = ""):
    """Check ``value`` against the type annotation ``tp`` (int, float, bool, str, None, unions,
    list[X], dict[str, X], Any); ints are accepted where floats are expected. Returns the value."""
    where = f" in {source}" if source else ""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        errors = []
        for arg in typing.get_args(tp):
            try:
                return coerce(value, arg, key, source)
            except ConfigError as e:
                errors.append(e)
        raise ConfigError(f"{key}{where} must be {_type_name(tp)}, got {value!r} ({type(value).__name__})")
    if tp is type(None):
        if value is None:
            return None
    elif tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin is list or tp is list:
        if isinstance(value, (list, tuple)):
            (arg,) = typing.get_args(tp) or (Any,)
            return [coerce(v, arg, f"{key}[{i}]", source) for i, v in enumerate(value)]
    elif origin is dict or tp is dict:
        if isinstance(value, dict):
            args = typing.get_args(tp) or (str, Any)
            return {coerce(k, args[0], f"{key} key", source): coerce(v, args[1], f"{key}.{k}", source)
                    for k, v in value.items()}
    else:  # pragma: no cover - only the types above are used in the dataclasses
        raise TypeError(f"unsupported annotation {tp!r} for {key}")
    raise ConfigError(f"{key}{where} must be {_type_name(tp)}, got {value!r} ({type(value).__name__})")


def _field_types(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _apply(obj, values: dict, prefix: str, source: str) -> None:
    """Set typed fields of dataclass ``obj`` from ``values``; nested ``options`` is merged key by key."""
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix or 'entry'} in {source} must be a mapping of keys to values, got {values!r}")
    hints = _field_types(type(obj))
    names = [f.name for f in dataclasses.fields(obj)]
    for key, value in values.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"unknown config key {full!r} in {source}; allowed: {names}")
        if dataclasses.is_dataclass(getattr(obj, key)) and key == "options":
            if value is None:
                continue
            _apply(getattr(obj, key), value, f"{full}.", source)
        elif key == "options":
            raise ConfigError(f"options in {source} cannot be set before algo is known")
        else:
            if isinstance(obj, RunConfig) and key in _FIELD_CONVERTERS:
                value = _FIELD_CONVERTERS[key](value)
            setattr(obj, key, coerce(value, hints[key], full, source))


# ---------------------------------------------------------------------------------------------- loading
def _as_path(path):
    """A user's ``str`` / ``Path`` becomes a ``Path``; a package resource (``importlib.resources``) stays as
    it is (it has ``is_file`` and ``read_text`` too, but need not be a file on disk)."""
    if isinstance(path, (str, Path)):
        return Path(path)
    if hasattr(path, "is_file") and hasattr(path, "read_text"):
        return path
    raise ConfigError(f"a config path must be a str or a path, got {path!r}")


def config_path(algo: str, config_dir: str | Path | None = None):
    """The YAML file of ``algo`` in ``config_dir`` (default: the shipped ``zg_agent/configs/``)."""
    _check_choice("algo", algo, ALGOS)
    return (DEFAULT_CONFIG_DIR if config_dir is None else Path(config_dir)) / f"{algo}.yaml"


def read_yaml(path: str | Path) -> dict:
    """Read a config YAML file: a mapping of env id (or ``default``) to a mapping of settings."""
    path = _as_path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {e}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(path)!r} must map env ids (or 'default') to settings, "
                          f"got a {type(data).__name__}")
    for env_id, entry in data.items():
        if entry is not None and not isinstance(entry, dict):
            raise ConfigError(f"entry {env_id!r} in {str(path)!r} must be a mapping of settings, got {entry!r}")
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``key=value`` and read the value as YAML (so ``3`` is an int, ``[1,2]`` a list, ``null`` None)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value (for example budget=20000)")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str):  # YAML 1.1 reads "1e5" as a string; numbers are numbers here
        try:
            number = float(value)
        except ValueError:
            pass
        else:
            value = int(number) if number.is_integer() and "." not in value else number
    return key, value


def apply_override(cfg: RunConfig, key: str, value, source: str = "--set") -> None:
    """Set a dotted key (``budget``, ``options.sigma``, ``env_kwargs.resolution``) on ``cfg``, typed by the field.

    A string value such as ``"0.5"`` is converted to the field's type when the field is not a string."""
    parts = key.split(".")
    head = parts[0]
    names = [f.name for f in dataclasses.fields(cfg)]
    if head not in names:
        raise ConfigError(f"unknown config key {key!r} in {source}; allowed: {names}")
    if head == "options":
        if len(parts) != 2:
            raise ConfigError(f"override {key!r} in {source} must name one option, like options.sigma")
        _apply(cfg.options, {parts[1]: value}, "options.", source)
    elif head in ("env_kwargs", "policy_options") and len(parts) > 1:
        target = getattr(cfg, head)
        for p in parts[1:-1]:
            target = target.setdefault(p, {})
        target[parts[-1]] = value
    elif len(parts) > 1:
        raise ConfigError(f"config key {head!r} has no sub-keys, got {key!r} in {source}")
    else:
        _apply(cfg, {head: value}, "", source)


def load_config(
    algo: str,
    env_id: str,
    *,
    config: str | Path | None = None,
    config_dir: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] | dict[str, Any] = (),
    **fields,
) -> RunConfig:
    """Build the :class:`RunConfig` of one run.

    Order (later wins): dataclass defaults; the ``default`` entry of the algorithm's YAML (``config`` if
    given, else ``<config_dir>/<algo>.yaml``); the entry for ``env_id``; keyword ``fields`` (for example
    ``seed=1, budget=5000`` from the CLI); ``overrides`` (``["options.sigma=0.2", ...]`` or a dict).
    """
    _check_choice("algo", algo, ALGOS)
    path = _as_path(config) if config is not None else config_path(algo, config_dir)
    data = read_yaml(path)
    unknown_keys = [k for k in data if not isinstance(k, str)]
    if unknown_keys:
        raise ConfigError(f"env ids in {str(path)!r} must be strings, got {unknown_keys}")
    cfg = RunConfig(env_id=env_id, algo=algo)
    for entry_key in ("default", env_id):
        entry = data.get(entry_key) or {}
        for forbidden in ("algo", "env_id"):
            if forbidden in entry:
                raise ConfigError(f"{forbidden!r} cannot be set in config entry {entry_key!r} of {str(path)!r}; "
                                  f"it comes from the file name / the entry key")
        _apply(cfg, entry, "", f"{str(path)!r} entry {entry_key!r}")
    for key, value in fields.items():
        if value is not None:
            _apply(cfg, {key: value}, "", "arguments")
    items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides)
    for key, value in items:
        if key in ("algo", "env_id"):
            raise ConfigError(f"{key} cannot be overridden with --set; use --algo / --env")
        apply_override(cfg, key, value)
    return cfg.validate()


def config_from_dict(d: dict[str, Any], source: str = "config") -> RunConfig:
    """Rebuild a :class:`RunConfig` from :meth:`RunConfig.to_dict` (e.g. a run folder's ``config.yaml``)."""
    if not isinstance(d, dict) or "algo" not in d:
        raise ConfigError(f"{source} must be a mapping with an 'algo' key")
    _check_choice("algo", d["algo"], ALGOS)
    cfg = RunConfig(algo=d["algo"], env_id=d.get("env_id", "Pendulum-v1"))
    _apply(cfg, {k: v for k, v in d.items() if k != "algo"}, "", source)
    return cfg.validate()


def load_run_config(path: str | Path) -> RunConfig:
    """Read a run folder's ``config.yaml`` (or the file itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc}") from None
    except yaml.YAMLError as exc:
        mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise ConfigError(f"config file {str(path)!r} is not valid YAML ({where}{problem or type(exc).__name__}); "
                          f"fix or restore it to resume this run") from None
    return config_from_dict(data, source=repr(str(path)))


def hparams(cfg: RunConfig) -> dict[str, Any]:
    """Flat ``{key: scalar or str}`` of the config (``options.sigma``...), for the hparams table."""
    flat: dict[str, Any] = {}

    def walk(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, (int, float, str, bool)) or value is None:
            flat[prefix] = value
        else:
            flat[prefix] = str(value)

    walk("", cfg.to_dict())
    return flat


def markdown_table(cfg: RunConfig) -> str:
    """The hyperparameters (:func:`hparams`) as a two-column Markdown table (:func:`zg_agent.logger.markdown_table`,
    which escapes ``|`` in keys and values)."""
    return _markdown_table(hparams(cfg), header=("parameter", "value"))


__all__ = [
    "ALGOS", "ALGO_OPTIONS", "BACKENDS", "BLACK_BOX_ALGOS", "CMAOptions", "ConfigError", "ESOptions",
    "POLICY_KINDS", "PPOOptions", "RandomOptions", "RunConfig", "ZeroGradsOptions", "apply_override",
    "coerce", "config_from_dict", "config_path", "hparams", "load_config", "load_run_config",
    "markdown_table", "optimizer_kwargs", "parse_override", "read_yaml",
]
