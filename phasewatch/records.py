"""Compact columnar storage for the records a reader collects, and their resolution.

A 2 GB metrics.jsonl holds ~80 million values. Kept as a long table (int64 step, object
metric, float64 value: 24 bytes a value) plus the record index it is built from, reading it
needed 4-6x the file's size in RAM. Here every metric is a list of chunks of float64 values
with the steps they were logged at, in file order; the metrics logged on the same records
share one step array per chunk (a train row's six metrics: 8 bytes a value plus 8 bytes a
row, instead of 6 x 16). Resolving a metric (the latest record for a step wins) works on its
own chunks, one metric at a time, and the resolved step arrays are shared the same way, so the
finished run costs about what the collected records did.

`ResumeScan` finds where the step counter goes back while the records stream in, so no
per-record array of steps or line numbers is kept for it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

Columns = dict[str, tuple[np.ndarray, np.ndarray]]  # metric -> (steps ascending, values)


class ColumnStore:
    """Per metric, chunks of (steps, values) in file order, and values added one at a time.

    Chunks may share their step arrays between metrics (they are never written to)."""

    def __init__(self) -> None:
        self._chunks: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        self._pending: dict[str, tuple[list[int], list[float]]] = {}

    def names(self) -> list[str]:
        """Every metric that was given, even one whose values were all absent."""
        return list(self._chunks.keys() | self._pending.keys())

    def add(self, name: str, step: int, value: float) -> None:
        """One value (the line-by-line readers' path: two list appends)."""
        pending = self._pending.get(name)
        if pending is None:
            pending = self._pending[name] = ([], [])
        pending[0].append(step)
        pending[1].append(value)

    def flush(self) -> None:
        """Turn the values added one at a time into chunks, so array chunks added later come
        after them, as in the file."""
        for name, (steps, values) in self._pending.items():
            if steps:
                self._chunks.setdefault(name, []).append(
                    (np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64)))
            else:
                self._chunks.setdefault(name, [])
        self._pending = {}

    def add_block(self, steps: np.ndarray, columns: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
        """Many records at once: `steps` one per record in file order, `columns` a metric's
        (record indices, values). Metrics logged on exactly the same records share one step
        array; indices out of file order (a reader grouping rows by key set) are sorted."""
        self.flush()
        steps = np.asarray(steps, dtype=np.int64)
        shared: dict[tuple[int, int, int], list[tuple[np.ndarray, np.ndarray]]] = {}
        for name, (records, values) in columns.items():
            records = np.asarray(records)
            values = np.asarray(values, dtype=np.float64)
            chunks = self._chunks.setdefault(name, [])
            if records.size == 0:
                continue
            if records.size > 1 and not (records[1:] > records[:-1]).all():
                order = np.argsort(records, kind="stable")
                records, values = records[order], values[order]
            key = (int(records.size), int(records[0]), int(records[-1]))
            step_chunk = None
            for seen_records, seen_steps in shared.get(key, ()):
                if np.array_equal(seen_records, records):
                    step_chunk = seen_steps
                    break
            if step_chunk is None:
                step_chunk = steps[records]
                shared.setdefault(key, []).append((records, step_chunk))
            chunks.append((step_chunk, values))

    def resolve(self) -> Columns:
        """metric -> (steps ascending and distinct, values): per step the latest value in file
        order. The store keeps the resolved columns (resolving again gives the same), and
        metrics with equal resolved steps share one array."""
        self.flush()
        out: Columns = {}
        by_chunks: dict[tuple[int, ...], tuple[tuple, np.ndarray | None, np.ndarray]] = {}
        distinct: dict[tuple[int, int, int], list[np.ndarray]] = {}
        for name in sorted(self._chunks):
            chunks = self._chunks[name]
            if not chunks:
                continue
            ids = tuple(id(steps) for steps, _ in chunks)
            known = by_chunks.get(ids)
            values = chunks[0][1] if len(chunks) == 1 else np.concatenate([v for _, v in chunks])
            if known is None:
                steps = chunks[0][0] if len(chunks) == 1 else np.concatenate([s for s, _ in chunks])
                select, steps = _latest_per_step(steps)
                steps = _shared(steps, distinct)
                # the step arrays are kept with their ids so that the ids stay valid
                by_chunks[ids] = (tuple(s for s, _ in chunks), select, steps)
            else:
                _, select, steps = known
            if select is not None:
                values = values[select]
            self._chunks[name] = [(steps, values)]
            out[name] = (steps, values)
        return out


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
