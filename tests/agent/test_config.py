"""Run configuration: YAML per algorithm keyed by env id, typed overrides, clear errors."""

import fnmatch
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml

import zg_agent.config as config_module

from zg_agent.config import (ALGOS, BLACK_BOX_ALGOS, DEFAULT_CONFIG_DIR, ConfigError, OptimizerOptions, PPOOptions,
                             RunConfig, config_from_dict, hparams, load_config, load_run_config, make_options,
                             parse_override)
from zg_agent.tables import markdown_table

REPO = Path(__file__).resolve().parents[2]

ENV_IDS = ["Pendulum-v1", "zg/ShadowCaster-v0", "zg/ShadowArt-v0", "zg/TreeGrowth-v0", "zg/CharacterMimic-v0",
           "zg/CharacterLocomotion-v0"]


@pytest.mark.parametrize("algo", ALGOS)
def test_every_shipped_config_loads_for_every_env(algo):
    assert (DEFAULT_CONFIG_DIR / f"{algo}.yaml").is_file()
    data = yaml.safe_load((DEFAULT_CONFIG_DIR / f"{algo}.yaml").read_text())
    assert "default" in data
    for env_id in ENV_IDS + ["SomeOtherEnv-v3"]:
        cfg = load_config(algo, env_id)
        assert cfg.algo == algo and cfg.env_id == env_id
        assert isinstance(cfg.options, PPOOptions if algo == "ppo" else OptimizerOptions)
        assert cfg.options.algo == algo
        assert cfg.budget >= 1 and cfg.eval_every >= 1


def test_env_entry_overrides_default_and_options_merge():
    ppo = load_config("ppo", "Pendulum-v1")
    assert ppo.options.n_envs == 4 and ppo.options.use_sde is True and ppo.options.gamma == 0.9
    assert ppo.options.batch_size == 64  # from `default`, untouched by the env entry
    other = load_config("ppo", "Unknown-v0")
    assert other.options.n_envs == 1 and other.options.gamma is None  # None: SB3's own default
    assert other.options.resolved("gamma") == 0.99 and other.options.resolved("n_steps") == 2048
    design = load_config("es", "zg/ShadowCaster-v0")
    assert design.policy == "open_loop" and design.max_episode_steps is None  # the env's horizon rules
    character = load_config("zerograds", "zg/CharacterLocomotion-v0")
    assert character.policy == "linear"


def test_a_field_given_twice_with_two_values_is_an_error():
    # zg-train --budget 768 --set budget=512: neither silently wins
    with pytest.raises(ConfigError, match=r"budget is given twice, as 768 \(its own argument\) and as --set "
                                          r"budget=512; give it once"):
        load_config("es", "Pendulum-v1", budget=768, overrides=["budget=512"])
    assert load_config("es", "Pendulum-v1", budget=512, overrides=["budget=512"]).budget == 512


def test_overrides_are_typed_by_the_field():
    cfg = load_config("es", "Pendulum-v1", overrides=[
        "budget=2e4", "options.sigma=0.5", "options.popsize=8", "env_kwargs.g=9.0", "policy=mlp",
        "policy_options.hidden_sizes=[8, 8]", "max_episode_steps=null", "log_formats=[csv]", "eval_episodes=3"])
    assert cfg.budget == 20000 and isinstance(cfg.budget, int)
    assert cfg.options.sigma == 0.5 and cfg.options.popsize == 8
    assert cfg.env_kwargs == {"g": 9.0}
    assert cfg.policy_options == {"hidden_sizes": [8, 8]}
    assert cfg.max_episode_steps is None and cfg.log_formats == ["csv"] and cfg.eval_episodes == 3
    assert cfg.options.kwargs() == {"sigma": 0.5, "popsize": 8}
    # integer where a float is expected is fine; keyword fields from the CLI come before --set
    cfg = load_config("random", "Pendulum-v1", seed=3, budget=999, overrides={"options.sigma": 1})
    assert cfg.seed == 3 and cfg.budget == 999 and cfg.options.sigma == 1.0


@pytest.mark.parametrize("override, words", [
    ("bogus=1", ["bogus", "allowed", "budget"]),
    ("options.nonsense=1", ["options.nonsense", "sigma"]),
    ("budget=abc", ["budget", "int", "abc"]),
    ("budget=1.5", ["budget", "int"]),
    ("use_gpu", ["key=value"]),
    ("backend=gpu", ["backend", "serial", "process", "ray"]),
    ("policy=cnn", ["policy", "open_loop", "linear", "mlp"]),
    ("eval_episodes=0", ["eval_episodes", ">= 1"]),
    ("log_formats=[wandb]", ["log_formats", "tensorboard"]),
    ("algo=ppo", ["algo", "--algo"]),
    ("seed.x=1", ["seed", "no sub-keys"]),
    ("eval_env_kwargs=3", ["eval_env_kwargs", "dict", "3"]),
    ("eval_env_kwargs=[g, 9]", ["eval_env_kwargs", "dict", "['g', 9]"]),
])
def test_bad_overrides_name_the_key(override, words):
    with pytest.raises(ConfigError) as info:
        load_config("es", "Pendulum-v1", overrides=[override])
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_yaml_errors_name_the_file_and_key(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("es", "Pendulum-v1", config=tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("es", "Pendulum-v1", config_dir=tmp_path)
    bad_key = tmp_path / "es.yaml"
    bad_key.write_text("default:\n  budget: 100\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError) as info:
        load_config("es", "Pendulum-v1", config_dir=tmp_path)
    assert "learning_rate" in str(info.value) and "es.yaml" in str(info.value) and "default" in str(info.value)
    bad_type = tmp_path / "t.yaml"
    bad_type.write_text("Pendulum-v1:\n  eval_every: often\n")
    with pytest.raises(ConfigError) as info:
        load_config("es", "Pendulum-v1", config=bad_type)
    assert "eval_every" in str(info.value) and "t.yaml" in str(info.value) and "Pendulum-v1" in str(info.value)
    bad_opt = tmp_path / "o.yaml"
    bad_opt.write_text("default:\n  options:\n    sigma: [1, 2]\n")
    with pytest.raises(ConfigError, match="options.sigma"):
        load_config("es", "Pendulum-v1", config=bad_opt)
    not_mapping = tmp_path / "n.yaml"
    not_mapping.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must map env ids"):
        load_config("es", "Pendulum-v1", config=not_mapping)
    broken = tmp_path / "b.yaml"
    broken.write_text("default: {budget: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config("es", "Pendulum-v1", config=broken)
    with pytest.raises(ConfigError, match="algo must be one of"):
        load_config("sgd", "Pendulum-v1")


def test_config_round_trips_through_the_run_folder(tmp_path):
    cfg = load_config("ppo", "Pendulum-v1", overrides=["options.net_arch=[16, 16]", "env_kwargs.g=9.5"])
    (tmp_path / "config.yaml").write_text(cfg.to_yaml())
    back = load_run_config(tmp_path)
    assert back == cfg
    table = markdown_table(hparams(cfg))
    assert "| options.net_arch |" not in table or "16" in table
    assert "| budget |" in table and "| options.n_envs | 4 |" in table


def test_eval_env_kwargs_override_env_kwargs_for_evaluation_only(tmp_path):
    cfg = load_config("es", "Pendulum-v1", overrides=["env_kwargs.g=9.0", "eval_env_kwargs.g=10.0",
                                                       "eval_env_kwargs.extra=1"])
    assert cfg.env_kwargs == {"g": 9.0} and cfg.eval_env_kwargs == {"g": 10.0, "extra": 1}
    assert cfg.evaluation_env_kwargs() == {"g": 10.0, "extra": 1}
    whole = load_config("es", "Pendulum-v1", overrides={"env_kwargs": {"g": 9.0}, "eval_env_kwargs": {"x": 2}})
    assert whole.evaluation_env_kwargs() == {"g": 9.0, "x": 2} and whole.env_kwargs == {"g": 9.0}
    assert load_config("es", "Pendulum-v1").eval_env_kwargs == {}
    (tmp_path / "config.yaml").write_text(cfg.to_yaml())
    assert load_run_config(tmp_path) == cfg
    # a run folder written before the field existed loads with no evaluation kwargs
    old = {k: v for k, v in cfg.to_dict().items() if k != "eval_env_kwargs"}
    assert config_from_dict(old).eval_env_kwargs == {}
    bad = tmp_path / "es.yaml"
    bad.write_text("Pendulum-v1:\n  eval_env_kwargs: 1.0\n")
    with pytest.raises(ConfigError) as info:
        load_config("es", "Pendulum-v1", config=bad)
    assert all(w in str(info.value) for w in ("eval_env_kwargs", "es.yaml", "Pendulum-v1", "dict", "1.0"))
    with pytest.raises(ConfigError, match=r"eval_env_kwargs must be a mapping of keyword names to values, got \[1\]"):
        RunConfig(eval_env_kwargs=[1]).validate()


def test_parse_override_reads_yaml_values():
    assert parse_override("a=3") == ("a", 3)
    assert parse_override("a=1e5") == ("a", 100000)
    assert parse_override("a=0.25") == ("a", 0.25)
    assert parse_override("a=[1,2]") == ("a", [1, 2])
    assert parse_override("a=true") == ("a", True)
    assert parse_override("a=hello=world") == ("a", "hello=world")


def test_ppo_kwargs_are_accepted_by_sb3():
    import inspect

    from stable_baselines3 import PPO

    params = inspect.signature(PPO.__init__).parameters
    kwargs = PPOOptions(net_arch=[8], log_std_init=-0.5, ortho_init=False).ppo_kwargs()
    assert set(kwargs) <= set(params)
    assert kwargs["policy_kwargs"] == {"net_arch": [8], "log_std_init": -0.5, "ortho_init": False}


@pytest.mark.parametrize("key, value, allowed", [
    ("learning_rate", 0.0, "> 0"), ("n_steps", 0, ">= 1"), ("n_epochs", 0, ">= 1"),
    ("gamma", 1.5, "[0, 1]"), ("gae_lambda", 1.5, "[0, 1]"), ("clip_range", float("nan"), "> 0"),
    ("ent_coef", -0.1, ">= 0"),
    ("sde_sample_freq", -2, ">= -1"), ("net_arch", [], "layer sizes >= 1"), ("net_arch", [64, 0], "layer sizes"),
    ("batch_size", 1, ">= 2"), ("learning_rate", float("inf"), "> 0"), ("log_std_init", float("nan"), "finite"),
])
def test_ppo_options_out_of_range_name_the_option_and_value(key, value, allowed):
    with pytest.raises(ConfigError) as err:
        make_options("ppo", {key: value}, "--set")
    assert f"options.{key} in --set must be" in str(err.value) and allowed in str(err.value)
    assert repr(value) in str(err.value)


def test_ppo_options_at_their_bounds_are_accepted():
    opts = make_options("ppo", {"gamma": 1.0, "gae_lambda": 0.0, "ent_coef": 0.0, "sde_sample_freq": -1,
                                "batch_size": 2, "net_arch": [1], "log_std_init": -3.0})
    assert (opts.gamma, opts.gae_lambda, opts.sde_sample_freq, opts.net_arch) == (1.0, 0.0, -1, [1])
    assert make_options("ppo", {"gamma": 0.0}).gamma == 0.0  # myopic, but SB3 runs it


def test_ppo_options_built_directly_are_checked_too():
    with pytest.raises(ConfigError, match=r"options.n_epochs must be an integer >= 1, got 0"):
        PPOOptions(n_epochs=0)


def test_runconfig_validates_direct_construction():
    with pytest.raises(ConfigError, match="budget"):
        RunConfig(budget=0).validate()
    with pytest.raises(ConfigError, match="options must be the OptimizerOptions of algo 'es'"):
        RunConfig(algo="es", options=PPOOptions()).validate()
    with pytest.raises(ConfigError, match="options must be the OptimizerOptions of algo 'es'"):
        RunConfig(algo="es", options=make_options("cma")).validate()


@pytest.mark.parametrize("source", ["yaml", "set"])
@pytest.mark.parametrize("text, expected", [("off", "off"), ("false", "off"), ("no", "off"), ("on", "auto"),
                                            ("auto", "auto")])
def test_render_off_survives_yaml_booleans(tmp_path, source, text, expected):
    # YAML 1.1 reads `off` / `no` as False and `on` as True
    if source == "yaml":
        path = tmp_path / "r.yaml"
        path.write_text(f"default:\n  render: {text}\n")
        cfg = load_config("es", "Pendulum-v1", config=path)
    else:
        cfg = load_config("es", "Pendulum-v1", overrides=[f"render={text}"])
    assert cfg.render == expected
    (tmp_path / "config.yaml").write_text(cfg.to_yaml())
    assert load_run_config(tmp_path).render == expected
    assert RunConfig(render=False).render == "off"
    with pytest.raises(ConfigError, match=r"render must be one of \['auto', 'off'\], got 'sometimes'"):
        load_config("es", "Pendulum-v1", overrides=["render=sometimes"])


def test_choices_come_from_the_modules_that_define_them():
    from zg_agent import objective, policies
    from zg_agent.optim import OPTIMIZERS

    assert config_module.BACKENDS is objective.BACKENDS
    assert config_module.POLICY_KINDS is policies.POLICY_KINDS
    assert config_module.BLACK_BOX_ALGOS == tuple(OPTIMIZERS) and ALGOS == (*OPTIMIZERS, "ppo")


def test_markdown_table_escapes_pipes():
    cfg = load_config("es", "Pendulum-v1", overrides=["env_kwargs.a|b=x|y"])
    table = markdown_table(hparams(cfg)).splitlines()
    row = next(r for r in table if r.startswith("| env_kwargs.a"))
    assert row == r"| env_kwargs.a\|b | x\|y |"
    assert all(len(r.replace(r"\|", "")) - len(r.replace(r"\|", "").replace("|", "")) == 3 for r in table)


def test_shipped_configs_are_the_top_level_folder_mapped_into_the_wheel():
    shipped = sorted(p.name for p in (REPO / "configs").glob("*.yaml"))
    assert shipped == sorted(f"{a}.yaml" for a in ALGOS)
    assert Path(str(DEFAULT_CONFIG_DIR)).resolve() == REPO / "configs"
    tool = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert tool["package-dir"]["zg_agent.configs"] == "configs" and "zg_agent.configs" in tool["packages"]
    globs = tool["package-data"]["zg_agent.configs"]
    assert all(any(fnmatch.fnmatch(name, g) for g in globs) for name in shipped)


def test_configs_load_from_the_wheel_layout(tmp_path):
    # what a wheel install sees: the package, with configs/ copied in as zg_agent/configs, no repository around it
    shutil.copytree(REPO / "zg_agent", tmp_path / "site" / "zg_agent", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "configs", tmp_path / "site" / "zg_agent" / "configs")
    code = ("import zg_agent.config as c; cfg = c.load_config('zerograds', 'zg/ShadowArt-v0'); "
            "print(c.__file__, c.DEFAULT_CONFIG_DIR, cfg.budget, cfg.policy_options['initial_action'])")
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    path, folder, budget, initial = out.stdout.split()
    assert Path(path).is_relative_to(tmp_path / "site") and Path(folder) == tmp_path / "site" / "zg_agent" / "configs"
    assert int(budget) == 10000 and float(initial) == -0.5


@pytest.mark.parametrize("algo", ALGOS)
def test_shadow_art_black_box_runs_start_from_an_empty_sculpture(algo):
    cfg = load_config(algo, "zg/ShadowArt-v0")
    if algo == "ppo":
        assert "initial_action" not in cfg.policy_options  # PPO has no open-loop theta to place
        return
    assert cfg.policy == "open_loop" and cfg.policy_options == {"initial_action": -0.5}
    from zg_agent.objective import EpisodeObjective

    with EpisodeObjective(cfg.env_id, cfg.env_kwargs, cfg.policy, cfg.policy_options,
                          max_episode_steps=cfg.max_episode_steps) as obj:
        actions = obj.policy.actions(obj.initial_params())
        np.testing.assert_allclose(actions, -0.5, rtol=1e-6)
        assert obj.evaluate(obj.initial_params(), [0]).lengths.sum() == 1


@pytest.mark.parametrize("algo", BLACK_BOX_ALGOS)
def test_options_are_the_optimizer_signature(algo):
    # one source: every keyword option of the optimizer is settable, seed and nonfinite come from the run
    from zg_agent.optim import make_optimizer, optimizer_options

    opts = make_options(algo)
    assert set(opts.to_dict()) == set(optimizer_options(algo)) - {"seed", "nonfinite"}
    assert all(v is None for v in opts.to_dict().values()) and opts.kwargs() == {}
    opts.update({"sigma": 1, "popsize": 6}, "test")
    assert opts.sigma == 1.0 and isinstance(opts.sigma, float) and opts.popsize == 6
    assert make_optimizer(algo, np.zeros(3), seed=0, **opts.kwargs()).popsize == 6
    opts.update({"popsize": None}, "test")  # None: back to the optimizer's default
    assert opts.kwargs() == {"sigma": 1.0}
    with pytest.raises(ConfigError, match=r"options.popsize in test must be int.*, got 'many'"):
        opts.update({"popsize": "many"}, "test")
    with pytest.raises(AttributeError, match="no option 'lr_typo'"):
        opts.lr_typo


def test_ppo_options_left_unset_are_sb3_defaults():
    import inspect

    from stable_baselines3 import PPO

    params = inspect.signature(PPO.__init__).parameters
    opts = PPOOptions()
    assert opts.ppo_kwargs() == {}
    for name in ("learning_rate", "n_steps", "batch_size", "gamma", "use_sde", "target_kl"):
        assert opts.resolved(name) == params[name].default
    opts.update({"n_steps": 64}, "test")
    assert opts.resolved("n_steps") == 64 and opts.ppo_kwargs() == {"n_steps": 64}
