"""Film strip of zg/CharacterMimicOpenLoop-v0: the start (zero offsets) and each method's best run of a comparison.

One row per plan, frames every few control steps, from the env's own ``render()`` (the character in orange, the
clip in blue); a row whose episode ends early (a fall, the clip left behind, the pelvis too low or tilted) stops
there. Each row is labelled with its return, the steps it lasted and how it ended.

    python scripts/make_mimic_open_loop_strip.py runs/compare_mimic_open_loop_tracked \\
        --out docs/character_mimic_open_loop.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import gymnasium as gym
import numpy as np
from PIL import Image, ImageDraw

import zg_envs  # noqa: F401  (registers the zg namespace)
from zg_agent.compare.runs import find_runs
from zg_agent.replay import load_agent

ENV_ID = "zg/CharacterMimicOpenLoop-v0"
LABEL_HEIGHT = 18
# the env's rules that end an episode early, in the order it checks them after a fall, with their labels
ENDINGS = (("tracking_lost", "left behind by the clip"), ("too_low", "went down (pelvis too low)"),
           ("tilted", "pitched over (pelvis tilted)"))


def play(env_kwargs: dict, act, every: int, size: tuple[int, int]) -> tuple[float, int, str, list[np.ndarray]]:
    """Return, length, how it ended, and the frames at steps 0, every, 2 every, ... and the last step."""
    env = gym.make(ENV_ID, **env_kwargs, render_mode="rgb_array", render_width=size[0], render_height=size[1])
    obs, _ = env.reset(seed=0)
    frames, total, t = [env.render()], 0.0, 0
    while True:
        obs, reward, terminated, truncated, info = env.step(act(obs, t))
        total, t = total + float(reward), t + 1
        frames.append(env.render())
        if terminated or truncated:
            break
    ending = next((label for key, label in ENDINGS if info.get(key)), "fell" if terminated else "completed")
    env.close()
    keep = list(range(0, len(frames), every))
    if keep[-1] != len(frames) - 1:
        keep.append(len(frames) - 1)
    return total, t, ending, [frames[k] for k in keep]


def strip(rows: list[tuple[str, list[np.ndarray]]], columns: int, size: tuple[int, int]) -> Image.Image:
    width, height = size
    out = Image.new("RGB", (columns * width, len(rows) * (height + LABEL_HEIGHT)), "white")
    draw = ImageDraw.Draw(out)
    for r, (label, frames) in enumerate(rows):
        top = r * (height + LABEL_HEIGHT)
        draw.text((4, top + 3), label, fill="black")
        for c, frame in enumerate(frames):
            out.paste(Image.fromarray(frame), (c * width, top + LABEL_HEIGHT))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("compare_dir", help="a zg-compare output folder of zg/CharacterMimicOpenLoop-v0")
    parser.add_argument("--out", default="docs/character_mimic_open_loop.png")
    parser.add_argument("--every", type=int, default=5, help="control steps between frames (default 5)")
    parser.add_argument("--algos", default="zerograds,es,cma,random,ppo", help="rows after the start, in order")
    parser.add_argument("--env-kwargs", default="{}", help='JSON env arguments over the runs\' own, e.g. '
                        '\'{"max_root_deviation": null}\' to replay runs made before that limit existed')
    args = parser.parse_args(argv)
    size = (200, 150)
    runs = find_runs(args.compare_dir, ENV_ID, states=("finished",))
    if not runs:
        parser.error(f"no finished {ENV_ID} run under {args.compare_dir!r}")
    env_kwargs = {**load_agent(runs[0].run_dir)[0].evaluation_env_kwargs(), **json.loads(args.env_kwargs)}
    rows = []
    total, length, ending, frames = play(env_kwargs, lambda obs, t: np.zeros(28, np.float32), args.every, size)
    rows.append((f"start (zero offsets): return {total:.1f}, {length} steps, {ending}", frames))
    for algo in args.algos.split(","):
        mine = [r for r in runs if r.algo == algo]
        if not mine:
            continue
        best = max(mine, key=lambda r: r.final)
        _, agent = load_agent(best.run_dir)
        total, length, ending, frames = play(env_kwargs, agent.start(), args.every, size)
        rows.append((f"{algo} (seed {best.seed}, best of {len(mine)}): return {total:.1f}, {length} steps, {ending}",
                     frames))
        agent.close()
    columns = max(len(f) for _, f in rows)
    image = strip(rows, columns, size)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out)
    for label, _ in rows:
        print(label)
    print(f"wrote {args.out} ({image.size[0]} x {image.size[1]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
