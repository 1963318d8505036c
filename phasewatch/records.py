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

from collections.abc import KeysView, Mapping
from itertools import repeat

import numpy as np

from phasewatch.branch_cuts import Cut, Mark, segments_kept, triplets_kept
from phasewatch.growable import Growable
from phasewatch.records_sparse import ResolvedColumns, pack
from phasewatch.resumes import backward_starts, surviving, triplet_backward_starts
from phasewatch.step_rows import RowNote, resolve_rows

Columns = dict[str, tuple[np.ndarray, np.ndarray]]  # metric -> (steps ascending, values)

PENDING_LIMIT = 1 << 16  # values added one at a time that wait before a batch is stored
# A metric with this many values in one batch is stored column-wise from then on; fewer stay
# (metric, step, value) triplets: a metric of one value costs 24 bytes there, ~500 as columns.
PROMOTE = 16


class _Group:
    """Metrics logged on exactly the same records since the group began: one step array
    (`serial`: groups in the order they began, for `branch_cuts.Mark`)."""

    __slots__ = ("serial", "steps", "values")

    def __init__(self, steps: np.ndarray, serial: int = -1):
        self.serial = serial
        self.steps = Growable(steps)
        self.values: dict[str, Growable] = {}


class ColumnStore:
    """Per metric its segments (group, values) in file order; groups share their steps.

    Values added one at a time wait as (metric id, step, value) triplets. A metric with at
    least `PROMOTE` values in a batch, or given in blocks, goes into the column groups from
    then on; the others (a log of 1e6 names, a verl line of 5M items: a value or a few per
    metric) stay triplets in one long table and resolve into one CSR table
    (`records_sparse`), so they cost bytes each, not a group and arrays each."""

    def __init__(self) -> None:
        self._segments: dict[str, list[tuple[_Group, Growable]]] = {}
        self._open: dict[frozenset, _Group] = {}  # key set -> the group still being extended
        self._group_of: dict[str, _Group] = {}  # metric -> the group it is extended in
        self._ids: dict[str, int] = {}  # metric -> id, in order of first appearance
        self._names: list[str] = []  # id -> metric
        self._grouped = Growable(np.zeros(0, dtype=bool))  # per id: in the groups from now on
        self._t_ids = Growable(np.zeros(0, dtype=np.int64))  # triplets in file order
        self._t_steps = Growable(np.zeros(0, dtype=np.int64))
        self._t_values = Growable(np.zeros(0, dtype=np.float64))
        self._serial = 0  # the next group's
        self._p_ids: list[int] = []  # triplets added one at a time, not yet stored
        self._p_steps: list[int] = []
        self._p_values: list[float] = []
        # metrics logged several times at one step (`step_rows`), found as `resolve` reads them
        self.row_notes: list[RowNote] = []
        # metrics whose counter went back: the later row of a step, whatever comes after
        self.went_back: set[str] = set()

    def names(self) -> KeysView[str]:
        """Every metric that was given, even one whose values were all absent (a live view:
        no copy of millions of names)."""
        return self._ids.keys()

    def _id(self, name: str) -> int:
        i = self._ids.get(name)
        if i is None:
            i = self._ids[name] = len(self._names)
            self._names.append(name)
        return i

    def add(self, name: str, step: int, value: float) -> None:
        """One value (the line-by-line readers' path: three list appends)."""
        i = self._ids.get(name)
        if i is None:
            i = self._id(name)
        self._p_ids.append(i)
        self._p_steps.append(step)
        self._p_values.append(value)
        if len(self._p_ids) >= PENDING_LIMIT:
            self.flush()

    def add_row(self, step: int, names: list[str], values: np.ndarray) -> None:
        """One record of many metrics given as columns (`records_sparse.Row`): no Python
        object per value."""
        self.add_triplets(names, np.full(len(names), step, dtype=np.int64), values)

    def add_triplets(self, names: list[str], steps: np.ndarray, values: np.ndarray) -> None:
        """Values in file order, value k being metric `names[k]` at step `steps[k]` (records
        of a few values each: a log with a new metric name on every line)."""
        self.flush()
        index = self._ids
        ids = np.fromiter(map(index.get, names, repeat(-1)), dtype=np.int64, count=len(names))
        new = np.flatnonzero(ids < 0)
        if new.size:  # registered in one go (a repeated new name once, at its first place)
            new_names = names if new.size == len(names) else [names[k] for k in new.tolist()]
            fresh = list(dict.fromkeys(new_names))
            first = len(self._names)
            index.update(zip(fresh, range(first, first + len(fresh))))
            self._names.extend(fresh)
            if len(fresh) == new.size:  # each new name once (a wide row): ids in order
                ids[new] = np.arange(first, first + new.size)
            else:
                ids[new] = np.fromiter(map(index.__getitem__, new_names), dtype=np.int64, count=new.size)
        self._store_triplets(ids, np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64))

    def mark(self) -> Mark:
        """Where the store stands (`branch_cuts`): what is added later comes after it."""
        self.flush()
        return Mark(self._t_ids.n, self._serial,
                    {g.serial: g.steps.n for g in self._open.values()})

    def flush(self) -> None:
        """Store the values added one at a time, so what is added later comes after them."""
        if not self._p_ids:
            return
        ids = np.array(self._p_ids, dtype=np.int64)
        steps = np.array(self._p_steps, dtype=np.int64)
        values = np.array(self._p_values, dtype=np.float64)
        self._p_ids, self._p_steps, self._p_values = [], [], []
        self._store_triplets(ids, steps, values)

    def _store_triplets(self, ids: np.ndarray, steps: np.ndarray, values: np.ndarray) -> None:
        """A batch of triplets in file order: metrics already in the groups, or with
        `PROMOTE` values here, are extended column-wise; the others stay triplets."""
        if ids.size == 0:
            return
        grouped = self._grouped
        if grouped.n < len(self._ids):
            grouped.append(np.zeros(len(self._ids) - grouped.n, dtype=bool))
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
        ends = np.r_[starts[1:], sorted_ids.size]
        distinct = sorted_ids[starts]
        big = (ends - starts >= PROMOTE) | grouped.view()[distinct]
        if big.any():
            names = self._names
            clusters: dict = {}  # key -> [(positions, names)]
            columns: dict[str, np.ndarray] = {}
            for k in np.flatnonzero(big).tolist():
                at = order[starts[k]:ends[k]]  # file order (stable sort)
                name = names[int(distinct[k])]
                self._segments.setdefault(name, [])
                columns[name] = values[at]
                _cluster(clusters, steps[at], name)
            for same in clusters.values():
                for group_steps, group_names in same:
                    self._extend(group_names, group_steps, columns)
            keep = ~grouped.view()[ids]
            ids, steps, values = ids[keep], steps[keep], values[keep]
        if ids.size:
            self._t_ids.append(ids)
            self._t_steps.append(steps)
            self._t_values.append(values)

    def add_block(self, steps: np.ndarray, columns: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """Many records at once: `steps` one per record in file order, `columns` a metric's
        (record indices, values). Indices out of file order (a reader grouping rows by key
        set) are sorted."""
        self.flush()
        steps = np.asarray(steps, dtype=np.int64)
        clusters: dict = {}  # key -> [(positions, names)]
        values: dict[str, np.ndarray] = {}
        for name, (records, vals) in columns.items():
            self._id(name)
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
            group = _Group(steps.copy(), self._serial)
            self._serial += 1
            grouped = self._grouped
            if grouped.n < len(self._ids):
                grouped.append(np.zeros(len(self._ids) - grouped.n, dtype=bool))
            for name in names:
                grouped.data[self._ids[name]] = True  # its later values come here too
                old = self._group_of.get(name)
                if old is not None:  # its company changed: the old group is complete
                    self._open.pop(frozenset(old.values), None)
                self._group_of[name] = group
                group.values[name] = Growable(values[name].copy())
                self._segments[name].append((group, group.values[name]))
            self._open[key] = group
            return
        group.steps.append(steps)
        for name in names:
            group.values[name].append(values[name])

    def _split_triplets(self) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray,
                                       np.ndarray, np.ndarray]:
        """(the triplets of metrics now grouped, stored before they were: metric -> (steps,
        values) in file order; the other triplets' ids, steps, values in file order)."""
        names = self._names
        t_ids, t_steps, t_values = self._t_ids.view(), self._t_steps.view(), self._t_values.view()
        grouped = np.zeros(len(names), dtype=bool)
        grouped[:self._grouped.n] = self._grouped.view()
        early: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if t_ids.size and grouped[t_ids].any():
            mixed = grouped[t_ids]
            m_ids, m_steps, m_values = t_ids[mixed], t_steps[mixed], t_values[mixed]
            order = np.argsort(m_ids, kind="stable")
            m_ids = m_ids[order]
            bounds = np.flatnonzero(np.r_[True, m_ids[1:] != m_ids[:-1], True])
            for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
                at = order[lo:hi]
                early[names[int(m_ids[lo])]] = (m_steps[at], m_values[at])
            t_ids, t_steps, t_values = t_ids[~mixed], t_steps[~mixed], t_values[~mixed]
        return early, t_ids, t_steps, t_values

    def counters_went_back(self) -> set[tuple[int, int]]:
        """(step, step before) where some metric's own step counter went back (file order):
        asked for, before `resolve`, when the stream went back (`resumes.resume_points`)."""
        self.flush()
        early, t_ids, t_steps, _ = self._split_triplets()
        out = set(triplet_backward_starts(t_ids, t_steps))
        seen: set[tuple[int, ...]] = set()
        for name, parts in self._segments.items():
            ids = tuple(id(group) for group, _ in parts)
            if not parts or (name not in early and ids in seen):
                continue
            if name not in early:
                seen.add(ids)
            before = [early[name][0]] if name in early else []
            steps = np.concatenate([*before, *(g.steps.view() for g, _ in parts)])
            out.update(backward_starts(steps))
        return out

    def resolve(self, cuts: list[Cut] = ()) -> ResolvedColumns:
        """metric -> (steps ascending and distinct, values): per step the latest value in file
        order, a resumed run's abandoned branch left out (`cuts`: `branch_cuts`, of every
        metric; `resumes.surviving`, of a metric whose own counter went back). Metrics with
        equal resolved steps share one array. Each metric's segments are freed as soon as it
        is resolved."""
        self.flush()
        names = self._names
        if cuts and (kept := triplets_kept(self._t_steps.view(), cuts)) is not None:
            for column in (self._t_ids, self._t_steps, self._t_values):
                column.data, column.n = column.view()[kept], kept.size
        early, t_ids, t_steps, t_values = self._split_triplets()
        self.row_notes, raw_rows = [], {}
        p_ids, p_steps, p_values, starts = pack(t_ids, t_steps, t_values, len(names),
                                                names, self.row_notes, raw_rows, self.went_back)
        segments, self._segments = self._segments, {}
        self._open, self._group_of = {}, {}
        out: Columns = {}
        by_groups: dict[tuple[int, ...], tuple] = {}
        distinct: dict[tuple[int, int, int], list[np.ndarray]] = {}
        for name in sorted(segments):
            parts = segments.pop(name)
            if not parts:
                continue
            ids = tuple(id(group) for group, _ in parts)
            values = parts[0][1].view() if len(parts) == 1 else np.concatenate(
                [v.view() for _, v in parts])
            before = early.get(name)
            known = None if before is not None else by_groups.get(ids)
            if known is None:
                steps = parts[0][0].steps.view() if len(parts) == 1 and before is None \
                    else np.concatenate([*(before[:1] if before else ()),
                                         *(g.steps.view() for g, _ in parts)])
                cut = None if not cuts else segments_kept(
                    steps, [(g.serial, g.steps.n) for g, _ in parts], cuts,
                    0 if before is None else before[0].size)
                raw = steps if cut is None else steps[cut]
                select, steps = _latest_per_step(raw)
                if before is None:  # the groups are kept with their ids so the ids stay valid
                    steps = _shared(steps, distinct)
                    by_groups[ids] = (tuple(g for g, _ in parts), cut, select, steps, raw)
            else:
                _, cut, select, steps, raw = known
            if before is not None:
                values = np.concatenate([before[1], values])
            if cut is not None:
                values = values[cut]
            values = _read(name, raw, select, values, self.row_notes, raw_rows, self.went_back)
            del parts
            out[name] = (steps, values)
        self._reseed(out, empty=list(segments), packed=(p_ids, p_steps, p_values), raw=raw_rows)
        return ResolvedColumns(out, names, self._ids, starts, p_steps, p_values)

    def _reseed(self, columns: Columns, empty: list[str],
                packed: tuple[np.ndarray, np.ndarray, np.ndarray], raw: dict) -> None:
        """Hold the resolved columns as the store's content (no copy), so resolving again,
        or after more records, gives what one pass would; a metric read from several rows a
        step (`raw`: its rows) holds its rows."""
        groups: dict[int, _Group] = {}
        for name in empty:
            self._segments[name] = []
        for name, (steps, values) in columns.items():
            if name in raw:
                steps, values = raw[name]
            group = groups.get(id(steps))
            if group is None:
                group = groups[id(steps)] = _Group(steps)
            group.values[name] = Growable(values)
            self._segments[name] = [(group, group.values[name])]
        # the packed triplets, sorted by metric then step, are a valid file order; appending
        # to a Growable at capacity copies, so the resolved arrays are never written to
        packed_raw = [(self._ids[name], rows) for name, rows in raw.items()
                      if name not in columns or name not in self._segments]
        if packed_raw:
            ids, steps, values = packed
            keep = ~np.isin(ids, [i for i, _ in packed_raw])
            packed = (np.concatenate([ids[keep], *(np.full(r[0].size, i, np.int64)
                                                   for i, r in packed_raw)]),
                      np.concatenate([steps[keep], *(r[0] for _, r in packed_raw)]),
                      np.concatenate([values[keep], *(r[1] for _, r in packed_raw)]))
        self._t_ids, self._t_steps, self._t_values = (Growable(a) for a in packed)


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
    """(positions to keep in this order or None for all, resolved steps) of one metric's steps
    in file order (`resumes.surviving`: a resumed run's abandoned branch is dropped)."""
    select = surviving(steps)
    return (None, steps) if select is None else (select, steps[select])


def _read(name: str, raw: np.ndarray, select: np.ndarray | None, values: np.ndarray,
          notes: list[RowNote], raw_rows: dict, went_back: set[str]) -> np.ndarray:
    """One metric's values at its resolved steps: `values[select]` (the later row of a step,
    the abandoned branch of a resume left out), or where its steps repeat and never go back,
    as `step_rows.resolve_rows` reads several rows of one step (its rows are kept in
    `raw_rows`: a mean is no row to resolve again with later ones)."""
    if select is None:
        return values
    if name not in went_back:
        if (raw[1:] >= raw[:-1]).all():
            raw_rows[name] = (raw, values)
            return resolve_rows(name, raw, values, notes)
        went_back.add(name)
    return values[select]


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
