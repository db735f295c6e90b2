"""Results of record -> benchmarks/results.md: every env of the plan below, at least 5 seeds, normalised scores.

Each env of :data:`PLAN` is trained with its methods and seeds on one budget of env steps (its configured budget
times the plan's scale) through :func:`zg_agent.compare.run_comparison`, into ``<out>/<env>/``. The script can
run for hours and be stopped at any time (Ctrl-C, SIGTERM, ``timeout``): the run in progress saves a checkpoint,
and the next invocation skips finished runs and resumes the interrupted one exactly where it stopped. Every
invocation rebuilds ``benchmarks/results.md`` from all finished run folders of the plan (also the envs it did not
run this time) and, where a folder is gone (a fresh clone: ``runs/`` is not committed), from the env's record
``benchmarks/results/<env>.json``, which every invocation at the plan's own settings writes from what it read (the
curves, references and completed segments of every run, and the settings each run was made with). A run, stored
or in a folder, whose settings differ from what the configs give now (a changed sigma, step control, policy or
env argument) is left out: the report names it as stale (a stored one until ``--only <env>`` runs it again, a
folder until it is deleted). Runs stored before records held settings are read as they are. A change to an
env's own code is not seen that way: delete the record to discard its runs. The report has the command at the
top and, per env: its settings, its references (start, random actions, upper reference,
:mod:`zg_envs.references`), the interquartile mean (IQM) over seeds of the final normalised score with 95%
stratified-bootstrap intervals (rliable) per method, whether the best method reaches 0.8 and how
ZeroGrads stands against the best other method, and the IQM curves against env steps
(``benchmarks/results/<env>.png``). A summary across envs (table and ``benchmarks/results/summary.png``) closes
it, and the README's results table (between its ``results:begin``/``results:end`` markers) is rewritten from
the same rows. Envs whose plan says ``run=False`` (the character tasks, whose settings come from other work)
are listed with their settings and marked as not yet run unless ``--only`` names them. The ``## Reading``
section is written by a person and kept.

    python scripts/run_results.py                                 # everything the plan runs (resumes)
    python scripts/run_results.py --only zg/TreeGrowth-v0         # one env
    python scripts/run_results.py --quick --out /tmp/q --md /tmp/q.md --readme ''   # a smoke run, tiny budgets
    flock /tmp/zg-heavy.lock timeout 600 python scripts/run_results.py   # in chunks of at most 10 minutes
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from zg_agent.compare import BUDGET_RULE, find_runs, iqm_across, iqm_ci, run_comparison  # noqa: E402
from zg_agent.compare.report import comparison_references, plot_curves, references_line  # noqa: E402
from zg_agent.compare.running import split_overrides  # noqa: E402
from zg_agent.compare.runs import RunSummary  # noqa: E402
from zg_agent.config import load_config  # noqa: E402
from zg_agent.tables import READING_HEADING, kept_reading  # noqa: E402
from zg_agent.training import env_tag  # noqa: E402
from zg_agent.training.run_dir import read_config_dict  # noqa: E402
from zg_agent.training.references import normalize  # noqa: E402

READING_PLACEHOLDER = ("_To be written after looking at the numbers: where ZeroGrads wins, where it loses, and why. "
                       "Re-running the script keeps this section._")
TARGET = 0.8
README_BEGIN, README_END = "<!-- results:begin -->", "<!-- results:end -->"
CARRIED_MARK = "Carried over from the previous report (no run folders or stored record here):"
CARRIED_NOTE = (" An env marked \"carried over\" has neither run folders nor a stored record here (its runs predate "
                "the records in `benchmarks/results/<env>.json`): its section and column are kept from the previous "
                "report until `--only <env>` runs it again.")
#: the curves of a RunSummary that a record stores
RECORD_FIELDS = ("steps", "elapsed", "returns", "lengths")
#: the RunConfig fields that change a run's results, beyond the env, method, seed, budget and evaluation interval
#: that a record is keyed by (the backend and the logging do not change them)
RESULT_FIELDS = ("env_kwargs", "eval_env_kwargs", "eval_episodes", "episodes_per_candidate", "max_episode_steps",
                 "policy", "policy_options", "options")


@dataclass(frozen=True)
class EnvPlan:
    """One env of the results: its methods, seeds, budget and settings."""

    env_id: str
    scale: float
    """budget = scale x the largest configured budget of its methods (``configs/<algo>.yaml``)"""
    algos: tuple[str, ...] = ("zerograds", "es", "cma", "random")
    seeds: int = 5
    overrides: tuple[str, ...] = ()
    note: str = ""
    run: bool = True
    """False: listed with its settings, run only when ``--only`` names it"""
    segment: bool = False
    """an env whose task is to last a fixed segment: add columns of final episode lengths and of the runs whose
    final solution completes the segment (truncated at its horizon, not terminated; replayed once)"""


PPO_NOTE = ("PPO is left out of this row: at the configured budget it ended far below every black-box method "
            "(earlier 3-seed measurement: ShadowCaster 0.002 against 0.07-0.13, TreeGrowth 0.62 against 0.75-0.78 "
            "evaluation return), and five seeds of it would cost more than the whole row on this machine.")
PLAN: tuple[EnvPlan, ...] = (
    EnvPlan("zg/ShadowCaster-v0", 5.0, note=PPO_NOTE),
    EnvPlan("zg/TreeGrowth-v0", 5.0, note=PPO_NOTE),
    EnvPlan("zg/ShadowArt-v0", 1.0, note="K = 16 (4,096 voxels), the default grid and glyph targets. " + PPO_NOTE),
    EnvPlan("zg/CharacterMimic-v0", 1.0, algos=("zerograds", "es", "cma", "random", "ppo"), run=False,
            note="The feedback-policy mimic needs far more samples than fit here (DeepMimic reports about 60M "
                 "per policy); the row is listed with the shipped config and not run."),
    EnvPlan("zg/CharacterMimicOpenLoop-v0", 1.0, algos=("zerograds", "es", "cma", "random"), segment=True,
            note="One walk cycle (38 control steps) from a fixed start, 8 knots per joint (224 numbers), 450,000 "
                 "env steps (at 150,000 no method completed the cycle). The "
                 "segment is completed when the final plan's episode is truncated at step 38, not terminated (a "
                 "fall, a lost clip, a pelvis below 0.7 of the clip's height or tilted more than 30 degrees from "
                 "the clip's can also end it on step 38). "
                 "The upper reference is every step tracked perfectly (each of the five similarities 1), which "
                 "PD tracking through physics does not reach, so a completed cycle scores well below 1. PPO is "
                 "left out: it learns a feedback policy, and at this budget an open-loop plan is the whole "
                 "solution. 5 seeds of each method took 30-33 minutes on 2 cores here, by the runs' own wall "
                 "times."),
    EnvPlan("zg/CharacterLocomotion-v0", 1.0, algos=("zerograds", "es", "cma", "random"),
            note="Hopper with the PyBullet port's reward, linear policy with observation normalisation, 2M env "
                 "steps, the budget of RL Baselines3 Zoo's PPO. Training without the alive bonus (env_kwargs "
                 "alive_weight 0), evaluation on the full reward (eval_env_kwargs alive_weight 1), so the returns "
                 "compare with the Zoo's PPO 2,575 at 2M steps (the upper reference). Each evaluation is 3 "
                 "episodes, and one fall in them costs about a third of the return, so the final scores are "
                 "noisy. PPO is left out: with the Zoo's settings it runs at 90-240 env steps/s here, 3-6 hours "
                 "for 2M steps per seed. 5 seeds took 26 minutes for ZeroGrads and for OpenES, 23 for CMA-ES and "
                 "17 for random search on 2 cores here, by the runs' own wall times."),
)
QUICK_SCALE, QUICK_SEEDS = 0.02, 2


@dataclass
class EnvResult:
    plan: EnvPlan
    budget: int
    seeds: int
    refs: dict | None
    finals: dict[str, list[float]] = field(default_factory=dict)  # algo -> normalised final score per seed
    returns: dict[str, list[float]] = field(default_factory=dict)
    steps: dict[str, list[int]] = field(default_factory=dict)
    lengths: dict[str, list[float]] = field(default_factory=dict)  # algo -> final mean episode length per seed
    completed: dict[str, list[bool]] = field(default_factory=dict)  # algo -> final solution completes (segment)
    runs: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)  # (algo, seed) -> the run's RESULT_FIELDS (None: not known)
    stale: list[str] = field(default_factory=list)  # stored runs left out: made with other settings than now


def budget_of(plan: EnvPlan, scale: float) -> tuple[int, int]:
    """``(budget, eval_every)``: the largest configured budget of the plan's methods times ``scale``, and
    the smallest configured evaluation interval times it."""
    cfgs = [load_config(a, plan.env_id) for a in plan.algos]
    return (max(1, int(round(max(c.budget for c in cfgs) * scale))),
            max(1, int(round(min(c.eval_every for c in cfgs) * scale))))


def collect(plan: EnvPlan, out_dir: Path, budget: int, seeds: int, record: Path | None = None,
            settings: dict | None = None) -> EnvResult:
    """The finished runs of the plan's methods and seeds (with this budget) found in ``out_dir``, and, for each
    method and seed without such a folder, the run stored in ``record`` with these ``settings`` (written by
    :func:`write_record` from an earlier invocation's folders), so the report can be rebuilt where the run
    folders are gone."""
    found = [r for r in find_runs(out_dir, plan.env_id, states=("finished",))
             if r.algo in plan.algos and r.seed < seeds and r.budget == budget and r.returns.size]
    stored_refs, stored = read_record(record, plan.env_id, settings or {"budget": budget})
    present = {(r.algo, r.seed) for r in found}
    kept = {key: v for key, v in stored.items() if key not in present and key[0] in plan.algos and key[1] < seeds}
    now = {algo: planned_settings(plan, algo, budget) for algo in plan.algos}
    stale = []

    def current(key, made_with, where: str) -> bool:
        """Whether a run's settings (None: not known) are those of the configs now; if not, it is named."""
        changed = settings_diff(made_with, now[key[0]]) if made_with is not None else []
        if changed:
            stale.append(f"{key[0]} seed {key[1]}, {where} ({', '.join(changed)})")
        return not changed

    kept = {key: v for key, v in sorted(kept.items()) if current(key, v[2], "stored")}
    in_folder = {(r.algo, r.seed): run_settings(read_config_dict(r.run_dir)) for r in found}
    found = [r for r in found if current((r.algo, r.seed), in_folder[(r.algo, r.seed)], f"folder `{r.run_dir}`")]
    runs = found + [run for run, _, _ in kept.values()]
    refs = comparison_references(found) if found else stored_refs
    res = EnvResult(plan, budget, seeds, refs if runs else None, runs=runs, stale=stale)
    res.settings = {**{key: v[2] for key, v in kept.items()}, **{(r.algo, r.seed): in_folder[(r.algo, r.seed)]
                                                                  for r in found}}
    for algo in plan.algos:
        rs = sorted((r for r in runs if r.algo == algo), key=lambda r: r.seed)
        if rs:
            res.returns[algo] = [r.final for r in rs]
            res.finals[algo] = [normalize(res.refs, r.final) for r in rs]
            res.steps[algo] = [int(r.steps[-1]) for r in rs]
            res.lengths[algo] = [float(r.lengths[-1]) for r in rs]
            if plan.segment:
                res.completed[algo] = [kept[(algo, r.seed)][1] if (algo, r.seed) in kept
                                       else completes_segment(r.run_dir) for r in rs]
    return res


def run_settings(config: dict) -> dict | None:
    """The :data:`RESULT_FIELDS` of a run's config (``RunConfig.to_dict()`` or a run folder's ``config.yaml``),
    as JSON gives them back; ``None`` (not known) for an empty one (an unreadable ``config.yaml``)."""
    if not config:
        return None
    return json.loads(json.dumps({k: config.get(k) for k in RESULT_FIELDS}))


def planned_settings(plan: EnvPlan, algo: str, budget: int) -> dict:
    """The :data:`RESULT_FIELDS` that a run of ``algo`` in ``plan`` would be made with now."""
    overrides = split_overrides(plan.overrides, [algo])[0][algo]
    return run_settings(load_config(algo, plan.env_id, budget=budget, overrides=overrides).to_dict())


def settings_diff(made_with: dict, now: dict, prefix: str = "") -> list[str]:
    """What differs between a run's settings and those the configs give now, one dotted key each
    (``options.step_control 'auto', now 'none'``); a key missing on one side counts as ``None`` there, so a new
    option whose default is ``None`` changes nothing."""
    out = []
    for key in sorted(set(made_with) | set(now)):
        a, b = made_with.get(key), now.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += settings_diff(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key} {a!r}, now {b!r}")
    return out


def records_writable(md: Path, scale: float | None, seeds: int | None) -> bool:
    """Whether an invocation writes records: they lie beside the report, and beside the committed report only
    at the plan's own budgets and seeds (a smoke run with ``--scale``, ``--seeds`` or ``--quick`` leaves them)."""
    return (scale is None and seeds is None) or md.resolve() != ROOT / "benchmarks" / "results.md"


def record_settings(plan: EnvPlan, budget: int, eval_every: int) -> dict:
    """What a record's runs were made with, beyond the env id: a record of other settings is not read."""
    return {"budget": budget, "eval_every": eval_every, "overrides": list(plan.overrides), "segment": plan.segment}


def write_record(res: EnvResult, path: Path, settings: dict) -> None:
    """Store what the report reads of every run of ``res`` (curves, references, whether it completed its
    segment) in ``path``, a small JSON committed beside the figures: the run folders are too big to commit.
    Stored runs of the same settings that ``res`` lacks (seeds beyond ``res.seeds``) are kept."""
    if not res.runs:
        return
    _, stored = read_record(path, res.plan.env_id, settings)
    completed = {}
    for algo, flags in res.completed.items():  # aligned with the method's runs sorted by seed
        seeds = sorted(r.seed for r in res.runs if r.algo == algo)
        completed.update({(algo, seed): flag for seed, flag in zip(seeds, flags)})
    runs = {(r.algo, r.seed): (r, completed.get((r.algo, r.seed)), res.settings.get((r.algo, r.seed)))
            for r in res.runs}
    runs = {**stored, **runs}
    order = sorted(runs, key=lambda k: (res.plan.algos.index(k[0]) if k[0] in res.plan.algos else 99, k))
    rows = [{"algo": a, "seed": seed, "completed": runs[(a, seed)][1],
             **{k: _json_safe(getattr(runs[(a, seed)][0], k)) for k in RECORD_FIELDS},
             "settings": runs[(a, seed)][2]} for a, seed in order]
    head = {"env_id": res.plan.env_id, **settings, "references": _json_safe(res.refs)}
    # one line per run: a record stays readable and its diffs small
    body = ",\n".join("  " + json.dumps(row, allow_nan=False) for row in rows)
    path.write_text(json.dumps(head, allow_nan=False)[:-1] + ', "runs": [\n' + body + "\n]}\n")


def _json_safe(value):
    """``value`` with arrays as lists and non-finite floats as ``None`` (strict JSON has no NaN)."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_record(path: Path | None, env_id: str, settings: dict) -> tuple[dict | None, dict]:
    """``(references, {(algo, seed): (RunSummary, completed, run settings)})`` of the record at ``path`` when it
    holds runs of ``env_id`` made with ``settings`` (:func:`record_settings`); ``(None, {})`` otherwise. A run's
    settings are its :data:`RESULT_FIELDS`, ``None`` in a record written before they were stored."""
    if path is None or not path.is_file():
        return None, {}
    record = json.loads(path.read_text())
    if record.get("env_id") != env_id or any(record.get(k) != v for k, v in settings.items()):
        return None, {}
    runs = {}
    for r in record["runs"]:
        curves = {k: np.array([math.nan if v is None else v for v in r[k]], dtype=np.float64)
                  for k in RECORD_FIELDS}
        summary = RunSummary(r["algo"], int(r["seed"]), None, "finished", curves["steps"], curves["elapsed"],
                             curves["returns"], settings["budget"], curves["lengths"])
        runs[(r["algo"], int(r["seed"]))] = (summary, r.get("completed"), r.get("settings"))
    refs = record.get("references")
    if refs is not None:  # back from strict JSON: a missing number is NaN again, as the references module gives it
        refs = {k: (math.nan if v is None and k in ("start", "random") else v) for k, v in refs.items()}
    return refs, runs


def completes_segment(run_dir) -> bool:
    """Whether a run's final solution lasts the whole episode: one evaluation episode (on the first evaluation
    seed) that the env truncates at its horizon rather than terminates. An episode can end on its last step
    either way (a fall or a lost clip on that step), so its length alone does not say."""
    from zg_agent.envs import make_eval_env
    from zg_agent.replay import load_agent
    from zg_agent.training.base import EVAL_SEED_BASE

    cfg, agent = load_agent(run_dir)
    env = make_eval_env(cfg)
    try:
        act, (obs, _), t = agent.start(), env.reset(seed=EVAL_SEED_BASE), 0
        while True:
            obs, _, terminated, truncated, _ = env.step(act(obs, t))
            t += 1
            if terminated or truncated:
                return bool(truncated and not terminated)
    finally:
        env.close()
        agent.close()


def _f(v: float, digits: int = 3) -> str:
    if v is None or not math.isfinite(v):
        return "-"
    return f"{v:.0f}" if abs(v) >= 10 ** digits else f"{v:.{digits}g}"  # 2183, not 2.18e+03


def _ci(values) -> tuple[str, tuple]:
    stat = iqm_ci(values)
    m, lo, hi = stat
    n = sum(math.isfinite(v) for v in values)
    return ("-" if not math.isfinite(m) else _f(m) if n < 2 else f"{_f(m)} [{_f(lo)}, {_f(hi)}]"), stat


def verdict(res: EnvResult) -> list[str]:
    """Sentences: does the best method reach the target, and where does ZeroGrads stand."""
    stats = {a: iqm_ci(v) for a, v in res.finals.items() if any(math.isfinite(x) for x in v)}
    if not stats:
        return ["No normalised score (no upper reference or no finished run)."]
    best = max(stats, key=lambda a: stats[a][0])
    m = stats[best][0]
    out = [f"Best method: **{best}**, final normalised IQM {_f(m)}: "
           + (f"reaches the target {TARGET}." if m >= TARGET else
              f"below the target {TARGET} at this budget (see the Reading for why).")]
    if "zerograds" in stats:
        z = stats["zerograds"]
        others = {a: s for a, s in stats.items() if a != "zerograds"}
        if others:
            rival = max(others, key=lambda a: others[a][0])
            r = others[rival]
            if z[1] > r[2]:
                how = "wins: its interval lies above"
            elif z[2] < r[1]:
                how = "loses: its interval lies below"
            else:
                how = "ties: the intervals overlap with"
            out.append(f"ZeroGrads {_f(z[0])} [{_f(z[1])}, {_f(z[2])}] {how} that of the best other method, "
                       f"{rival} {_f(r[0])} [{_f(r[1])}, {_f(r[2])}].")
    return out


def env_section(res: EnvResult, scale: float, seeds: int, eval_every: int, out_dir: Path, fig_dir: Path,
                ran: bool) -> str:
    plan = res.plan
    lines = [f"## {plan.env_id}", "",
             f"Budget {res.budget:,} env steps per run ({scale:g} x the configured budget), {seeds} seeds, "
             f"evaluation every {eval_every:,} env steps, methods {', '.join(plan.algos)}; configs "
             f"`configs/<algo>.yaml`{' with ' + ', '.join(plan.overrides) if plan.overrides else ''}. "
             f"Run folders: `{out_dir}`. {plan.note}".rstrip(), ""]
    if res.stale:
        lines += [f"**Runs left out, made with other settings than the configs give now:** {'; '.join(res.stale)}. "
                  f"`--only {plan.env_id}` runs a stored one again (with `--algos` naming its method); a run folder "
                  f"has to be deleted first.", ""]
    if not res.runs:
        why = ("not yet run: its settings come from other work; `--only` runs it as listed here"
               if not ran else "not finished yet: re-run the command to resume it")
        return "\n".join(lines + [f"**No finished runs: {why}.**"])
    lines += [references_line(res.refs), ""]
    extra = 2 if plan.segment else 0
    segment_head = " final episode length per seed | completed the segment |" if plan.segment else ""
    lines += ["| method | seeds | final normalised score, IQM [95% CI] | final return, IQM [95% CI] | env steps used "
              f"|{segment_head} start | random | upper |", "|" + " --- |" * (8 + extra)]
    r = res.refs or {}
    for algo in plan.algos:
        if algo not in res.finals:
            lines.append(f"| {algo} | 0 |" + " - |" * (6 + extra))
            continue
        used = sorted(res.steps[algo])
        used_txt = f"{used[0]}" if used[0] == used[-1] else f"{used[0]}-{used[-1]}"
        length_txt = (f" {', '.join(_f(v, 4) for v in res.lengths[algo])} | "
                      f"{sum(res.completed[algo])} of {len(res.completed[algo])} |" if plan.segment else "")
        lines.append(f"| {algo} | {len(res.finals[algo])} | {_ci(res.finals[algo])[0]} | "
                     f"{_ci(res.returns[algo])[0]} | {used_txt} |{length_txt} {_f(r.get('start'), 4)} | "
                     f"{_f(r.get('random'), 4)} | {_f(r.get('upper'), 4)} |")
    missing = [f"{a} ({len(res.finals.get(a, []))}/{seeds})" for a in plan.algos
               if len(res.finals.get(a, [])) < seeds]
    if missing:
        lines += ["", f"Incomplete (finished seeds): {', '.join(missing)}; re-run the command to resume."]
    lines += ["", *verdict(res)]
    png = fig_dir / f"{env_tag(plan.env_id)}.png"
    plot_curves(res.runs, png, title=f"{plan.env_id}: IQM over seeds, 95% stratified-bootstrap band",
                algos=list(plan.algos), references=res.refs)
    lines += ["", f"![{plan.env_id}](results/{png.name})"]
    return "\n".join(lines)


def summary(results: list[EnvResult], fig_dir: Path, carried: dict | None = None) -> tuple[str, str]:
    """The summary section and the README table: final normalised IQM per method and env, and across envs.
    ``carried`` (env id -> {method: cell}) adds the columns of envs kept from the previous report
    (:func:`carried_summary`), not pooled."""
    carried = carried or {}
    done = [r for r in results if r.runs and r.refs and r.refs.get("upper") is not None]
    columns = [r for r in results if r in done or r.plan.env_id in carried]
    if not columns:
        return "## Summary\n\nNo env has finished runs with a normalised score yet.", "_No results yet._"
    algos = [a for a in dict.fromkeys(a for r in columns for a in r.plan.algos)]
    # pooled over the envs where every method shown has all its seeds, so that each method's pool is the same
    pooled = [r for r in done if all(len(r.finals.get(a, [])) >= r.seeds for a in algos)]
    marks = {id(r): "" if r in pooled else " (not pooled)" if r in done else " (not pooled, carried over)"
             for r in columns}
    head = ("| method | " + " | ".join(f"{r.plan.env_id}{marks[id(r)]}" for r in columns)
            + " | pooled (IQM, stratified) |")
    rows = [head, "|" + " --- |" * (len(columns) + 2)]
    across = {}
    if pooled:
        n = min(r.seeds for r in pooled)
        across = {algo: [[r.finals[algo][i] for r in pooled] for i in range(n)] for algo in algos}  # runs x envs
    point, ci = iqm_across(across) if across else ({}, {})
    for algo in algos:
        cells = [(_ci(r.finals[algo])[0] if algo in r.finals else "-") if r in done
                 else carried[r.plan.env_id].get(algo, "-") for r in columns]
        all_txt = f"{_f(point[algo])} [{_f(ci[algo][0])}, {_f(ci[algo][1])}]" if algo in point else "-"
        rows.append(f"| {algo} | " + " | ".join(cells) + f" | {all_txt} |")
    panels = [(r.plan.env_id, {a: iqm_ci(r.finals[a]) for a in algos if a in r.finals} if r in done else
               {a: stat for a, c in carried[r.plan.env_id].items() if (stat := _parse_cell(c))}) for r in columns]
    _plot_summary(panels, algos, point, ci, fig_dir / "summary.png")
    text = "\n".join(["## Summary", "",
                      "Final normalised score (0 = start, 1 = upper reference), interquartile mean over seeds with "
                      "95% stratified-bootstrap intervals (rliable). The last column pools the runs of the envs "
                      "where every method shown has all its seeds (an env marked \"not pooled\" ran only some "
                      "methods), resampling runs within each env." + CARRIED_NOTE * bool(carried), "", *rows, "",
                      "![summary](results/summary.png)"])
    return text, "\n".join(rows)


def _parse_cell(cell: str) -> tuple[float, float, float] | None:
    """``(IQM, low, high)`` from a table cell ``"m [lo, hi]"`` (or ``"m"``); None for ``"-"``."""
    number = r"-?\d[\d.e+-]*"
    m = re.fullmatch(rf"\s*({number})(?:\s*\[({number}), ({number})\])?\s*", cell)
    if not m:
        return None
    mid = float(m.group(1))
    return (mid, float(m.group(2)), float(m.group(3))) if m.group(2) else (mid, mid, mid)


def previous_sections(md: Path) -> dict[str, str]:
    """The ``## <env id>`` sections of an existing report (up to the next ``## `` heading), by env id."""
    text = md.read_text() if md.is_file() else ""
    parts = re.split(r"^## ", text, flags=re.M)[1:]
    return {part.split("\n", 1)[0].strip(): "## " + part.rstrip() for part in parts}


def carried_summary(sections: dict[str, str], env_id: str) -> dict[str, str]:
    """{method: cell} of ``env_id``'s column in the summary table of an existing report's ``sections``
    (:func:`previous_sections`; empty when absent)."""
    table = [line for line in sections.get("Summary", "").splitlines() if line.startswith("| ")]
    if len(table) < 3:
        return {}
    head = [c.strip() for c in table[0].strip("|").split("|")]
    col = next((i for i, c in enumerate(head) if c.split(" (")[0] == env_id), None)
    if col is None:
        return {}
    cells = {}
    for line in table[2:]:
        row = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(row) == len(head):
            cells[row[0]] = row[col]
    return cells


def _plot_summary(panels, algos, point, ci, path: Path) -> None:
    """One bar panel per ``(title, {method: (IQM, low, high)})`` of ``panels``, and the pooled one."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = list(panels)
    if point:
        panels.append(("pooled", {a: (point[a], *ci[a]) for a in algos if a in point}))
    fig = Figure(figsize=(3.2 * len(panels), 3.0), dpi=110)
    FigureCanvasAgg(fig)
    for k, (title, stats) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        names = [a for a in algos if a in stats]
        mids = [stats[a][0] for a in names]
        errs = [[stats[a][0] - stats[a][1] for a in names], [stats[a][2] - stats[a][0] for a in names]]
        colours = [f"C{algos.index(a)}" for a in names]  # the colours of the curves
        # one row per method in every panel, so a panel without some methods keeps the rows of the labels
        ax.barh([algos.index(a) for a in names], mids, xerr=errs, color=colours, alpha=0.75, capsize=3)
        ax.set_ylim(len(algos) - 0.5, -0.5)  # the plan's first method on top
        ax.axvline(TARGET, color="0.3", linestyle="--", linewidth=1)
        ax.set_yticks(range(len(algos)), algos if k == 0 else [""] * len(algos))
        ax.set_xlim(min(0.0, *[s[1] for s in stats.values()]) - 0.05, 1.05)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("normalised score (IQM)", fontsize=8)
        ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(str(path))


def old_reading(md: Path) -> str:
    """The ``## Reading`` section of an existing report (with any subsections up to the end), or a placeholder."""
    return kept_reading(md) or f"{READING_HEADING}\n\n{READING_PLACEHOLDER}"


def update_readme(readme: Path, table: str, md: Path) -> bool:
    """Replace the README's table between the results markers; False when it has no markers."""
    if not readme.is_file():
        return False
    text = readme.read_text()
    pattern = re.compile(re.escape(README_BEGIN) + r".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        return False
    source = f"(from [{md.as_posix()}]({md.as_posix()}), written by `scripts/run_results.py`)"
    block = f"{README_BEGIN}\n{table}\n\n{source}\n{README_END}"
    readme.write_text(pattern.sub(lambda _: block, text))
    return True


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=None, help="comma-separated env ids of the plan to run (also unrun ones)")
    p.add_argument("--algos", default=None, help="run only these methods (comma-separated; default the plan's)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per method (default the plan's, >= 5)")
    p.add_argument("--scale", type=float, default=None, help="budget scale for every env instead of the plan's")
    p.add_argument("--quick", action="store_true",
                   help=f"a smoke run: scale {QUICK_SCALE}, {QUICK_SEEDS} seeds (use with --out and --md elsewhere)")
    p.add_argument("--backend", default="process", help="black-box evaluation backend (default process)")
    p.add_argument("--num-workers", type=int, default=2, help="worker processes of the backend (default 2)")
    p.add_argument("--out", default="runs/results", help="folder of the run folders (default runs/results)")
    p.add_argument("--md", default="benchmarks/results.md", help="the report (default benchmarks/results.md)")
    p.add_argument("--readme", default="README.md", help="README whose results table to rewrite ('' for none)")
    p.add_argument("--report-only", action="store_true",
                   help="rebuild the report from the run folders and records, train nothing")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    command = "python " + " ".join(shlex.quote(a) for a in [f"scripts/{Path(__file__).name}", *(
        sys.argv[1:] if argv is None else argv)])
    known = {e.env_id: e for e in PLAN}
    only = [e for e in args.only.split(",") if e] if args.only else None
    for e in only or []:
        if e not in known:
            p.error(f"--only: {e!r} is not in the plan; allowed: {', '.join(known)}")
    scale_all = QUICK_SCALE if args.quick and args.scale is None else args.scale
    if scale_all is not None and not scale_all > 0:
        p.error(f"--scale must be > 0, got {scale_all}")
    seeds_all = QUICK_SEEDS if args.quick and args.seeds is None else args.seeds
    if seeds_all is not None and seeds_all < 1:
        p.error(f"--seeds must be >= 1, got {seeds_all}")
    algos_only = [a for a in args.algos.split(",") if a] if args.algos else None
    md, out_root = Path(args.md), Path(args.out)
    fig_dir = md.parent / "results"
    fig_dir.mkdir(parents=True, exist_ok=True)
    t0, interrupted, failed = time.time(), False, []
    sections, results, carried = [], [], {}
    previous = previous_sections(md)
    write_records = records_writable(md, scale_all, seeds_all)
    for plan in PLAN:
        scale = plan.scale if scale_all is None else scale_all
        seeds = plan.seeds if seeds_all is None else seeds_all
        budget, eval_every = budget_of(plan, scale)
        out_dir = out_root / env_tag(plan.env_id)
        ran = (plan.env_id in only) if only else plan.run
        if ran and not interrupted and not args.report_only:
            algos = [a for a in plan.algos if algos_only is None or a in algos_only]
            if algos:
                print(f"== {plan.env_id}: {', '.join(algos)} x {seeds} seeds, {budget} env steps -> {out_dir}",
                      flush=True)
                res = run_comparison(plan.env_id, algos, seeds=range(seeds), budget=budget, out_dir=out_dir,
                                     overrides=[f"eval_every={eval_every}", *plan.overrides], backend=args.backend,
                                     num_workers=args.num_workers, progress=not args.no_progress,
                                     command=command)
                failed += [f"{plan.env_id}: {f}" for f in res.failed]
                interrupted = res.interrupted
        record = fig_dir / f"{env_tag(plan.env_id)}.json"
        settings = record_settings(plan, budget, eval_every)
        result = collect(plan, out_dir, budget, seeds, record, settings)
        for stale in result.stale:
            print(f"warning: {plan.env_id}: left out the run of {stale}: it was made with other settings than "
                  f"the configs give now", file=sys.stderr)
        if write_records:  # a smoke run (--quick, --scale, --seeds) leaves the committed records alone
            write_record(result, record, settings)
        results.append(result)
        section = env_section(result, scale, seeds, eval_every, out_dir, fig_dir, ran)
        old = previous.get(plan.env_id, "")
        if not result.runs and "| method |" in old and not record.exists() and not find_runs(out_dir, plan.env_id):
            # runs made before records existed, whose folders are gone: keep what the previous report said of them
            cells = carried_summary(previous, plan.env_id)
            if cells:
                carried[plan.env_id] = cells
            section = old if CARRIED_MARK in old else f"{old}\n\n{CARRIED_MARK} `--only {plan.env_id}` runs it again."
        sections.append(section)
    summary_text, table = summary(results, fig_dir, carried)
    header = ["# Results of record: normalised scores at equal budgets", "", "Latest command:", "", "```", command,
              "```", "",
              f"Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs; wall time "
              f"of the latest command {time.time() - t0:.0f} s (the run folders hold every run's own). Each run is "
              f"scored by the evaluation return of its final solution (theta mean; PPO's deterministic policy) on "
              f"fixed evaluation seeds, normalised by the env's references: 0 = the start design, 1 = the upper "
              f"reference (`zg_envs/references.py`). Target: the best method at >= {TARGET}.", "", BUDGET_RULE, ""]
    if failed:
        header += ["Failed runs:", "", *[f"- {f}" for f in failed], ""]
    if interrupted:
        header += ["**The latest command was stopped before the plan was done; re-run it to resume.**", ""]
    md.write_text("\n".join(header) + "\n" + "\n\n".join([summary_text, *sections, old_reading(md)]) + "\n")
    print(f"wrote {md}")
    if args.readme and update_readme(Path(args.readme), table, md):
        print(f"updated the results table of {args.readme}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
