"""Pareto frontier of candidates with two objectives to minimize (time and cost).

A point is *dominated* when another point is no worse in both objectives and strictly better in
at least one. The frontier is the set of points that no other point dominates. Exact duplicates
do not dominate each other, so all copies of a frontier point are on the frontier.

The algorithm is O(n log n): sort by (x, y); a point is on the frontier when its y is the smallest
of its x-group and strictly smaller than every y seen at a smaller x.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pareto_mask"]


def pareto_mask(x, y) -> np.ndarray:
    """Return a boolean mask of the points on the (x, y) Pareto frontier, both minimized.

    Parameters
    ----------
    x, y : array_like of float
        The two objectives (e.g. wall time [s] and cost [USD]), same length. Points where either
        is NaN or infinite are never on the frontier and never dominate anything.

    Returns
    -------
    numpy.ndarray of bool
        ``True`` where the point is not dominated by any other finite point.

    Examples
    --------
    >>> pareto_mask([1, 2, 3, 2], [3, 2, 1, 3]).tolist()
    [True, True, True, False]
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D arrays of the same length, got {x.shape} and {y.shape}")
    mask = np.zeros(x.shape, dtype=bool)
    finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if finite.size == 0:
        return mask
    xs, ys = x[finite], y[finite]
    order = np.lexsort((ys, xs))  # by x, then y
    xo, yo = xs[order], ys[order]
    # start index of each run of equal x; the first point of a run has the run's smallest y
    new_group = np.empty(xo.size, dtype=bool)
    new_group[0] = True
    new_group[1:] = xo[1:] != xo[:-1]
    starts = np.flatnonzero(new_group)
    group_of = np.cumsum(new_group) - 1
    group_min = yo[starts][group_of]
    # smallest y over all strictly smaller x: running minimum up to the point before the group
    run_min = np.minimum.accumulate(yo)
    before = np.full(starts.size, np.inf)
    before[1:] = run_min[starts[1:] - 1]
    prev_min = before[group_of]
    on = (yo == group_min) & (yo < prev_min)
    mask[finite[order[on]]] = True
    return mask
