"""ZeroGrads' sampling and surrogate options at real budgets: loss curves against evaluations, one row per run.

Problems: the step sphere and threshold match at d = 1,000 and 10,000 (``zg_agent.problems``, as in
``bench_optimizers.py``) and ShadowArt K = 16 (4,096 voxels, the shipped ZeroGrads settings of
``bench_shadow_art.py``), each at ``--budget`` evaluations. Variants: ZeroGrads' defaults with one or more options
changed (``VARIANTS``). A run stops at its budget or after ``--max-seconds`` of wall time, whichever comes
first, so a slow surrogate (the paper's 8 x 128 MLP) is compared at equal evaluations on the curves.

    python scripts/bench_surrogate_scale.py --variants defaults,guided-0.5-k4 --out /tmp/rows.json
    python scripts/bench_surrogate_scale.py --report /tmp/rows.json       # Markdown table of the kept rows

Rows are kept in ``--out`` (JSON) as soon as each run ends; a run already there is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from zg_agent import problems  # noqa: E402
from zg_agent.optim import make_optimizer  # noqa: E402

MLP_PAPER = {"surrogate": "mlp", "layers": 8, "width": 128, "encoding_bands": 4, "lr_phi": 1e-4, "k_phi": 3}
VARIANTS = {
    "defaults": {},
    "guided-0.5-k4": {"guided": 0.5, "guided_subspace": 4},
    "guided-0.2-k1": {"guided": 0.2, "guided_subspace": 1},
    "mlp-paper": MLP_PAPER,
    "mlp-paper-history8": {**MLP_PAPER, "history": 8},
    # the paper's network with this library's MLP fit (lr_phi = 3e-3, k_phi = 10)
    "mlp-8x128-library-fit": {"surrogate": "mlp", "layers": 8, "width": 128, "encoding_bands": 4},
}
PROBLEMS = ("step-sphere-1000", "threshold-match-1000", "step-sphere-10000", "threshold-match-10000",
            "shadow-art-16")
CHECKPOINTS = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000)


def _plateau(name: str):
    kind, dim = name.rsplit("-", 1)
    problem = problems.step_sphere(int(dim)) if kind == "step-sphere" else problems.threshold_match(int(dim))
    return problem.x0, {}, (lambda x: problem.fun(x)), (lambda x: float(problem.fun(x[None])[0])), None


def _shadow_art(grid: int, seed: int):
    from bench_shadow_art import ENV_ID, shipped
    from zg_agent.rollout.objective import EpisodeObjective

    options, policy_options = shipped("zerograds", grid)
    obj = EpisodeObjective(ENV_ID, {"grid": grid}, "open_loop", policy_options, max_episode_steps=1, seed=seed)
    seeds = obj.episode_seeds(0)
    return (obj.initial_params(), options, (lambda x: obj.evaluate(x, seeds).losses), (lambda x: obj(x, seeds)),
            obj)


def run(problem: str, variant: str, budget: int, seed: int, max_seconds: float) -> dict:
    x0, base, batch, single, closer = (_shadow_art(16, seed) if problem == "shadow-art-16" else _plateau(problem))
    try:
        options = {**base, **VARIANTS[variant]}
        opt = make_optimizer("zerograds", x0, seed=seed, **options)
        marks = [c for c in CHECKPOINTS if c < budget] + [budget]
        curve, t_opt, t_eval, start = [(0, single(opt.mean))], 0.0, 0.0, time.perf_counter()
        while opt.num_evaluations + opt.popsize <= budget and time.perf_counter() - start < max_seconds:
            t0 = time.perf_counter()
            x = opt.ask()
            t1 = time.perf_counter()
            losses = batch(x)
            t2 = time.perf_counter()
            opt.tell(x, losses)
            t_opt += (t1 - t0) + (time.perf_counter() - t2)
            t_eval += t2 - t1
            if marks and opt.num_evaluations >= marks[0]:
                curve.append((opt.num_evaluations, single(opt.mean)))
                while marks and opt.num_evaluations >= marks[0]:
                    marks.pop(0)
        final = single(opt.mean)
        if curve[-1][0] != opt.num_evaluations:
            curve.append((opt.num_evaluations, final))
    finally:
        if closer is not None:
            closer.close()
    return {"problem": problem, "variant": variant, "budget": budget, "seed": seed, "final": final,
            "evals": opt.num_evaluations, "iterations": opt.num_iterations, "t_opt": t_opt, "t_eval": t_eval,
            "ms_per_it": 1e3 * (t_opt + t_eval) / max(opt.num_iterations, 1), "curve": curve,
            "options": options}


def _at(curve, evals: int) -> str:
    """The loss on the curve at the first point at or past ``evals`` (within one batch), or "-" if not reached."""
    for e, f in curve:
        if evals <= e < evals + 100:
            return f"{f:.4g}"
    return "-"


def report(rows: dict) -> str:
    lines = ["| Problem | Variant | Seed | Evals reached | Loss at 2k | at 5k | at 10k | at 20k | at 50k | Final loss "
             "| ms/it |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    order = {p: i for i, p in enumerate(PROBLEMS)}
    vorder = {v: i for i, v in enumerate(VARIANTS)}
    for r in sorted(rows.values(), key=lambda r: (order.get(r["problem"], 99), vorder.get(r["variant"], 99),
                                                  r["seed"])):
        cells = [_at(r["curve"], c) for c in (2_000, 5_000, 10_000, 20_000, 50_000)]
        lines.append(f"| {r['problem']} | {r['variant']} | {r['seed']} | {r['evals']:,} | " + " | ".join(cells)
                     + f" | {r['final']:.4g} | {r['ms_per_it']:.1f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--budget", type=int, default=100_000)
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--max-seconds", type=float, default=float("inf"), help="wall-time cap of one run")
    parser.add_argument("--out", default="benchmarks/results/surrogate_scale.json")
    parser.add_argument("--report", default=None, help="print the Markdown table of the rows in this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.report:
        print(report(json.loads(Path(args.report).read_text())))
        return 0
    names, variants = args.problems.split(","), args.variants.split(",")
    for bad, allowed, what in ((set(names) - set(PROBLEMS), PROBLEMS, "--problems"),
                               (set(variants) - set(VARIANTS), VARIANTS, "--variants")):
        if bad:
            parser.error(f"{what}: unknown {sorted(bad)}; allowed: {list(allowed)}")
    out = Path(args.out)
    rows = json.loads(out.read_text()) if out.exists() else {}
    for problem in names:
        for variant in variants:
            for seed in (int(s) for s in args.seeds.split(",")):
                key = f"{problem}/{variant}/{args.budget}/{seed}"
                if key in rows:
                    continue
                row = run(problem, variant, args.budget, seed, args.max_seconds)
                rows[key] = row
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(rows, indent=1, default=float))
                print(f"{key}: final {row['final']:.4g} at {row['evals']:,} evals, {row['ms_per_it']:.1f} ms/it, "
                      f"curve {[(e, round(f, 4)) for e, f in row['curve']]}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
