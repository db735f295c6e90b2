"""Tiny training runs shared by the trainer tests: the config, and reading back scalars and CSV columns."""

import csv
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import toy_envs  # noqa: F401 - registers the TestToy*-v0 ids
from zg_agent.config import load_config

ROOT = Path(__file__).resolve().parents[2]
SHARED_TAGS = ("rollout/ep_rew_mean", "eval/mean_reward", "time/fps", "time/elapsed_s")


def tiny_config(algo, root, env_id="Pendulum-v1", **fields):
    """Pendulum with 40-step episodes, small populations / rollouts, a budget of a few iterations."""
    over = {"run_root": str(root), "max_episode_steps": 40, "eval_every": 320, "eval_episodes": 2,
            "slice_every": 2, "slice_points": 3, "budget": 960}
    if algo == "ppo":
        over.update({"options.n_steps": 160, "options.batch_size": 80, "options.n_epochs": 2,
                     "options.n_envs": 2, "options.use_sde": False, "budget": 960})
    else:
        over.update({"options.popsize": 4, "policy": "linear"})
    over.update(fields)
    return load_config(algo, env_id, overrides=over)


def scalars(run_dir):
    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def column(path, key):
    with open(path, newline="") as f:
        return [(int(r["step"]), float(r[key])) for r in csv.DictReader(f) if r.get(key)]
