"""The Pareto frontier: hand cases and hypothesis properties (no frontier point is dominated,
every point left out is dominated by one on the frontier)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aicost.plan import pareto_mask


def _dominates(a, b) -> bool:
    return a[0] <= b[0] and a[1] <= b[1] and (a[0] < b[0] or a[1] < b[1])


def test_hand_cases():
    assert pareto_mask([1, 2, 3, 2], [3, 2, 1, 3]).tolist() == [True, True, True, False]
    # equal x: only the smallest y of the group survives
    assert pareto_mask([1, 1, 1], [2, 2, 3]).tolist() == [True, True, False]
    # equal y, larger x is dominated
    assert pareto_mask([1, 2], [5, 5]).tolist() == [True, False]
    assert pareto_mask([], []).tolist() == []


def test_non_finite_points_never_on_frontier_and_never_dominate():
    x = [1.0, math.nan, 3.0, math.inf, 0.5]
    y = [1.0, 0.0, 0.5, 0.0, math.nan]
    assert pareto_mask(x, y).tolist() == [True, False, True, False, False]
    assert pareto_mask([math.nan], [math.nan]).tolist() == [False]


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="same length"):
        pareto_mask([1, 2], [1])


finite = st.floats(min_value=0, max_value=100, allow_nan=False, allow_infinity=False)
# a small set of values makes ties (equal x or y, duplicates) frequent
tied = st.sampled_from([0.0, 1.0, 2.0, 2.5, 3.0])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(finite, tied), st.one_of(finite, tied)), max_size=40))
def test_frontier_properties(points):
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    mask = pareto_mask(x, y)
    pts = list(zip(x.tolist(), y.tolist()))
    front = [p for p, m in zip(pts, mask) if m]
    for i, p in enumerate(pts):
        dominated = any(_dominates(q, p) for q in pts)
        # on the frontier exactly when no point dominates it
        assert bool(mask[i]) == (not dominated)
        if dominated:  # and something on the frontier dominates it (or ties with its dominator)
            assert any(_dominates(q, p) for q in front)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=1, max_size=30))
def test_frontier_is_sorted_staircase(points):
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    m = pareto_mask(x, y)
    fx, fy = x[m], y[m]
    order = np.argsort(fx, kind="stable")
    fx, fy = fx[order], fy[order]
    # along the frontier, time grows and cost falls (strictly, except exact duplicates)
    assert np.all(np.diff(fx) >= 0)
    assert np.all((np.diff(fy) < 0) | ((np.diff(fx) == 0) & (np.diff(fy) == 0)))
