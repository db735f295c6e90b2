"""Interquartile means with stratified-bootstrap intervals (rliable), for one task, across tasks, along curves."""

import math

import numpy as np
import pytest
from scipy.stats import trim_mean

from zg_agent.compare.statistics import iqm_across, iqm_band, iqm_ci


def test_iqm_ci_is_the_trimmed_mean_with_an_interval_around_it():
    values = [1.0, 2.0, 3.0, 4.0, 100.0]
    m, lo, hi = iqm_ci(values)
    assert m == pytest.approx(trim_mean(values, 0.25)) == 3.0  # the outlier is trimmed away
    assert 1.0 <= lo <= m <= hi <= 100.0 and hi > lo
    assert iqm_ci(values) == (m, lo, hi)  # seeded
    assert iqm_ci([2.5]) == (2.5, 2.5, 2.5)
    assert all(math.isnan(v) for v in iqm_ci([math.nan]))


def test_iqm_across_tasks_resamples_runs_within_each_task():
    rng = np.random.default_rng(0)
    good, bad = rng.uniform(0.8, 1.0, (5, 3)), rng.uniform(0.0, 0.2, (5, 3))
    point, ci = iqm_across({"good": good, "bad": bad})
    assert point["good"] == pytest.approx(trim_mean(good.ravel(), 0.25))
    assert ci["bad"][1] < ci["good"][0]  # clearly apart
    assert ci["good"][0] <= point["good"] <= ci["good"][1]


def test_iqm_band_matches_the_iqm_at_each_point():
    curves = np.array([[0.0, 1.0, 2.0], [0.0, 2.0, 4.0], [0.0, 3.0, 9.0], [0.0, 4.0, 5.0], [0.0, 50.0, 6.0]])
    mid, lo, hi = iqm_band(curves)
    assert mid == pytest.approx(trim_mean(curves, 0.25, axis=0))
    assert np.all(lo <= mid + 1e-12) and np.all(mid <= hi + 1e-12) and lo[0] == hi[0] == 0.0


def test_intervals_are_seeded_and_leave_the_global_generator_alone():
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    first = iqm_ci([0.1, 0.5, 0.2, 0.9, 0.4], seed=7)
    assert np.random.rand() == expected
    assert iqm_ci([0.1, 0.5, 0.2, 0.9, 0.4], seed=7) == first
