"""The lanes of the summary pass: one in this thread, or one per thread, one step ahead.

Why threads: each lane owns its tokens and its "learned at" state, so lanes share nothing and
need no lock; the heavy work of a window (`preadv`, the counting kernel) runs with the GIL
released. Threads need no second interpreter start, no pickling and no protocol: an error is
the lane's own exception, re-raised here in lane order, so the first error is the one the
in-process lane would have met first.

One step ahead: `start(k + 1)` is called before the pass computes the statistics of step k, so
the lanes count while this thread turns histograms into numbers (without it, one core idled for
that time at every step). Each lane counts into its own histograms (32-bit counts, one per slot
present: 256 KB per split, zeroed and summed at every step), two sets per lane taken in turn;
`finish` sums the lanes' (integers: the result does not depend on the number of lanes). A lane
still counts its steps one at a time and in order. Memory stays flat: a window buffer and two
sets of histograms per lane.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from phasewatch.tokens.keys import N_KEYS
from phasewatch.tokens.lane import Lane, LaneSpec


class Lanes:
    """`start(position)` then `finish(position)`, for positions 0, 1, ... in order, at most one
    step started ahead; `finish` returns the step's histograms (one row per slot present, N_KEYS
    columns; valid until the step after next is finished) and the newly learned tokens per slot
    (None when not tracked). With `threads` <= 1 the lanes count in `finish`, in this thread."""

    def __init__(self, specs: list[LaneSpec], threads: int):
        self.lanes = [Lane(spec) for spec in specs]
        n_slots = self.lanes[0].n_slots
        self.hists = [np.zeros((2, n_slots, N_KEYS), dtype=np.uint32) for _ in self.lanes]
        # the lanes' sum: 64-bit, since the lanes together may count 2**32 tokens or more
        self.totals = np.zeros((2, n_slots, N_KEYS), dtype=np.int64) if len(self.lanes) > 1 else None
        self.pool = (ThreadPoolExecutor(max_workers=min(threads, len(self.lanes)),
                                        thread_name_prefix="phasewatch-lane")
                     if threads > 1 else None)
        self.pending: dict[int, list[Future]] = {}

    def _count(self, lane_index: int, position: int) -> np.ndarray | None:
        out = self.hists[lane_index][position % 2]
        out[:] = 0
        return self.lanes[lane_index].count_step(position, out)

    def start(self, position: int) -> None:
        if self.pool is not None:
            self.pending[position] = [self.pool.submit(self._count, i, position) for i in range(len(self.lanes))]

    def finish(self, position: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Raises the first lane's error (lane order) once every lane has stopped."""
        if self.pool is None:
            results = [self._count(i, position) for i in range(len(self.lanes))]
        else:
            futures = self.pending.pop(position)
            outcomes = [f.exception() or f.result() for f in futures]  # wait for all first
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
            results = outcomes
        parity = position % 2
        if self.totals is None:
            total = self.hists[0][parity]
        else:
            total = self.totals[parity]
            np.add(self.hists[0][parity], self.hists[1][parity], out=total, dtype=np.int64)
            for hist in self.hists[2:]:
                total += hist[parity]
        newly = [r for r in results if r is not None]
        return total, (np.sum(newly, axis=0) if newly else None)

    def close(self) -> None:
        """Wait for a step still being counted (its result is dropped) and stop the threads."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
