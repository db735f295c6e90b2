"""Render every environment to a PNG under docs/ for the README.

Each picture is the env's own ``render()`` (render_mode="rgb_array") after a short seeded rollout of
random actions, so it shows what a user sees, not a hand-made illustration.

    python scripts/make_env_figures.py            # all
    python scripts/make_env_figures.py --only Tree
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gymnasium as gym
import numpy as np
from PIL import Image

import zg_envs  # noqa: F401  (registers the zg namespace)

# (file name, env id, kwargs, random steps before the picture)
FIGURES = [
    ("shadow_caster.png", "zg/ShadowCaster-v0", {}, 8),
    ("shadow_art.png", "zg/ShadowArt-v0", {}, 1),
    ("tree_growth.png", "zg/TreeGrowth-v0", {}, 6),
    # small random offsets from the clip: the picture shows the humanoid tracking its blue reference ghost
    (
        "character_mimic.png",
        "zg/CharacterMimic-v0",
        {"random_start": False, "spherical_action_scale": 0.02, "revolute_action_scale": 0.02},
        12,
    ),
    ("character_locomotion.png", "zg/CharacterLocomotion-v0", {"character": "hopper"}, 20),
]


def render_figure(env_id: str, kwargs: dict, steps: int, seed: int = 0) -> np.ndarray:
    env = gym.make(env_id, render_mode="rgb_array", **kwargs)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            break
    frame = env.render()
    env.close()
    return frame


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=None, help="only figures whose env id contains this text")
    parser.add_argument("--out-dir", default="docs")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, env_id, kwargs, steps in FIGURES:
        if args.only and args.only not in env_id:
            continue
        frame = render_figure(env_id, kwargs, steps)
        Image.fromarray(frame).save(out / name)
        print(f"wrote {out / name} {frame.shape}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
