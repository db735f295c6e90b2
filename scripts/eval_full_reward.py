"""Evaluate finished black-box runs' solutions on the env's own reward, whatever reward weights they trained on.

A run trained with ``env_kwargs`` that change the reward (the locomotion configs train hopper with
``alive_weight=0``) reports its evaluations on that reward too. This script replays each run's final theta with
those reward keys removed (the env's defaults: for CharacterLocomotion-v0 the reward of PyBullet's port, on which
published scores are given), on the run's own evaluation seeds and on further reset seeds:

    python scripts/eval_full_reward.py runs/zg_CharacterLocomotion-v0__cma__s0__20261201-230524
"""

from __future__ import annotations

import argparse

import numpy as np

from zg_agent.envs import make_env, run_episode
from zg_agent.training import eval_seeds, load_solution

#: env_kwargs that only weigh reward terms; dropped so the env's default reward applies
REWARD_KEYS = ("forward_weight", "alive_weight", "energy_weight", "stall_weight", "joint_limit_weight")


def evaluate(run_dir, seeds) -> np.ndarray:
    """``(len(seeds), 2)``: return and length of each episode of the run's final theta on the default reward."""
    policy, theta, sol = load_solution(run_dir)
    kwargs = {k: v for k, v in sol["env_kwargs"].items() if k not in REWARD_KEYS}
    env = make_env(sol["env_id"], kwargs, sol["max_episode_steps"])
    try:
        return np.array([run_episode(env, policy, theta, seed=int(s))[:2] for s in seeds], dtype=float)
    finally:
        env.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="finished black-box run folders")
    parser.add_argument("--episodes", type=int, default=20, help="further episodes, reset seeds 1000, 1001, ...")
    parser.add_argument("--eval-episodes", type=int, default=3, help="episodes on the run's evaluation seeds")
    args = parser.parse_args(argv)
    if args.episodes < 1 or args.eval_episodes < 1:
        parser.error(f"--episodes and --eval-episodes must be >= 1, got {args.episodes} and {args.eval_episodes}")
    for run in args.runs:
        for name, seeds in (("evaluation seeds", eval_seeds(args.eval_episodes)),
                            (f"reset seeds 1000-{999 + args.episodes}", range(1000, 1000 + args.episodes))):
            res = evaluate(run, list(seeds))
            horizon_hits = int((res[:, 1] >= res[:, 1].max()).sum())
            print(f"{run}: {name}: return mean {res[:, 0].mean():.1f}, median {np.median(res[:, 0]):.1f}, "
                  f"min {res[:, 0].min():.1f}, max {res[:, 0].max():.1f}; length mean {res[:, 1].mean():.0f} "
                  f"({horizon_hits} of {len(res)} at the longest)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
