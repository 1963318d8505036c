"""Compact columnar storage for the records a reader collects, and their resolution.

A 2 GB metrics.jsonl holds ~80 million values. Kept as a long table (int64 step, object
metric, float64 value: 24 bytes a value) plus the record index it was built from, reading it
needed several times the file's size in RAM. Here the metrics logged on the same records form
a group: one growable int64 step array and one growable float64 array per metric (a train
row's six metrics: 8 bytes a value plus 8 bytes a row, instead of 6 x 24). A metric whose
company changes (a key that appears in some rows only) starts a segment in another group;
its segments in order are its values in file order. Resolving a metric (the latest record
for a step wins) works on its own segments, one metric at a time, and metrics of one group
share the resolved step array, so the finished run costs about what the collected records did.

Growable arrays grow their capacity by half and never touch the unused tail, which the kernel
maps lazily for large arrays: it costs address space more than memory. Values added one at a time (line-by-line readers)
wait in lists and are moved into the groups in batches.

`ResumeScan` finds where the step counter goes back while the records stream in, so no
per-record array of steps or line numbers is kept for it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

Columns = dict[str, tuple[np.ndarray, np.ndarray]]  # metric -> (steps ascending, values)

# Past 1 MB a buffer jumps to 33 MB, above glibc's largest mmap threshold (32 MB): such
# blocks come straight from the kernel (their untouched tail is not resident) and go back to
# it when freed. Grown on the heap instead, the buffers a metric outgrew stayed resident: a
# 2 GB log peaked at twice its data.
MMAP_BYTES = 33 << 20
PENDING_LIMIT = 1 << 16  # values added one at a time that wait before a batch is stored


class _Growable:
    """A 1-d array that grows at the end (capacity x1.5: at most a third unused on average,
    and a tail that is never touched is not resident)."""

    __slots__ = ("data", "n")

    def __init__(self, first: np.ndarray):
        self.data = first
        self.n = first.size

    def append(self, more: np.ndarray) -> None:
        need = self.n + more.size
        if need > self.data.size:
            capacity = max(need, self.data.size + self.data.size // 2)
            if capacity * self.data.itemsize > 1 << 20:
                capacity = max(capacity, MMAP_BYTES // self.data.itemsize)
            grown = np.empty(capacity, dtype=self.data.dtype)
            grown[:self.n] = self.data[:self.n]
            self.data = grown
        self.data[self.n:need] = more
        self.n = need

    def view(self) -> np.ndarray:
        return self.data[:self.n]


class _Group:
    """Metrics logged on exactly the same records since the group began: one step array."""

    __slots__ = ("steps", "values")

    def __init__(self, steps: np.ndarray):
        self.steps = _Growable(steps)
        self.values: dict[str, _Growable] = {}


class ColumnStore:
    """Per metric its segments (group, values) in file order; groups share their steps."""

    def __init__(self) -> None:
        self._segments: dict[str, list[tuple[_Group, _Growable]]] = {}
        self._open: dict[frozenset, _Group] = {}  # key set -> the group still being extended
        self._group_of: dict[str, _Group] = {}  # metric -> the group it is extended in
        self._pending: dict[str, tuple[list[int], list[float]]] = {}
        self._n_pending = 0

    def names(self) -> list[str]:
        """Every metric that was given, even one whose values were all absent."""
        return list(self._segments.keys() | self._pending.keys())

    def add(self, name: str, step: int, value: float) -> None:
        """One value (the line-by-line readers' path: two list appends)."""
        pending = self._pending.get(name)
        if pending is None:
            pending = self._pending[name] = ([], [])
        pending[0].append(step)
        pending[1].append(value)
        self._n_pending += 1
        if self._n_pending >= PENDING_LIMIT:
            self.flush()

    def flush(self) -> None:
        """Store the values added one at a time, so what is added later comes after them."""
        if not self._pending:
            return
        pending, self._pending, self._n_pending = self._pending, {}, 0
        clusters: dict = {}  # key -> [(positions, names)]
        values: dict[str, np.ndarray] = {}
        for name, (steps_list, values_list) in pending.items():
            self._segments.setdefault(name, [])
            if not steps_list:
                continue
            steps = np.asarray(steps_list, dtype=np.int64)
            values[name] = np.asarray(values_list, dtype=np.float64)
            _cluster(clusters, steps, name)
        for same in clusters.values():
            for steps, names in same:
                self._extend(names, steps, values)

    def add_block(self, steps: np.ndarray, columns: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """Many records at once: `steps` one per record in file order, `columns` a metric's
        (record indices, values). Indices out of file order (a reader grouping rows by key
        set) are sorted."""
        self.flush()
        steps = np.asarray(steps, dtype=np.int64)
        clusters: dict = {}  # key -> [(positions, names)]
        values: dict[str, np.ndarray] = {}
        for name, (records, vals) in columns.items():
            records = np.asarray(records)
            vals = np.asarray(vals, dtype=np.float64)
            self._segments.setdefault(name, [])
            if records.size == 0:
                continue
            if records.size > 1 and not (records[1:] > records[:-1]).all():
                order = np.argsort(records, kind="stable")
                records, vals = records[order], vals[order]
            values[name] = vals
            _cluster(clusters, records, name)
        for same in clusters.values():
            for records, names in same:
                self._extend(names, steps[records], values)

    def _extend(self, names: list[str], steps: np.ndarray, values: dict[str, np.ndarray]) -> None:
        """Append one batch of records that all of `names` (and no other metric) carry."""
        key = frozenset(names)
        group = self._open.get(key)
        if group is None or any(self._group_of.get(name) is not group for name in names):
            group = _Group(steps.copy())
            for name in names:
                old = self._group_of.get(name)
                if old is not None:  # its company changed: the old group is complete
                    self._open.pop(frozenset(old.values), None)
                self._group_of[name] = group
                group.values[name] = _Growable(values[name].copy())
                self._segments[name].append((group, group.values[name]))
            self._open[key] = group
            return
        group.steps.append(steps)
        for name in names:
            group.values[name].append(values[name])

    def resolve(self) -> Columns:
        """metric -> (steps ascending and distinct, values): per step the latest value in file
        order. Metrics with equal resolved steps share one array. Each metric's segments are
        freed as soon as it is resolved."""
        self.flush()
        segments, self._segments = self._segments, {}
        self._open, self._group_of = {}, {}
        out: Columns = {}
        by_groups: dict[tuple[int, ...], tuple[tuple, np.ndarray | None, np.ndarray]] = {}
        distinct: dict[tuple[int, int, int], list[np.ndarray]] = {}
        for name in sorted(segments):
            parts = segments.pop(name)
            if not parts:
                continue
            ids = tuple(id(group) for group, _ in parts)
            values = parts[0][1].view() if len(parts) == 1 else np.concatenate(
                [v.view() for _, v in parts])
            known = by_groups.get(ids)
            if known is None:
                steps = parts[0][0].steps.view() if len(parts) == 1 else np.concatenate(
                    [g.steps.view() for g, _ in parts])
                select, steps = _latest_per_step(steps)
                steps = _shared(steps, distinct)
                # the groups are kept with their ids so that the ids stay valid
                by_groups[ids] = (tuple(g for g, _ in parts), select, steps)
            else:
                _, select, steps = known
            if select is not None:
                values = values[select]
            del parts
            out[name] = (steps, values)
        self._reseed(out, empty=[name for name in segments])
        return out

    def _reseed(self, columns: Columns, empty: list[str]) -> None:
        """Hold the resolved columns as the store's content (no copy), so resolving again,
        or after more records, gives what one pass would."""
        groups: dict[int, _Group] = {}
        for name in empty:
            self._segments[name] = []
        for name, (steps, values) in columns.items():
            group = groups.get(id(steps))
            if group is None:
                group = groups[id(steps)] = _Group(steps)
            group.values[name] = _Growable(values)
            self._segments[name] = [(group, group.values[name])]


def _cluster(clusters: dict, positions: np.ndarray, name: str) -> None:
    """Put `name` with the metrics whose `positions` are equal (the same records)."""
    if positions.size <= 8:  # a few records (a log of many names): their bytes are the key
        key = positions.tobytes()
        same = clusters.get(key)
        if same is None:
            clusters[key] = [(positions, [name])]
        else:
            same[0][1].append(name)
        return
    key = (int(positions.size), int(positions[0]), int(positions[-1]))
    same = clusters.setdefault(key, [])
    for seen, names in same:
        if seen is positions or np.array_equal(seen, positions):
            names.append(name)
            return
    same.append((positions, [name]))


def _latest_per_step(steps: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """(positions to keep in this order or None for all, resolved steps): sorted by step,
    the last in file order kept for a repeated step (a resumed run re-logging a block)."""
    if steps.size < 2 or (steps[1:] > steps[:-1]).all():
        return None, steps
    order = np.argsort(steps, kind="stable")
    sorted_steps = steps[order]
    last = np.ones(sorted_steps.size, dtype=bool)
    last[:-1] = sorted_steps[1:] != sorted_steps[:-1]
    select = order[last]
    return select, sorted_steps[last]


def _shared(steps: np.ndarray, distinct: dict[tuple[int, int, int], list[np.ndarray]]) -> np.ndarray:
    """`steps`, or an equal array already produced (so the run holds it once)."""
    if steps.size == 0:
        return steps
    key = (int(steps.size), int(steps[0]), int(steps[-1]))
    for other in distinct.get(key, ()):
        if np.array_equal(other, steps):
            return other
    distinct.setdefault(key, []).append(steps)
    return steps


class ResumeScan:
    """Where the step counter goes back, found as records stream in (the first record of each
    backwards run starts a resume), with the running maximum it went back from."""

    def __init__(self) -> None:
        self.found: list[tuple[int, int, int]] = []  # (step, went back from, line)
        self._max: int | None = None
        self._back = False  # was the previous record below the running maximum?

    def one(self, step: int, line: int) -> None:
        top = self._max
        if top is None or step >= top:
            self._back = False
            self._max = step
        else:
            if not self._back:
                self.found.append((step, top, line))
            self._back = True

    def block(self, steps: np.ndarray, lines: np.ndarray) -> None:
        """The same as `one` for each record, vectorised."""
        if steps.size == 0:
            return
        if self._max is None:
            self._max, steps_rest, lines_rest = int(steps[0]), steps[1:], lines[1:]
            self._back = False
            if steps_rest.size == 0:
                return
            steps, lines = steps_rest, lines_rest
        before = np.maximum.accumulate(np.concatenate(([self._max], steps)))
        back = steps < before[:-1]
        starts = back.copy()
        starts[1:] &= ~back[:-1]
        if self._back:
            starts[0] = False
        for i in np.flatnonzero(starts).tolist():
            self.found.append((int(steps[i]), int(before[i]), int(lines[i])))
        self._max = int(before[-1])
        self._back = bool(back[-1])
