"""Metrics of a few values each, held as three flat arrays instead of arrays per metric.

A log of 1e6 metric names (one a line), or a verl step line of 5M `key:value` items, has
millions of metrics of one value each. As per-metric columns each costs two numpy arrays, a
tuple and its group's bookkeeping (~500 bytes, 2.5 GB for 5M items) and a Python loop per
metric at every stage. Here such metrics live in one long table of (metric id, step, value)
triplets while they are read, and, resolved, as one CSR table: per metric id a start offset
into a flat step array and a flat value array. `ResolvedColumns` shows them, together with the
ordinary per-metric columns, as the `metric -> (steps, values)` mapping a Run holds; a
metric's pair of views is made when it is asked for, not stored.

`Row` is one record of many metrics as two columns (names, float64 values): a reader that
parses a wide line straight into it never builds a dict of millions of Python floats.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from phasewatch.resumes import surviving


class Row(Mapping):
    """One logged record as columns: `names[i]` holds `values[i]` (float64, NaN kept).

    A Mapping like the dict a reader would return, so every consumer of records works on it;
    the collector stores it without looking at its items one by one (`as_columns`)."""

    __slots__ = ("_index", "names", "values")

    def __init__(self, names: list[str], values: np.ndarray):
        self.names = names
        self.values = np.asarray(values, dtype=np.float64)
        self._index: dict[str, int] | None = None

    def as_columns(self) -> tuple[list[str], np.ndarray]:
        return self.names, self.values

    def __getitem__(self, name: str) -> float:
        if self._index is None:  # the last of a repeated name wins, as in a dict
            self._index = {n: i for i, n in enumerate(self.names)}
        return float(self.values[self._index[name]])

    def __iter__(self) -> Iterator[str]:
        if self._index is not None:
            return iter(self._index)
        return iter(dict.fromkeys(self.names))

    def __len__(self) -> int:
        if self._index is None:
            self._index = {n: i for i, n in enumerate(self.names)}
        return len(self._index)

    def items(self):  # one pass, no lookups (the live monitor walks every item)
        return dict(zip(self.names, self.values.tolist())).items()


def pack(ids: np.ndarray, steps: np.ndarray, values: np.ndarray, n_ids: int,
         names: list[str] | None = None, notes: list | None = None,
         raw_rows: dict | None = None, went_back: set[str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Triplets in file order -> (ids, steps, values) sorted by id then step with the last
    value in file order kept for a repeated (id, step), and `starts` (n_ids + 1 offsets:
    metric i is rows starts[i]:starts[i + 1]). A metric whose own counter went back (a resumed
    run) keeps what `resumes.surviving` keeps of it; one whose steps repeat without going back
    is read by `step_rows.resolve_rows` (`names`: id -> metric, `notes` its `RowNote`s,
    `raw_rows` its rows in file order), unless its counter went back before (`went_back`,
    added to)."""
    if ids.size > 1 and not (ids[1:] > ids[:-1]).all():  # a wide row's new ids: already so
        ids, steps, values, back = _dropped_branches(ids, steps, values)
        if went_back is None:
            went_back = set()
        if names is not None:
            went_back.update(names[i] for i in back)
        order = np.lexsort((steps, ids))  # stable: equal (id, step) stay in file order
        sid, sstep = ids[order], steps[order]
        last = np.ones(order.size, dtype=bool)
        last[:-1] = (sid[1:] != sid[:-1]) | (sstep[1:] != sstep[:-1])
        keep = order[last]
        tied = np.unique(sid[:-1][~last[:-1]]) if not last.all() else ()
        raw = values
        ids, steps, values = sid[last], sstep[last], values[keep]
        if len(tied):  # after `_dropped_branches` only metrics that never go back repeat steps
            from phasewatch.step_rows import resolve_rows

            for metric in tied.tolist():
                name = names[metric] if names is not None else str(metric)
                if name in went_back:
                    continue
                lo, hi = np.searchsorted(sid, [metric, metric + 1])
                a, b = np.searchsorted(ids, [metric, metric + 1])
                rows = (sstep[lo:hi], raw[order[lo:hi]])
                if raw_rows is not None:
                    raw_rows[name] = rows
                values[a:b] = resolve_rows(name, *rows, notes if notes is not None else [])
    counts = np.bincount(ids, minlength=n_ids) if ids.size else np.zeros(n_ids, np.int64)
    starts = np.zeros(n_ids + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    return ids, steps, values, starts


def _dropped_branches(ids: np.ndarray, steps: np.ndarray,
                      values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """The triplets (file order) without the records `resumes.surviving` drops from the
    metrics whose counter went back (their order kept), and those metrics' ids; one pass over
    those metrics only."""
    order = np.argsort(ids, kind="stable")  # file order within a metric
    sid, sstep = ids[order], steps[order]
    back = (sid[1:] == sid[:-1]) & (sstep[1:] < sstep[:-1])
    if not back.any():
        return ids, steps, values, []
    drop = np.zeros(ids.size, dtype=bool)
    went_back = np.unique(sid[1:][back]).tolist()
    for metric in went_back:
        lo, hi = np.searchsorted(sid, [metric, metric + 1])
        kept = surviving(sstep[lo:hi])
        lost = np.ones(hi - lo, dtype=bool)
        lost[kept] = False
        drop[order[lo:hi][lost]] = True
    return ids[~drop], steps[~drop], values[~drop], went_back


class ResolvedColumns(Mapping):
    """metric -> (steps ascending and distinct, values), as a dict of columns would be.

    `plain` holds metrics of many values (their own arrays; metrics of the same records share
    their step array). The packed metrics (ids into `names`) are slices of `steps`/`values`
    made on access. Do not write to what it returns: arrays are shared."""

    def __init__(self, plain: dict[str, tuple[np.ndarray, np.ndarray]], names: list[str],
                 index: Mapping[str, int], starts: np.ndarray, steps: np.ndarray,
                 values: np.ndarray):
        self._plain = plain
        self._names = names  # id -> name
        self._index = index  # name -> id (may know later names: checked against `starts`)
        self._starts = starts
        self._steps = steps
        self._values = values
        counts = np.diff(starts)
        self._packed_ids = np.flatnonzero(counts)
        self._distinct_steps: np.ndarray | None = None

    @property
    def n_packed(self) -> int:
        return int(self._packed_ids.size)

    def _id(self, name: str) -> int | None:
        i = self._index.get(name)
        if i is None or i >= self._starts.size - 1 or self._starts[i + 1] == self._starts[i]:
            return None
        return i

    def __getitem__(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        found = self._plain.get(name)
        if found is not None:
            return found
        i = self._id(name)
        if i is None:
            raise KeyError(name)
        lo, hi = int(self._starts[i]), int(self._starts[i + 1])
        return self._steps[lo:hi], self._values[lo:hi]

    def __contains__(self, name: object) -> bool:
        return name in self._plain or (isinstance(name, str) and self._id(name) is not None)

    def __iter__(self) -> Iterator[str]:
        yield from self._plain
        names = self._names
        for i in self._packed_ids.tolist():
            yield names[i]

    def __len__(self) -> int:
        return len(self._plain) + self.n_packed

    def packed(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """(names of the packed metrics, their starts, steps, values): for vectorised
        summaries over millions of metrics."""
        ids = self._packed_ids
        names = self._names
        return ([names[i] for i in ids.tolist()], self._starts, self._steps, self._values)

    def plain(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return self._plain

    def step_arrays(self) -> list[np.ndarray]:
        """The distinct step arrays, each ascending and distinct, whose union is every step
        (the packed metrics' steps as one array)."""
        arrays = list({id(s): s for s, _ in self._plain.values()}.values())
        if self._steps.size:
            if self._distinct_steps is None:
                self._distinct_steps = np.unique(self._steps)
            arrays.append(self._distinct_steps)
        return arrays
