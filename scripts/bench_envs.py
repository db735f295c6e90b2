"""Environment throughput on one core: steps per second with random actions, no rendering.

Every env is reported against a reference measured in the same run, so that the ratio compares across
machines (the absolute rates depend on the CPU and on what else runs): a character env against PyBullet's
locomotion port (``pybullet_envs_gymnasium``, the same physics engine) with the same loop, every other env
against a fixed numpy workload (:func:`numpy_workload`, pure numpy on small arrays, like the envs).

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

NUMPY = "numpy workload"
# (label, env id, kwargs, target steps/s or None, what one "step" is, reference: a port env id or NUMPY)
CASES = [
    ("ShadowCaster-v0 64x64, 8 spheres", "zg/ShadowCaster-v0", {}, 5000, "step", NUMPY),
    ("ShadowArt-v0 K=16", "zg/ShadowArt-v0", {}, 2000, "evaluation", NUMPY),
    ("ShadowArt-v0 K=32", "zg/ShadowArt-v0", {"grid": 32}, 300, "evaluation", NUMPY),
    ("TreeGrowth-v0 64x64, G=6", "zg/TreeGrowth-v0", {}, 2000, "step", NUMPY),
    # the port has no motion-imitation env; its humanoid is the nearest PyBullet character
    ("CharacterMimic-v0 walk", "zg/CharacterMimic-v0", {}, 400, "control step", "HumanoidBulletEnv-v0"),
    ("CharacterLocomotion-v0 hopper", "zg/CharacterLocomotion-v0", {"character": "hopper"}, 2000, "step",
     "HopperBulletEnv-v0"),
    ("CharacterLocomotion-v0 humanoid", "zg/CharacterLocomotion-v0", {"character": "humanoid"}, 1000, "step",
     "HumanoidBulletEnv-v0"),
]


def numpy_workload(seed: int = 0):
    """One unit of the fixed numpy reference: a few dozen small-array operations (a 32 x 32 matrix product,
    trigonometry, a sort, a reduction, fancy indexing), about what one step of a design env does."""
    rng = np.random.default_rng(seed)
    a = rng.random((32, 32))
    x = rng.random(1024)
    idx = rng.integers(0, 1024, 512)

    def unit() -> float:
        y = np.sin(x) * np.cos(x) + a.ravel()
        z = np.sort(y)[idx]
        m = a @ a
        return float(np.add.reduce(z) + m[0, 0] + np.count_nonzero(y > 0.5))

    return unit


def measure_numpy(seconds: float) -> tuple[float, int]:
    """Units of :func:`numpy_workload` per second, after a short warm-up."""
    unit = numpy_workload()

    def run(duration: float) -> tuple[int, float]:
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < duration:
            for _ in range(64):
                unit()
            count += 64
        return count, time.perf_counter() - start

    run(min(0.5, seconds / 4))
    count, elapsed = run(seconds)
    return count / elapsed, count


def measure_reference(reference: str, seconds: float) -> tuple[float, int]:
    """Rate of a reference: the numpy workload, or a PyBullet port env with :func:`measure`'s loop."""
    if reference == NUMPY:
        return measure_numpy(seconds)
    import pybullet_envs_gymnasium  # noqa: F401  (registers the port's envs; a dev dependency)

    return measure(reference, {}, seconds)


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

    rows, references = [], {}
    for label, env_id, kwargs, target, unit, reference in CASES:
        if args.only and args.only not in label:
            continue
        try:
            if reference not in references:  # measured once per run, before its first env
                references[reference] = measure_reference(reference, args.seconds)[0]
            rate, steps = measure(env_id, kwargs, args.seconds)
        except Exception as err:  # an env that is missing or broken is reported, not hidden
            print(f"{label}: FAILED {type(err).__name__}: {err}", file=sys.stderr)
            rows.append((label, None, 0, target, unit, reference, None, f"failed: {type(err).__name__}"))
            continue
        verdict = "" if target is None else ("meets target" if rate >= target else "BELOW target")
        ref_rate = references[reference]
        print(f"{label:40s} {rate:10.0f} {unit}s/s  (target {target}) {verdict}; "
              f"{reference} {ref_rate:,.0f}/s, ratio {rate / ref_rate:.3f}")
        rows.append((label, rate, steps, target, unit, reference, ref_rate, verdict))

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
        "**Ratio** = the env's rate / its reference's rate, both measured in this run on this machine, so it "
        "compares across machines where the absolute rates do not. References: a character env against PyBullet's "
        "locomotion port (`pybullet_envs_gymnasium`, steps of the same loop; CharacterMimic against the port's "
        f"humanoid, which has no imitation env), the other envs against `{NUMPY}` (units/s of `numpy_workload` in "
        "this script: small-array numpy work like a design env's step). Targets are steps/s on this project's "
        "2-core development machine, idle.",
        "",
        "| Environment | Throughput | Unit | Steps measured | Reference | Reference rate | Ratio | Target | Verdict |",
        "|---|---:|---|---:|---|---:|---:|---:|---|",
    ]
    for label, rate, steps, target, unit, reference, ref_rate, verdict in rows:
        rate_s = "n/a" if rate is None else f"{rate:,.0f}/s"
        ref_s = "n/a" if ref_rate is None else f"{ref_rate:,.0f}/s"
        ratio = "n/a" if rate is None or not ref_rate else f"{rate / ref_rate:.3f}"
        lines.append(f"| {label} | {rate_s} | {unit} | {steps:,} | {reference} | {ref_s} | {ratio} | "
                     f"{target if target else ''} | {verdict} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
