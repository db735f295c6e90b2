"""Run configuration: a typed dataclass, YAML files keyed by environment id, and ``--set`` overrides.

One YAML file per algorithm ships with the project, in the top-level ``configs/`` (``zerograds.yaml``,
``es.yaml``, ``cma.yaml``, ``random.yaml``, ``ppo.yaml``; a built wheel holds them as package data, so they are
found after a plain ``pip install``); ``config=`` / ``config_dir=`` point at a user's own files instead. Each
maps an environment id (or ``default``) to a partial :class:`RunConfig`; the ``default`` entry is applied
first, then the entry of the environment::

    default:
      budget: 100000
      policy: linear
      options: {sigma: 0.05, popsize: 16}
    Pendulum-v1:
      budget: 50000

``options`` holds the algorithm's own settings: the keyword options of the optimizer passed to
``make_optimizer`` (:class:`OptimizerOptions`, checked against the optimizer's own signature), or the keyword
arguments of stable-baselines3's ``PPO`` (:class:`PPOOptions`). An option left at ``None`` keeps its owner's
default.

Overrides from the command line use dotted keys and are parsed by the type of the field::

    --set budget=20000 --set options.sigma=0.2 --set env_kwargs.resolution=32 --set policy_options.hidden_sizes=[32,32]
    --set eval_env_kwargs.alive_weight=1.0   # evaluation envs only: keys over env_kwargs

Every mistake (unknown key, wrong type, missing file, unknown algorithm) is a :class:`ConfigError`
(a ``ValueError``) that names the key, the file and what is allowed.
"""

from __future__ import annotations

from ..policies import POLICY_KINDS
from ..rollout.backends import BACKENDS
from .loading import (DEFAULT_CONFIG_DIR, apply_override, config_from_dict, config_path, hparams, load_config,
                      load_run_config, parse_override, read_yaml)
from .options import Options, OptimizerOptions, PPOOptions, make_options, optimizer_option_types
from .run_config import ALGOS, BLACK_BOX_ALGOS, LOG_FORMATS, RENDER_MODES, RunConfig
from .typed import ConfigError, coerce

__all__ = [
    "ALGOS", "BACKENDS", "BLACK_BOX_ALGOS", "ConfigError", "DEFAULT_CONFIG_DIR", "LOG_FORMATS", "OptimizerOptions",
    "Options", "POLICY_KINDS", "PPOOptions", "RENDER_MODES", "RunConfig", "apply_override", "coerce",
    "config_from_dict", "config_path", "hparams", "load_config", "load_run_config", "make_options",
    "optimizer_option_types", "parse_override", "read_yaml",
]
