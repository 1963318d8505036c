"""Every metric of a run summarised as columns: `count` of finite values, the first and last
step with one, the value at each (`first`, `last`), `min` and `max`, in metric-name order.

Columns rather than a dict per metric because a run can hold millions of metrics (a verl step
line of 5M `key:value` items, a JSONL log with a new name on every line): a dict per metric cost
GBs and most of `inspect`'s time there. Packed metrics (`ResolvedColumns`) are summarised with
numpy over their flat arrays; the few metrics of their own in a plain Python loop or numpy.
`Run.metric_summary` and `inspect` (its JSON and its text table) are all built from this.
"""

from __future__ import annotations

import itertools
import math
import operator
from dataclasses import dataclass

import numpy as np

SMALL = 16  # metrics of at most this many values are summarised in plain Python (numpy's per-call cost)
STEP_FIELDS = ("count", "first_step", "last_step")
VALUE_FIELDS = ("first", "last", "min", "max")


@dataclass
class MetricTable:
    """Aligned columns, one row per metric, `names` sorted. A metric with no finite value has
    count 0, steps -1 and values NaN (None in `as_dicts`)."""

    names: list[str]
    count: np.ndarray  # int64
    first_step: np.ndarray  # int64
    last_step: np.ndarray  # int64
    first: np.ndarray  # float64
    last: np.ndarray
    min: np.ndarray
    max: np.ndarray

    def as_dicts(self, fields: tuple[str, ...] = STEP_FIELDS + VALUE_FIELDS) -> dict[str, dict]:
        """name -> {field: value} (Python numbers, None where the metric has no finite value)."""
        has = (self.count > 0).tolist()
        columns = [getattr(self, f).tolist() for f in fields]
        missing = dict.fromkeys(f for f in fields if f != "count")
        out = {}
        for i, name in enumerate(self.names):
            row = dict(zip(fields, (c[i] for c in columns)))
            if not has[i]:
                row.update(missing)
            out[name] = row
        return out


def metric_table(columns) -> MetricTable:
    """The summary of a run's columns (`Run.columns()`: metric -> (ascending steps, values))."""
    names: list[str] = []
    parts: list[tuple[np.ndarray, ...]] = []
    plain = columns
    if hasattr(columns, "packed"):  # millions of metrics of a value or a few: vectorised
        packed_names, starts, steps, values = columns.packed()
        names.extend(packed_names)
        parts.append(_packed(starts, steps, values))
        plain = columns.plain()
    rows = [_one(steps, values) for steps, values in plain.values()]
    names[:0] = [str(name) for name in plain]
    if rows:
        parts.insert(0, tuple(np.array(col, dtype=np.float64 if i >= 3 else np.int64)
                              for i, col in enumerate(zip(*rows))))
    if not parts:
        empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float64)
        return MetricTable([], empty_i, empty_i, empty_i, empty_f, empty_f, empty_f, empty_f)
    cols = [np.concatenate([p[i] for p in parts]) for i in range(7)]
    if not all(map(operator.le, names, itertools.islice(names, 1, None))):  # (no copy if sorted)
        order = np.fromiter(sorted(range(len(names)), key=names.__getitem__), np.int64, len(names))
        names = [names[i] for i in order.tolist()]
        cols = [c[order] for c in cols]
    return MetricTable(names, *cols)


def _one(steps: np.ndarray, values: np.ndarray) -> tuple:
    """(count, first_step, last_step, first, last, min, max) of one metric's column; `last` is
    the value of the first row at the last step."""
    if values.size <= SMALL:
        pairs = [(s, v) for s, v in zip(steps.tolist(), values.tolist()) if math.isfinite(v)]
        if not pairs:
            return (0, -1, -1, math.nan, math.nan, math.nan, math.nan)
        high = pairs[-1][0]
        kept = [v for _, v in pairs]
        return (len(pairs), pairs[0][0], high, pairs[0][1], next(v for s, v in pairs if s == high),
                min(kept), max(kept))
    finite = np.isfinite(values)
    if not finite.all():
        steps, values = steps[finite], values[finite]
        if not values.size:
            return (0, -1, -1, math.nan, math.nan, math.nan, math.nan)
    last = int(np.searchsorted(steps, steps[-1]))  # the first row at the last step
    return (int(values.size), int(steps[0]), int(steps[-1]), float(values[0]), float(values[last]),
            float(values.min()), float(values.max()))


def _packed(starts: np.ndarray, steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, ...]:
    """The seven columns for every packed metric with a row (metric i: rows starts[i]:starts[i+1],
    steps ascending and distinct), in id order."""
    n_ids = starts.size - 1
    rows = np.diff(starts)
    ids = np.flatnonzero(rows)  # the packed metrics (as ResolvedColumns.packed lists them)
    finite = np.isfinite(values)
    owner = np.repeat(np.arange(n_ids), rows)[finite]
    steps, values = steps[finite], values[finite]
    counts = np.bincount(owner, minlength=n_ids)[ids]
    has = counts > 0
    ends = np.cumsum(np.bincount(owner, minlength=n_ids))[ids]
    lo, hi = (ends - counts)[has], ends[has] - 1
    first_step = np.full(ids.size, -1, np.int64)
    last_step = first_step.copy()
    first, last, low, high = (np.full(ids.size, np.nan) for _ in range(4))
    if lo.size:
        first_step[has], last_step[has] = steps[lo], steps[hi]
        first[has], last[has] = values[lo], values[hi]
        low[has], high[has] = np.minimum.reduceat(values, lo), np.maximum.reduceat(values, lo)
    return counts.astype(np.int64), first_step, last_step, first, last, low, high
