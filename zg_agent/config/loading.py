"""Loading a :class:`~zg_agent.config.RunConfig`: the YAML files keyed by env id, ``--set`` overrides, a run
folder's ``config.yaml``, and the flat view of a config for the hparams table."""

from __future__ import annotations

import dataclasses
import importlib.resources
import typing
from pathlib import Path
from typing import Any

import yaml

from ..tables import flatten_dict
from ..validation import check_choice
from .run_config import ALGOS, RunConfig, render_mode
from .typed import ConfigError, coerce


def _shipped_config_dir():
    """The shipped YAML files: the repository's top-level ``configs/`` in a source checkout (and an editable
    install), else the copy a built wheel holds as ``zg_agent/configs`` (package data)."""
    source = Path(__file__).resolve().parents[2] / "configs"
    if (source / "zerograds.yaml").is_file():
        return source
    return importlib.resources.files("zg_agent") / "configs"


#: The shipped YAML files (see :func:`_shipped_config_dir`).
DEFAULT_CONFIG_DIR = _shipped_config_dir()

#: per-field conversions applied before the type check (YAML files and --set alike)
_FIELD_CONVERTERS = {"render": render_mode}


def _apply(cfg: RunConfig, values: dict, source: str) -> None:
    """Set typed fields of ``cfg`` from ``values``; ``options`` is merged key by key."""
    if not isinstance(values, dict):
        raise ConfigError(f"entry in {source} must be a mapping of keys to values, got {values!r}")
    hints = typing.get_type_hints(RunConfig)
    names = [f.name for f in dataclasses.fields(cfg)]
    for key, value in values.items():
        if key not in names:
            raise ConfigError(f"unknown config key {key!r} in {source}; allowed: {names}")
        if key == "options":
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"options in {source} must be a mapping of option names to values, got {value!r}")
            cfg.options.update(value, source)
            continue
        if key in _FIELD_CONVERTERS:
            value = _FIELD_CONVERTERS[key](value)
        setattr(cfg, key, coerce(value, hints[key], key, source))


def _as_path(path):
    """A user's ``str`` / ``Path`` becomes a ``Path``; a package resource (``importlib.resources``) stays as
    it is (it has ``is_file`` and ``read_text`` too, but need not be a file on disk)."""
    if isinstance(path, (str, Path)):
        return Path(path)
    if hasattr(path, "is_file") and hasattr(path, "read_text"):
        return path
    raise ConfigError(f"a config path must be a str or a path, got {path!r}")


def config_path(algo: str, config_dir: str | Path | None = None):
    """The YAML file of ``algo`` in ``config_dir`` (default: the shipped ``configs/``)."""
    check_choice("algo", algo, ALGOS, error=ConfigError)
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
    """Set a dotted key (``budget``, ``options.sigma``, ``env_kwargs.resolution``) on ``cfg``, typed by the field."""
    parts = key.split(".")
    head = parts[0]
    names = [f.name for f in dataclasses.fields(cfg)]
    if head not in names:
        raise ConfigError(f"unknown config key {key!r} in {source}; allowed: {names}")
    if head == "options":
        if len(parts) != 2:
            raise ConfigError(f"override {key!r} in {source} must name one option, like options.sigma")
        cfg.options.update({parts[1]: value}, source)
    elif head in ("env_kwargs", "eval_env_kwargs", "policy_options") and len(parts) > 1:
        target = getattr(cfg, head)
        for p in parts[1:-1]:
            target = target.setdefault(p, {})
        target[parts[-1]] = value
    elif len(parts) > 1:
        raise ConfigError(f"config key {head!r} has no sub-keys, got {key!r} in {source}")
    else:
        _apply(cfg, {head: value}, source)


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
    check_choice("algo", algo, ALGOS, error=ConfigError)
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
        _apply(cfg, entry, f"{str(path)!r} entry {entry_key!r}")
    for key, value in fields.items():
        if value is not None:
            _apply(cfg, {key: value}, "arguments")
    items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides)
    for key, value in items:
        if key in ("algo", "env_id"):
            raise ConfigError(f"{key} cannot be overridden with --set; use --algo / --env")
        given = fields.get(key)
        apply_override(cfg, key, value)
        if given is not None and getattr(cfg, key) != given:  # say --budget 768 --set budget=512: which one?
            raise ConfigError(f"{key} is given twice, as {given!r} (its own argument) and as --set {key}={value}; "
                              f"give it once")
    return cfg.validate()


def config_from_dict(d: dict[str, Any], source: str = "config") -> RunConfig:
    """Rebuild a :class:`RunConfig` from :meth:`RunConfig.to_dict` (e.g. a run folder's ``config.yaml``)."""
    if not isinstance(d, dict) or "algo" not in d:
        raise ConfigError(f"{source} must be a mapping with an 'algo' key")
    check_choice("algo", d["algo"], ALGOS, error=ConfigError)
    cfg = RunConfig(algo=d["algo"], env_id=d.get("env_id", "Pendulum-v1"))
    _apply(cfg, {k: v for k, v in d.items() if k != "algo"}, source)
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
    """Flat ``{key: scalar, str or None}`` of the config (``options.sigma``...), for the hparams table."""
    return {k: v if isinstance(v, (int, float, str, bool)) or v is None else str(v)
            for k, v in flatten_dict(cfg.to_dict()).items()}
