"""Streaming per-step summaries of an expert log-prob store, per split (train / heldout).

How it stays fast and flat in memory, whatever the store's size:
- Each step file is memory-mapped one window of `chunk_tokens` tokens at a time (the window is
  unmapped when done), so memory is a few chunks plus 1 byte per token for "learned at".
- Every stored value is turned into a 16-bit key and counted with `np.bincount` (compiled; windows
  run on a thread pool: two threads gave 1.6x the CPU of one when a second core was free). All
  statistics are then computed from the 65,536-bin histogram of keys, never token by token in Python.
- float16 stores (the format's default): the key IS the float16 bit pattern, so the histogram is a
  complete description of the data and every statistic is exact (quantiles equal `np.quantile`
  with linear interpolation on the same values).
- float32 (and tolerated float64) stores: the key is the top 16 bits of the float32 (a bfloat16
  truncation, 8 significant bits), valued at the midpoint of its interval: each log p is known to a
  relative 2**-8 (0.4%), which bounds the error of the mean and the quantiles of log p the same way
  (a quantile of p to a relative 0.4% x |log p|); a share at a threshold can misplace only tokens
  within 0.8% of it in log p. "Learned at" compares the exact values.
- Validation is free: NaN, +-inf and positive values have keys of their own; a non-zero count
  there triggers a rescan of that one chunk to name the file, step, token and sequence.
"""

from __future__ import annotations

import math
import os
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from phasewatch.errors import InputError
from phasewatch.tokens.keys import N_KEYS, codec_for
from phasewatch.tokens.learned import LearnedAt, LearnedAtTracker
from phasewatch.tokens.stats import (
    N_SLOTS,
    SplitStats,
    SummaryConfig,
    histogram_tables,
    stats_from_histogram,
)
from phasewatch.tokens.store import StepFile, TokenStore, read_window
from phasewatch.tokens.windows import window_plan
from phasewatch.tokens.writer import SPLITS

__all__ = ["N_KEYS", "LearnedAt", "LearnedAtTracker", "SplitStats", "SummaryConfig", "TokenSummary",
           "codec_for", "iter_step_summaries", "summarize_store"]

@dataclass
class TokenSummary:
    """Per-step summaries per split, the learned-at distribution, and what was noticed."""

    source: str
    dtype: str
    precision: str
    n_tokens: int
    splits: dict[str, dict[str, int]]
    steps: list[int]
    rows: dict[str, list[SplitStats]]
    learned_at: dict[str, LearnedAt]
    config: SummaryConfig
    warnings: list[str] = field(default_factory=list)

    def frame(self, split: str) -> pd.DataFrame:
        """One row per step (index), one column per statistic; quantiles as columns p05, p25..."""
        records = []
        for row in self.rows.get(split, []):
            record = {k: v for k, v in row.to_dict().items() if k != "p_quantiles"}
            record.update(row.p_quantiles)
            records.append(record)
        frame = pd.DataFrame.from_records(records)
        return frame.set_index("step") if not frame.empty else frame


# ------------------------------------------------------------------ step order across threads
class _WindowOrder:
    """Lets the tasks of one token window update the tracker in step order, across threads.

    Tasks are queued in (step, window) order, so the one a task waits for has already been
    picked up by another thread; `abort` releases every waiter when the pass stops early.
    """

    def __init__(self, n_windows: int):
        self.next = [0] * n_windows
        self.aborted = False
        self.cond = threading.Condition()

    def wait(self, window: int, position: int) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.aborted or self.next[window] == position)

    def advance(self, window: int, position: int) -> None:
        """The task at `position` is done with `window` (waits for its turn: even a task that had
        nothing to update must not pass the one before it)."""
        with self.cond:
            self.cond.wait_for(lambda: self.aborted or self.next[window] == position)
            self.next[window] = position + 1
            self.cond.notify_all()

    def abort(self) -> None:
        with self.cond:
            self.aborted = True
            self.cond.notify_all()


# ------------------------------------------------------------------ the pass
class _Pass:
    """One streaming pass over the steps of a store (see the module docstring)."""

    def __init__(self, store: TokenStore, config: SummaryConfig, tracker: LearnedAtTracker | None,
                 files: Sequence[StepFile] | None = None):
        self.store = store
        self.config = config
        self.files = list(store.files if files is None else files)
        self.learned_so_far = np.zeros(N_SLOTS, dtype=np.int64)
        self.codec = codec_for(store.dtype.name)
        self.tables = histogram_tables(self.codec, config)
        self.plan = window_plan(store, config.chunk_tokens)
        self.tracker = tracker
        self.learned_threshold = math.log(config.learned_p)
        # Keys of float16 values above log(learned_p): +0, and negatives with a key below the
        # first key whose value is <= the threshold (negative keys grow more negative).
        negative = np.arange(0x8000, N_KEYS)
        below = negative[self.codec.values[negative] <= self.learned_threshold]
        self.learned_key_limit = int(below[0]) if below.size else N_KEYS
        self.scratch = threading.local()  # per-thread buffers, see _scratch

    def count_window(self, position: int, w: int, order: _WindowOrder | None) -> list[tuple[int, np.ndarray]]:
        """Key histograms `(slot, counts)` of window `w` of the step at `position`."""
        file = self.files[position]
        window = self.plan[w]
        try:
            raw = read_window(file, self.store.n_tokens, window.start, window.stop,
                              self._scratch("raw", self.config.chunk_tokens * self.store.dtype.itemsize))
            keys = self.codec.keys(raw)
            total = np.bincount(keys, minlength=N_KEYS)
            if self.codec.has_invalid(total):
                self._raise_invalid(file, raw, window.start)
            if self.tracker is not None and self._any_learned(total):
                learned = self._learned_mask(raw, keys)
                if order is not None:
                    order.wait(w, position)
                self.tracker.update(position, window, learned)
        finally:
            if order is not None:
                order.advance(w, position)
        out = []
        for slot, slices in window.others:
            counts = np.bincount(window.gather(keys, slices), minlength=N_KEYS)
            total -= counts
            out.append((slot, counts))
        out.append((window.largest, total))
        return out

    def _learned_mask(self, raw: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Which tokens of a window have p > learned_p (exact values, also for bfloat16 keys)."""
        if raw.dtype != np.float16:
            return raw > raw.dtype.type(self.learned_threshold)
        mask = self._scratch("mask", self.config.chunk_tokens).view(bool)[: keys.size]
        return np.less(keys, self.learned_key_limit, out=mask)

    def _scratch(self, name: str, n_bytes: int) -> np.ndarray:
        """A buffer of this thread's, reused across windows (fresh ones cost page faults)."""
        buffer = getattr(self.scratch, name, None)
        if buffer is None:
            buffer = np.empty(n_bytes, dtype=np.uint8)
            setattr(self.scratch, name, buffer)
        return buffer

    def _any_learned(self, total: np.ndarray) -> bool:
        """Whether a window's histogram has keys above the learned threshold (else skip it)."""
        if self.store.dtype != np.float16:
            return True  # bfloat16 keys are not exact at the threshold: compare the values
        return bool(total[0] or total[0x8000 : self.learned_key_limit].any())

    def _raise_invalid(self, file: StepFile, raw: np.ndarray, start: int) -> None:
        values = np.asarray(raw)
        bad = np.flatnonzero(~(values <= 0) | np.isinf(values))
        position = start + int(bad[0])
        value = float(values[bad[0]])
        sequence, inside = self.store.locate(position)
        where = (
            f"sequence {sequence.id!r} ({sequence.split}) token {inside}"
            if sequence is not None else "a token in no sequence"
        )
        kind = "NaN" if math.isnan(value) else ("infinite" if math.isinf(value) else "positive")
        raise InputError(
            f"step {file.step}: token {position} ({where}) has a {kind} log-prob ({value!r}); "
            f"log-probs must be finite and <= 0 ({bad.size} such values in tokens "
            f"[{start}, {start + values.size}) of this file)",
            file.path,
        )

    def run(self) -> Iterator[tuple[int, dict[str, SplitStats]]]:
        """Yield each step's summaries in step order.

        All (step, window) tasks go through one thread pool with a bounded number in flight, so
        the cores stay busy across step boundaries too (a store of many small steps parallelises
        as well as one of few large steps), while results are consumed, and steps yielded, in order.
        """
        tasks = [(k, w) for k in range(len(self.files)) for w in range(len(self.plan))]
        workers = self.config.workers or min(len(os.sched_getaffinity(0)), 8)
        pool = ThreadPoolExecutor(workers) if workers > 1 and len(tasks) > 1 else None
        order = _WindowOrder(len(self.plan)) if pool is not None and self.tracker is not None else None
        in_flight: deque = deque()
        counts = np.zeros((N_SLOTS, N_KEYS), dtype=np.int64)
        done_windows = 0
        try:
            for index in range(len(tasks)):
                while len(in_flight) < 4 * workers and index + len(in_flight) < len(tasks):
                    task = tasks[index + len(in_flight)]
                    in_flight.append(pool.submit(self.count_window, *task, order) if pool else task)
                head = in_flight.popleft()
                for slot, hist in head.result() if pool else self.count_window(*head, None):
                    counts[slot] += hist
                done_windows += 1
                if done_windows == len(self.plan):
                    yield self._step_result(tasks[index][0], counts)
                    counts[:] = 0
                    done_windows = 0
        finally:
            if order is not None:
                order.abort()
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _step_result(self, position: int, counts: np.ndarray) -> tuple[int, dict[str, SplitStats]]:
        step = self.files[position].step
        newly = self.tracker.newly_learned(position) if self.tracker is not None else None
        out = {}
        for slot, split in enumerate(SPLITS):
            if split not in self.store.splits:
                continue
            stats = stats_from_histogram(counts[slot], step, split, self.tables, self.config)
            if newly is not None and stats.n_tokens:
                self.learned_so_far[slot] += newly[slot]
                stats.newly_learned_share = float(newly[slot]) / stats.n_tokens
                stats.learned_share = float(self.learned_so_far[slot]) / stats.n_tokens
            out[split] = stats
        return step, out


def iter_step_summaries(
    store: TokenStore, config: SummaryConfig | None = None, tracker: LearnedAtTracker | None = None
) -> Iterator[tuple[int, dict[str, SplitStats]]]:
    """Yield `(step, {split: SplitStats})` step by step, reading each step file once.

    Pass a `LearnedAtTracker(store.n_tokens)` to also follow when tokens are learned (the rows
    then carry `newly_learned_share` and `learned_share`). Raises `InputError` naming the file,
    step and token at the first invalid value.
    """
    return _Pass(store, config or SummaryConfig(), tracker).run()


def summarize_store(store: TokenStore, config: SummaryConfig | None = None,
                    first_step_only: bool = False) -> TokenSummary:
    """Every step's summaries plus the learned-at distribution (or only the first stored step)."""
    config = config or SummaryConfig()
    tracker = None if first_step_only else LearnedAtTracker(store.n_tokens)
    files = store.files[:1] if first_step_only else store.files
    rows: dict[str, list[SplitStats]] = {split: [] for split in store.splits}
    steps = []
    for step, per_split in _Pass(store, config, tracker, files).run():
        steps.append(step)
        for split, stats in per_split.items():
            rows[split].append(stats)
    split_tokens = {split: store.split_tokens(split) for split in store.splits}
    return TokenSummary(
        source=str(store.folder),
        dtype=store.dtype.name,
        precision=codec_for(store.dtype.name).precision,
        n_tokens=store.n_tokens,
        splits={s: {"n_tokens": split_tokens[s], "n_sequences": store.split_sequences(s)}
                for s in store.splits},
        steps=steps,
        rows=rows,
        learned_at={} if tracker is None else tracker.distribution(split_tokens, steps, config),
        config=config,
        warnings=list(store.warnings),
    )
