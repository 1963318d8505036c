"""The distinct steps of a run's per-metric columns, ascending (`Run.steps`, `Run.n_steps`).

Asked of every run read (the step counts `inspect` and `analyze` give, the x axis), over
columns that may hold millions of values, so not by sorting every metric's steps together:
metrics that share one step array count it once (`ColumnStore.step_arrays`), and a few
resolved arrays (each sorted and distinct) are merged into the longest by a search, which
copies nothing where the others are subsets of it (evaluation steps among training steps).
Many arrays, or unresolved ones (a run built from a table), are hashed. Apart from `Run`,
which holds the columns, because this is arithmetic on arrays and knows nothing of a run.
"""

from __future__ import annotations

import sys

import numpy as np


def step_union(columns, resolved: bool) -> np.ndarray:
    """Distinct steps of `columns` (name -> (steps, values), or a `ColumnStore`'s columns
    with `step_arrays`), ascending; may be one of the columns' own arrays (do not write).
    `resolved`: each column's steps are sorted and distinct (a resolved store's)."""
    arrays = columns.step_arrays() if hasattr(columns, "step_arrays") else list(
        {id(s): s for s, _ in columns.values()}.values())
    if not arrays:
        return np.zeros(0, np.int64)
    if resolved and len(arrays) <= 8:  # a few groups (a union per array: not for 1e6 names)
        arrays.sort(key=len, reverse=True)
        union = arrays[0]
        for other in arrays[1:]:  # usually a subset (eval steps among train steps): no copy
            if not other.size:
                continue
            at = np.searchsorted(union, other).clip(max=union.size - 1)
            missing = other[union[at] != other]
            if missing.size:
                union = np.union1d(union, missing)
        return union
    every = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
    if "pandas" in sys.modules:  # a run built from a table: pandas is there already
        # pd.unique hashes in O(n); np.unique's sort is ~15x slower on a 4M-row table.
        return np.sort(sys.modules["pandas"].unique(every))
    return np.unique(every)
