"""Environment throughput on one core: steps per second with random actions, no rendering.

Writes benchmarks/envs.md (the command that made it at the top). Run from the repository root:

    python scripts/bench_envs.py                 # every case
    python scripts/bench_envs.py --only Shadow   # cases whose label contains "Shadow"
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

# One core: keep numpy/torch from spreading the work over the machine's other cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import zg_envs  # noqa: E402,F401  (registers the zg namespace)

# (label, env id, kwargs, target steps/s or None, what one "step" is)
CASES = [
    ("ShadowCaster-v0 64x64, 8 spheres", "zg/ShadowCaster-v0", {}, 5000, "step"),
    ("ShadowArt-v0 K=16", "zg/ShadowArt-v0", {}, 2000, "evaluation"),
    ("ShadowArt-v0 K=32", "zg/ShadowArt-v0", {"grid": 32}, 300, "evaluation"),
    ("TreeGrowth-v0 64x64, G=6", "zg/TreeGrowth-v0", {}, 2000, "step"),
    ("CharacterMimic-v0 walk", "zg/CharacterMimic-v0", {}, 400, "control step"),
    ("CharacterLocomotion-v0 hopper", "zg/CharacterLocomotion-v0", {"character": "hopper"}, 2000, "step"),
    ("CharacterLocomotion-v0 humanoid", "zg/CharacterLocomotion-v0", {"character": "humanoid"}, 1000, "step"),
]


def measure(env_id: str, kwargs: dict, seconds: float, seed: int = 0) -> tuple[float, int]:
    """Steps per second of random actions, resets included, after a short warm-up."""
    env = gym.make(env_id, **kwargs)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    actions = [env.action_space.sample() for _ in range(256)]

    def run(duration: float) -> tuple[int, float]:
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < duration:
            for _ in range(64):
                _, _, terminated, truncated, _ = env.step(actions[rng.integers(len(actions))])
                steps += 1
                if terminated or truncated:
                    env.reset()
        return steps, time.perf_counter() - start

    run(min(0.5, seconds / 4))  # warm-up: caches, lazy allocations
    steps, elapsed = run(seconds)
    env.close()
    return steps / elapsed, steps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per case")
    parser.add_argument("--only", default=None, help="run only cases whose label contains this text")
    parser.add_argument("--out", default="benchmarks/envs.md")
    args = parser.parse_args(argv)

    rows = []
    for label, env_id, kwargs, target, unit in CASES:
        if args.only and args.only not in label:
            continue
        try:
            rate, steps = measure(env_id, kwargs, args.seconds)
        except Exception as err:  # an env that is missing or broken is reported, not hidden
            print(f"{label}: FAILED {type(err).__name__}: {err}", file=sys.stderr)
            rows.append((label, None, 0, target, unit, f"failed: {type(err).__name__}"))
            continue
        verdict = "" if target is None else ("meets target" if rate >= target else "BELOW target")
        print(f"{label:40s} {rate:10.0f} {unit}s/s  (target {target}) {verdict}")
        rows.append((label, rate, steps, target, unit, verdict))

    command = "python scripts/bench_envs.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        "# Environment throughput",
        "",
        f"Command: `{command.strip()}`",
        "",
        f"One process, one thread (OMP_NUM_THREADS=1), random actions, resets included, no rendering; "
        f"{args.seconds:g} s per case after a warm-up. Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        "| Environment | Throughput | Unit | Steps measured | Target | Verdict |",
        "|---|---:|---|---:|---:|---|",
    ]
    for label, rate, steps, target, unit, verdict in rows:
        rate_s = "n/a" if rate is None else f"{rate:,.0f}/s"
        lines.append(f"| {label} | {rate_s} | {unit} | {steps:,} | {target if target else ''} | {verdict} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
