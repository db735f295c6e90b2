"""Render every environment to a PNG under docs/ for the README.

Each picture is the env's own ``render()`` (render_mode="rgb_array") after a short seeded rollout, so it
shows what a user sees, not a hand-made illustration. A figure plays either ``steps`` random actions or,
when it gives an ``actions`` callable, the actions that callable builds from the freshly reset env (a
meaningful design rather than noise: ShadowArt's carved visual hull, a half-way ShadowCaster scene).

    python scripts/make_env_figures.py            # all
    python scripts/make_env_figures.py --only Tree
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import gymnasium as gym
import numpy as np
from PIL import Image

import zg_envs  # noqa: F401  (registers the zg namespace)


@dataclass(frozen=True)
class Figure:
    """One README picture: ``file`` under the output folder, rendered from ``env_id`` made with ``kwargs``."""

    file: str
    env_id: str
    kwargs: dict = field(default_factory=dict)
    steps: int = 1  # random actions before the picture (ignored when ``actions`` is given)
    actions: Callable[[gym.Env], list] | None = None  # env (after reset) -> actions to play, in order


def shadow_caster_half_way(env: gym.Env) -> list:
    """The hidden target scene with its last three occluders misplaced: correct, extra and missing shadow."""
    actions = env.unwrapped.target_actions()
    rng = np.random.default_rng(1)
    moved = actions[-3:, :2] + rng.choice([-1.0, 1.0], size=(3, 2)) * rng.uniform(0.3, 0.5, size=(3, 2))
    actions[-3:, :2] = np.clip(moved, -1.0, 1.0)
    return list(actions)


def shadow_art_carved(env: gym.Env) -> list:
    """The carved design: every voxel whose three shadows fall inside the three target glyphs."""
    return [env.unwrapped.visual_hull()]


FIGURES = [
    Figure("shadow_caster.png", "zg/ShadowCaster-v0", actions=shadow_caster_half_way),
    Figure("shadow_art.png", "zg/ShadowArt-v0", actions=shadow_art_carved),
    Figure("tree_growth.png", "zg/TreeGrowth-v0", steps=6),
    # small random offsets from the clip: the picture shows the humanoid tracking its blue reference ghost
    Figure(
        "character_mimic.png",
        "zg/CharacterMimic-v0",
        {"random_start": False, "spherical_action_scale": 0.02, "revolute_action_scale": 0.02},
        steps=12,
    ),
    Figure("character_locomotion.png", "zg/CharacterLocomotion-v0", {"character": "hopper"}, steps=20),
]


def render_figure(figure: Figure, seed: int = 0) -> np.ndarray:
    env = gym.make(figure.env_id, render_mode="rgb_array", **figure.kwargs)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    if figure.actions is not None:
        actions = figure.actions(env)
    else:
        actions = (env.action_space.sample() for _ in range(figure.steps))
    for action in actions:
        _, _, terminated, truncated, _ = env.step(action)
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
    for figure in FIGURES:
        if args.only and args.only not in figure.env_id:
            continue
        frame = render_figure(figure)
        Image.fromarray(frame).save(out / figure.file)
        print(f"wrote {out / figure.file} {frame.shape}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
