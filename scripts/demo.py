"""The main job on defaults (``make demo``): ZeroGrads, OpenES, CMA-ES, random search and PPO on one env.

Runs ``zg-compare`` on ``zg/ShadowCaster-v0`` (or Pendulum-v1 when the zg envs cannot be built here) with every
algorithm and one seed, sized to finish in about five minutes on a busy two-core machine, then prints the
table and how to open TensorBoard. PPO costs several times more wall time per env step than the black-box
methods, so it gets a short budget of its own (said when the demo starts and in the report); its row is not an
equal-budget comparison (benchmarks/results.md has those). Runs go to ``runs/demo/``; running the demo again
reuses finished runs (delete the folder to start over).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zg_agent.cli import compare_main  # noqa: E402

# (env id, black-box budget, PPO budget, evaluation interval), in env steps; on ShadowCaster-v0 one black-box
# iteration is 16 x 8 = 128 env steps and one PPO rollout 256. Sized from measurements on a 2-core machine: at
# load 2.5-4, training time per 1,000 env steps was ZeroGrads 0.2-0.3 s, OpenES 0.1 s, CMA-ES 0.12 s, random
# 0.1-0.2 s and PPO 1.0 s, and this demo at a quarter of these budgets took 18 s in all (13 s of training), so
# about 1 minute at full size. The demo at 200,000 env steps for every algorithm took 22 minutes on a busier
# machine (black-box methods 640 s together, PPO 681 s), 3.5 (PPO) to 5 (black-box) times slower per env step:
# these budgets take about 4.5 minutes there (black-box 205 s, PPO 56 s, plus start-up and report).
CHOICES = [("zg/ShadowCaster-v0", 64_000, 16_384, 4_000), ("Pendulum-v1", 50_000, 20_480, 5_000)]


def pick_env() -> tuple[str, int, int, int]:
    from zg_agent.envs import make_env

    for env_id, budget, ppo_budget, every in CHOICES:
        try:
            make_env(env_id).close()
            return env_id, budget, ppo_budget, every
        except Exception as exc:  # noqa: BLE001 - fall back to the next env
            print(f"demo: {env_id} is not available here ({exc}); trying the next env", file=sys.stderr)
    raise SystemExit("demo: no environment available")


def main() -> int:
    env_id, budget, ppo_budget, every = pick_env()
    args = ["--env", env_id, "--algos", "zerograds,es,cma,random,ppo", "--seeds", "1", "--budget", str(budget),
            "--set", f"eval_every={every}", "--set", f"ppo:budget={ppo_budget}", "--out", str(Path("runs") / "demo")]
    print(f"demo: zg-compare {' '.join(args)}", flush=True)
    print(f"demo: PPO gets a short budget, {ppo_budget:,} env steps against {budget:,} for the black-box methods, "
          f"so that the demo ends in about five minutes (PPO costs several times more wall time per env step); "
          f"its row is not an equal-budget comparison (benchmarks/results.md has those)", flush=True)
    code = compare_main(args)
    if code in (0, 130):
        print("\nOpen the curves and pictures with:  tensorboard --logdir runs/demo   (then http://localhost:6006)")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
