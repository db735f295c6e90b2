"""Shared by the optimizer tests: a small plateau problem and the trajectory of a few ask/tell iterations."""

import numpy as np

from zg_agent import problems

SPHERE = problems.step_sphere(8)


def run_iterations(opt, fun, n):
    """The mean after each of ``n`` ask/tell iterations of ``opt`` on ``fun``, as an (n, d) array."""
    trajectory = []
    for _ in range(n):
        xs = opt.ask()
        opt.tell(xs, fun(xs))
        trajectory.append(opt.mean.copy())
    return np.array(trajectory)
