"""A resumed run's abandoned branch, cut from every metric, as the live monitor rewinds.

Where a log's step counter goes back to step s (a run resumed from an earlier checkpoint), the
records before that point with steps >= s are the abandoned branch's. `resumes.surviving`
drops them from a metric whose own counter went back; a metric logged only on the abandoned
branch at those steps (an evaluation at step 4 of a run that crashed and was resumed from step
1, the resumed run evaluating next at 7) never goes back itself and kept its value, while
`watch` rewinds to s and drops it: `analyze` and `watch` named different checkpoints.

No per-value file position is kept for this (a 2 GB log holds ~80 million values). When the
stream goes back, the store is marked instead (`Mark`: how many triplets and how many records
of each group still growing it held then); at resolution, a metric's values logged before the
mark are the first ones of each of its segments, and those at steps >= s are cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

MAX_MARKS = 1000  # a stream going back more often interleaves writers (no resumes are cut)


@dataclass(frozen=True)
class Mark:
    """Where a `records.ColumnStore` stood when the stream went back: its stored triplets,
    the serial number its next group will get, and the records held by each group that could
    still grow (a group that could not was complete: all of it came before)."""

    triplets: int
    next_serial: int
    open_lengths: dict[int, int]

    def records_before(self, serial: int, length: int) -> int:
        """How many of a group's `length` records came before the mark."""
        if serial >= self.next_serial:
            return 0
        return self.open_lengths.get(serial, length)


Cut = tuple[int, Mark]  # (the step the counter went back to, the mark taken there)


def triplets_kept(steps: np.ndarray, cuts: list[Cut]) -> np.ndarray | None:
    """The triplets (file order) a cut leaves, or None when it leaves all."""
    dropped = None
    for step, mark in cuts:
        n = min(mark.triplets, steps.size)
        if n == 0:
            continue
        hit = np.zeros(steps.size, dtype=bool)
        hit[:n] = steps[:n] >= step
        dropped = hit if dropped is None else dropped | hit
    return None if dropped is None or not dropped.any() else np.flatnonzero(~dropped)


def segments_kept(steps: np.ndarray, lengths: list[tuple[int, int]], cuts: list[Cut],
                  first: int = 0) -> np.ndarray | None:
    """The positions of a metric's `steps` (file order: `first` values logged as triplets,
    then its segments, each a group's (serial, records)) a cut leaves, or None when it leaves
    all. The early triplets are cut by `triplets_kept` before they get here."""
    dropped = None
    for step, mark in cuts:
        before = np.zeros(steps.size, dtype=bool)
        at = first
        for serial, length in lengths:
            before[at:at + mark.records_before(serial, length)] = True
            at += length
        hit = before & (steps >= step)
        dropped = hit if dropped is None else dropped | hit
    return None if dropped is None or not dropped.any() else np.flatnonzero(~dropped)


def columns_between(columns: Mapping[str, tuple[np.ndarray, np.ndarray]], first: int, end: int,
                    n: int) -> Mapping[str, tuple[np.ndarray, np.ndarray]]:
    """A block's columns (metric -> (record indices, values)) of its records first..end-1 of
    n, the indices counted from `first`: the block split where its stream went back."""
    if first == 0 and end == n:
        return columns
    piece = {}
    for name, (records, values) in columns.items():
        records = np.asarray(records)
        inside = (records >= first) & (records < end)
        piece[name] = (records[inside] - first, np.asarray(values)[inside])
    return piece


def triplets_between(names: list[str], records: np.ndarray, values: np.ndarray, first: int,
                     end: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The triplets (value k: metric names[k] of record records[k]) of records first..end-1."""
    inside = np.flatnonzero((records >= first) & (records < end))
    if inside.size == records.size:
        return names, records, values
    return [names[k] for k in inside.tolist()], records[inside], np.asarray(values)[inside]
