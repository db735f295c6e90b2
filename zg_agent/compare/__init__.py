"""Many algorithms x seeds on one env with one budget -> ``comparison.md`` and ``comparison.png``.

:func:`run_comparison` first checks every algorithm's config and budget (env, policy, optimizer / PPO options,
one iteration within the budget) and stops before starting anything when one fails. Then it trains every
(algorithm, seed) pair into ``<out>/<env>__<algo>__s<seed>/``: a run that finished with at least this budget
is skipped, an interrupted one (or one that finished with a smaller budget) is resumed, so re-running the same
command continues a comparison. The report covers every finished run of the env found in ``<out>`` (all
algorithms, also those of earlier commands), so ``zg-compare --algos ppo`` into the folder of an earlier
``--algos zerograds,es`` adds PPO to the table. :func:`summarize` reads each run's ``evaluations.csv`` and
reports per algorithm:

- final return (last evaluation) and best return (best evaluation), interquartile mean over seeds with a 95%
  stratified-bootstrap interval (rliable, :mod:`.statistics`), each also as a normalised score: 0 at the env's
  start, 1 at its upper reference (:mod:`zg_agent.training.references`; start, random and upper beside every row);
- env steps and wall time until the evaluation return first reaches ``R0 + fraction * (R* - R0)``, where
  ``R0`` is the mean return of the initial solutions (the evaluation at step 0, over all runs) and ``R*`` the
  best evaluation return of any run; a fraction of the way from the start to the best, which stays meaningful
  for negative returns. Given as the mean over the seeds that reached it, with how many did;
- env steps and wall time used. Every run stops at or below its budget (see :data:`BUDGET_RULE`), so the env
  steps actually used are reported next to every result.

``comparison.png`` shows the IQM of the normalised score (the return where the env has no upper reference)
against env steps per algorithm, with the 95% stratified-bootstrap
interval over seeds shaded (curves interpolated onto a common grid of env steps).
"""

from __future__ import annotations

from ..session import run_budget
from ..training import BUDGET_RULE
from .report import comparison_references, plot_curves, report_from_dir, summarize, write_report
from .runs import RunSummary, find_runs, load_run
from .running import ComparisonResult, check_configs, run_comparison
from .statistics import bootstrap_ci, iqm_across, iqm_ci

__all__ = ["BUDGET_RULE", "ComparisonResult", "RunSummary", "bootstrap_ci", "check_configs", "comparison_references",
           "find_runs", "iqm_across", "iqm_ci",
           "load_run", "plot_curves", "report_from_dir", "run_budget", "run_comparison", "summarize",
           "write_report"]
