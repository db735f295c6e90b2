"""The reference scores of a run's env configuration (:mod:`zg_envs.references`), computed once and cached.

A run's references are those of its evaluation env (``env_id``, ``env_kwargs`` with ``eval_env_kwargs`` over
them, ``max_episode_steps``: the env on which its evaluations are scored),
with the start measured on the evaluation seeds (so it equals the step-0 evaluation of a run that starts from
the same design) and the start design of the run's policy (an open-loop ``initial_action``; the Box centre
otherwise). They are cached in memory per configuration and in the run folder as ``references.json``, so a
resumed run and the comparison report read them instead of measuring again.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..config import RunConfig

REFERENCES_FILE = "references.json"
#: episodes of random actions behind the ``random`` reference
RANDOM_EPISODES = 5

_CACHE: dict[str, dict] = {}


def start_action(cfg: RunConfig):
    """The constant action a run of ``cfg`` starts from (None: the Box centre)."""
    return cfg.policy_options.get("initial_action") if cfg.policy == "open_loop" else None


def _key(cfg: RunConfig) -> str:
    return json.dumps([cfg.env_id, cfg.evaluation_env_kwargs(), cfg.max_episode_steps, cfg.eval_episodes,
                       start_action(cfg)], sort_keys=True, default=str)


def compute_references(cfg: RunConfig, eval_seed: int) -> dict:
    """``References.to_dict()`` of ``cfg``'s env (see the module docstring), the start measured on the reset
    seeds ``eval_seed, eval_seed + 1, ...`` of the evaluation; cached per configuration."""
    key = _key(cfg) + f"/{int(eval_seed)}"
    if key not in _CACHE:
        from zg_envs.references import reference_scores

        from ..envs import make_eval_env

        env = make_eval_env(cfg)
        try:
            refs = reference_scores(env, seed=int(eval_seed), episodes=cfg.eval_episodes,
                                    random_episodes=RANDOM_EPISODES, start_action=start_action(cfg))
        finally:
            env.close()
        _CACHE[key] = refs.to_dict()
    return dict(_CACHE[key])


def read_references(run_dir) -> dict | None:
    """The ``references.json`` of a run folder, or None when it has none (or it cannot be read)."""
    path = Path(run_dir) / REFERENCES_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def run_references(cfg: RunConfig, run_dir, eval_seed: int) -> dict:
    """The run folder's cached references, computed and written there the first time."""
    cached = read_references(run_dir)
    if cached is not None:
        return cached
    from .run_dir import atomic_write

    refs = compute_references(cfg, eval_seed)
    atomic_write(Path(run_dir) / REFERENCES_FILE, json.dumps(refs, indent=1).encode())
    return refs


def normalize(refs: dict | None, score: float) -> float:
    """``(score - start) / (upper - start)``, NaN without an upper reference (or with upper == start)."""
    if not refs or refs.get("upper") is None or refs["upper"] == refs["start"]:
        return float("nan")
    return (float(score) - refs["start"]) / (refs["upper"] - refs["start"])
