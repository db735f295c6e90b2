"""What a black-box run costs beyond the env itself: the episode objective's work and the optimizer's.

For every env (and ShadowArt at K = 32) at its shipped settings (``configs/<algo>.yaml``: policy, popsize, sigma,
env arguments), one process, one thread, the serial backend, this times:

* the **env's own time** for a population: ``reset`` + ``step`` of every candidate's episode with the actions its
  policy takes (recorded once, then replayed: the env is deterministic, so the replay is the same episode), and,
  for a one-step env that scores a population in one call (``batch_rewards``), ``reset`` + that call;
* the **objective**: :meth:`EpisodeObjective.evaluate` of the same population (checks, the policy's map of
  ``theta`` to actions, the episodes, the bookkeeping);
* the **optimizer**: ``ask`` + ``tell`` of ZeroGrads, OpenES and CMA-ES (separable above 1,000 parameters), each
  in its own loop of whole iterations, beside that loop's evaluation time.

Each case runs whole iterations for about ``--seconds`` (at least ``--min-iterations``). Ratios, measured inside
one run, compare across machines; the absolute times do not. Writes benchmarks/overhead.md (the command at the
top; a hand-written ``## Reading`` section of the file is kept). Run from the repository root:

    python scripts/bench_overhead.py
    python scripts/bench_overhead.py --only ShadowArt --seconds 2 --out /tmp/overhead.md
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zg_agent.config import load_config  # noqa: E402
from zg_agent.envs import make_env, play_episode  # noqa: E402
from zg_agent.optim import make_optimizer  # noqa: E402
from zg_agent.rollout.objective import EpisodeObjective  # noqa: E402
from zg_agent.tables import kept_reading  # noqa: E402

# (label, env id, config overrides)
CASES = [
    ("ShadowCaster-v0", "zg/ShadowCaster-v0", []),
    ("TreeGrowth-v0", "zg/TreeGrowth-v0", []),
    ("ShadowArt-v0 K=16", "zg/ShadowArt-v0", []),
    ("ShadowArt-v0 K=32", "zg/ShadowArt-v0", ["env_kwargs.grid=32"]),
    # not shipped: the env reads only each action's sign, which clip keeps as tanh does, without the tanh
    ("ShadowArt-v0 K=32, squash clip", "zg/ShadowArt-v0", ["env_kwargs.grid=32", "policy_options.squash=clip"]),
    ("CharacterMimicOpenLoop-v0", "zg/CharacterMimicOpenLoop-v0", []),
    ("CharacterLocomotion-v0 hopper", "zg/CharacterLocomotion-v0", []),
]
METHODS = ("zerograds", "es", "cma")
OBJECTIVE_TARGET, OPTIMIZER_TARGET = 0.20, 0.10  # targets: the fraction added to the env's / the evaluation time
WARMUP_ITERATIONS = 3


def build(method: str, env_id: str, overrides: list[str]):
    """(config, objective, optimizer) of the shipped config, serial backend."""
    cfg = load_config(method, env_id, seed=0, overrides=overrides)
    obj = EpisodeObjective(cfg.env_id, cfg.env_kwargs, cfg.policy, cfg.policy_options,
                           episodes=cfg.episodes_per_candidate, max_episode_steps=cfg.max_episode_steps, seed=0)
    return cfg, obj, make_optimizer(method, obj.initial_params(0), seed=0, **cfg.options.kwargs())


def env_time(env, policy, thetas: np.ndarray, seeds: list[int], repeats: int) -> tuple[float, float | None]:
    """(best time of ``reset`` + ``step`` of every candidate's episodes, best time of ``reset`` + the batched
    call per seed, or None where the env has none), in seconds, on ``env``, a twin of the objective's."""
    episodes, first_actions = [], []
    for theta in thetas:  # record each candidate's actions once, theta-major as the objective runs them
        for seed in seeds:
            controller, actions = policy.controller(theta), []

            def recording(obs, t):
                actions.append(controller(obs, t))
                return actions[-1]

            play_episode(env, recording, seed, stop_on_nan=True)
            episodes.append((seed, actions))
        first_actions.append(actions[0])  # an open-loop plan: the same whatever the seed

    def replay() -> None:
        for seed, actions in episodes:
            env.reset(seed=seed)
            for a in actions:
                env.step(a)

    stepped = _best_of(replay, repeats)
    base = env.unwrapped
    if not (getattr(base, "horizon", None) == 1 and hasattr(base, "batch_rewards")):
        return stepped, None
    rows = np.stack(first_actions)

    def batched() -> None:
        for seed in seeds:
            env.reset(seed=seed)
            base.batch_rewards(rows)

    return stepped, _best_of(batched, repeats)


def _best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _iterate(opt, obj: EpisodeObjective, iteration: int) -> tuple[float, float]:
    """One iteration of ``opt`` on ``obj``: (ask + tell seconds, evaluation seconds)."""
    t0 = time.perf_counter()
    x = opt.ask()
    t1 = time.perf_counter()
    losses = obj.evaluate(x, obj.episode_seeds(iteration)).losses
    t2 = time.perf_counter()
    opt.tell(x, losses)
    return (t1 - t0) + (time.perf_counter() - t2), t2 - t1


def measure_case(label: str, env_id: str, overrides: list[str], seconds: float, min_iterations: int) -> dict:
    row: dict = {"label": label}
    cfg, obj, opt = build("zerograds", env_id, overrides)
    with obj:
        for i in range(WARMUP_ITERATIONS):  # a population a few iterations in, not the very first one
            _iterate(opt, obj, i)
        seeds = obj.episode_seeds(WARMUP_ITERATIONS)
        thetas = opt.ask()
        row["params"], row["popsize"] = obj.num_params, len(thetas)
        t0 = time.perf_counter()
        result = obj.evaluate(thetas, seeds)
        once = time.perf_counter() - t0
        row["steps"] = int(result.env_steps)
        repeats = max(3, min(20, int(seconds / max(once, 1e-6))))
        row["objective"] = _best_of(lambda: obj.evaluate(thetas, seeds), repeats)
        env = make_env(cfg.env_id, cfg.env_kwargs, cfg.max_episode_steps)
        try:
            row["env"], row["env_batched"] = env_time(env, obj.policy, thetas, seeds, repeats)
        finally:
            env.close()
    for method in METHODS:
        _, obj, opt = build(method, env_id, overrides)
        with obj:
            _iterate(opt, obj, 0)  # warm-up, not counted
            t_opt = t_eval = 0.0
            iterations = 0
            start = time.perf_counter()
            while iterations < min_iterations or time.perf_counter() - start < seconds:
                spent = _iterate(opt, obj, iterations + 1)
                t_opt, t_eval = t_opt + spent[0], t_eval + spent[1]
                iterations += 1
        row[method] = {"iterations": iterations, "popsize": opt.popsize, "opt_ms": 1e3 * t_opt / iterations,
                       "eval_ms": 1e3 * t_eval / iterations}
    return row


def objective_added(row: dict) -> float:
    """The fraction the objective adds to what the env itself must do for the population: the batched call
    where the env has one (the objective uses it), else stepping every episode."""
    return row["objective"] / (row["env_batched"] or row["env"]) - 1.0


def verdict(added: float, target: float) -> str:
    return "meets" if added <= target else "misses"


def report(rows: list[dict], command: str) -> str:
    lines = [
        "# Overhead: what the objective and the optimizers add to the env's own time",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, one process and one thread, Python "
        f"{platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}. Shipped settings of "
        "every env (`configs/<algo>.yaml`), serial backend. Times are per population (one iteration's "
        "candidates); ratios are measured inside one run.",
        "",
        "## The episode objective",
        "",
        f"One population of ZeroGrads' shipped config, drawn after {WARMUP_ITERATIONS} iterations from the start. "
        "Env, stepped = `reset` + `step` of every candidate's episode with the actions its policy took "
        "(recorded, then replayed on a twin env: the same episodes); env, batched = `reset` + one "
        "`batch_rewards` call per reset seed, for the one-step envs that have it. Objective = "
        "`EpisodeObjective.evaluate` of the same population (checks, the policy's map of parameters to actions, "
        "the episodes, the bookkeeping), which uses the batched call where the env has one. Best of several "
        "repeats each. Added = objective / the env's own time - 1, against the batched call where there is one "
        f"(what the objective must pay at least). Target: at most {OBJECTIVE_TARGET:.0%}.",
        "",
        "| Env | Parameters | Popsize | Env steps | Env, stepped (ms) | Env, batched (ms) | Objective (ms) "
        f"| Added | Target {OBJECTIVE_TARGET:.0%} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        batched = r["env_batched"]
        batched_ms = "-" if batched is None else f"{1e3 * batched:.2f}"
        added = objective_added(r)
        lines.append(
            f"| {r['label']} | {r['params']:,} | {r['popsize']} | {r['steps']:,} | {1e3 * r['env']:.2f} | "
            f"{batched_ms} | {1e3 * r['objective']:.2f} | {added:+.1%} | {verdict(added, OBJECTIVE_TARGET)} |")
    lines += [
        "",
        "## The optimizers",
        "",
        "Each method's shipped config in its own loop of whole iterations (one warm-up iteration first, not "
        "counted), for the time given to each case. Overhead = the optimizer's own time per iteration "
        "(`ask` + `tell`) / the evaluation time of its candidates in the same loop, the mean over the loop's "
        f"iterations. Target: at most {OPTIMIZER_TARGET:.0%}.",
        "",
        "| Env | Popsize | Iterations | " + " | ".join(
            f"{m} ask+tell (ms) | {m} eval (ms) | {m} overhead" for m in METHODS) + " |",
        "|---|---:|---|" + "---:|" * (3 * len(METHODS)),
    ]
    for r in rows:
        cells = []
        for m in METHODS:
            s = r[m]
            overhead = s["opt_ms"] / s["eval_ms"]
            cells += [f"{s['opt_ms']:.2f}", f"{s['eval_ms']:.2f}",
                      f"{overhead:.3f} ({verdict(overhead, OPTIMIZER_TARGET)})"]
        popsizes = "/".join(sorted({str(r[m]["popsize"]) for m in METHODS}))
        iterations = "/".join(str(r[m]["iterations"]) for m in METHODS)
        lines.append(f"| {r['label']} | {popsizes} | {iterations} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="measuring time per case and method")
    parser.add_argument("--min-iterations", type=int, default=2, help="whole iterations per method at least")
    parser.add_argument("--only", default=None, help="run only cases whose label contains this text")
    parser.add_argument("--out", default="benchmarks/overhead.md")
    args = parser.parse_args(argv)
    if not (math.isfinite(args.seconds) and args.seconds > 0):
        parser.error(f"--seconds must be a finite number > 0, got {args.seconds}")
    if args.min_iterations < 1:
        parser.error(f"--min-iterations must be >= 1, got {args.min_iterations}")
    torch.set_num_threads(1)
    cases = [c for c in CASES if args.only is None or args.only in c[0]]
    if not cases:
        parser.error(f"--only {args.only!r} matches no case; cases: {[c[0] for c in CASES]}")
    rows = []
    for label, env_id, overrides in cases:
        rows.append(measure_case(label, env_id, overrides, args.seconds, args.min_iterations))
        r = rows[-1]
        print(f"{label}: the objective adds {objective_added(r):+.0%}; ask + tell / evaluation: " + ", ".join(
            f"{m} {r[m]['opt_ms'] / r[m]['eval_ms']:.3f}" for m in METHODS), flush=True)
    given = sys.argv[1:] if argv is None else argv
    command = "python scripts/bench_overhead.py" + "".join(f" {shlex.quote(a)}" for a in given)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    reading = kept_reading(out)
    out.write_text(report(rows, command) + (f"\n{reading}\n" if reading else ""))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
