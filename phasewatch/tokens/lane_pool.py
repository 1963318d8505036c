"""The lanes of the summary pass: one in this process, or one per thread.

Why threads: each lane owns its tokens and its "learned at" state, so lanes share nothing and
need no lock; the heavy work of a window (`preadv`, the counting kernel) runs with the GIL
released. Threads need no second interpreter start, no pickling and no protocol: an error is
the lane's own exception, re-raised here in lane order, so the first error is the one the
in-process lane would have met first.

Each lane counts one step into its own histogram buffer; the parent sums them in lane order
(integers: the result does not depend on the number of lanes). Memory stays flat: a lane reuses
one window buffer per step and the pool runs one step at a time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from phasewatch.tokens.lane import Lane, LaneSpec
from phasewatch.tokens.stats import N_SLOTS


class InProcessLanes:
    """One lane holding every window, run in this thread."""

    def __init__(self, spec: LaneSpec):
        self.lane = Lane(spec)

    def count_step(self, position: int, out: np.ndarray) -> np.ndarray | None:
        return self.lane.count_step(position, out)

    def close(self) -> None:
        pass


class ThreadLanes:
    """One thread per lane; `count_step` sums the lanes' histograms for one step."""

    def __init__(self, specs: list[LaneSpec]):
        self.lanes = [Lane(spec) for spec in specs]
        self.outs: list[np.ndarray] = []
        self.pool = ThreadPoolExecutor(max_workers=len(self.lanes), thread_name_prefix="phasewatch-lane")

    def count_step(self, position: int, out: np.ndarray) -> np.ndarray | None:
        """Add every lane's histograms of the step at `position` into `out`; the newly learned
        tokens per slot (None when not tracked). Raises the first lane's error (lane order)."""
        if not self.outs:
            self.outs = [np.zeros_like(out) for _ in self.lanes[1:]]
        for extra in self.outs:
            extra[:] = 0
        targets = [out, *self.outs]
        futures = [self.pool.submit(lane.count_step, position, target)
                   for lane, target in zip(self.lanes, targets)]
        results = [f.exception() or f.result() for f in futures]  # wait for all before raising
        for result in results:
            if isinstance(result, BaseException):
                raise result
        for extra in self.outs:
            out += extra
        newly = None
        for result in results:
            if result is not None:
                newly = result.copy() if newly is None else newly + result
        assert newly is None or newly.shape == (N_SLOTS,)
        return newly

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
