"""Streaming per-step summaries of an expert log-prob store, per split (train / heldout).

How it stays fast and flat in memory, whatever the store's size:
- The tokens are split into contiguous *lanes*, one per thread (`lane_pool`; workers=1 runs one
  lane in this thread). A lane owns its tokens at every step: it reads them window by window
  (`chunk_tokens`) with `pread` into a reused buffer and counts each window's 16-bit keys into
  a 65,536-bin histogram per split with one call of a compiled kernel (`counting`), which also
  keeps the lane's "learned at" state, in step order with no locking (`lane`). The kernel and
  the read release the GIL, so the lanes run in parallel. Per step the pass sums the lanes'
  histograms and computes the statistics from them (`stats`), never token by token in Python,
  and yields the steps in order. Memory: a window buffer per lane, plus 1 byte per token for
  learned-at.
- float16 stores (the format's default): the key IS the float16 bit pattern, so the histogram is a
  complete description of the data and every statistic is exact (quantiles equal `np.quantile`
  with linear interpolation on the same values), whatever the lanes (integer counts add exactly).
- float32 (and tolerated float64) stores: the key is the top 16 bits of the float32 (a bfloat16
  truncation, 8 significant bits), valued at the midpoint of its interval: each log p is known to a
  relative 2**-8 (0.4%), which bounds the error of the mean and the quantiles of log p the same way
  (a quantile of p to a relative 0.4% x |log p|); a share at a threshold can misplace only tokens
  within 0.8% of it in log p. "Learned at" compares the exact values.
- Validation is free: NaN, +-inf and positive values have keys of their own; a non-zero count
  there makes the lane locate its first such value, and the pass names the file, step, token
  and sequence (the error the first lane to meet it would give in process).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from phasewatch.errors import InputError
from phasewatch.tokens.counting import resolve
from phasewatch.tokens.keys import N_KEYS, codec_for
from phasewatch.tokens.lane import (
    MAX_LANE_TOKENS,
    InvalidValue,
    LaneSpec,
    StepReader,
    invalid_positions,
)
from phasewatch.tokens.lane_pool import Lanes
from phasewatch.tokens.learned import LearnedAt, LearnedAtTracker
from phasewatch.tokens.stats import (
    N_SLOTS,
    SplitStats,
    SummaryConfig,
    histogram_tables,
    stats_from_histogram,
)
from phasewatch.tokens.store import StepFile, TokenStore
from phasewatch.tokens.windows import lane_ranges, slot_runs
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

    def frame(self, split: str):
        """One row per step (index), one column per statistic; quantiles as columns p05, p25...
        (a pandas DataFrame; pandas is imported here, not on the `tokens` command's path)."""
        import pandas as pd

        records = []
        for row in self.rows.get(split, []):
            record = {k: v for k, v in row.to_dict().items() if k != "p_quantiles"}
            record.update(row.p_quantiles)
            records.append(record)
        frame = pd.DataFrame.from_records(records)
        return frame.set_index("step") if not frame.empty else frame


# ------------------------------------------------------------------ the pass
def worker_count(config: SummaryConfig) -> int:
    """`config.workers`, or the CPUs this process may use (at most 8)."""
    if config.workers is not None:
        return config.workers
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


class _Pass:
    """One streaming pass over the steps of a store (see the module docstring)."""

    def __init__(self, store: TokenStore, config: SummaryConfig, tracker: LearnedAtTracker | None,
                 files: Sequence[StepFile] | None = None):
        self.store = store
        self.config = config
        self.files = list(store.files if files is None else files)
        self.tracker = tracker
        self.splits = store.splits  # a property that walks every sequence: once, not per step
        self.runs = slot_runs(store)
        self.kernel = resolve(config.kernel)
        self.learned_so_far = np.zeros(N_SLOTS, dtype=np.int64)
        self.tables = histogram_tables(codec_for(store.dtype.name), config)

    def _lanes(self) -> Lanes:
        """One lane per thread (`workers`), or one lane in this thread; more lanes (never more
        threads) for steps of over 2**32 tokens, whose counts a lane's 32 bits could not hold."""
        workers = worker_count(self.config)
        n_lanes = max(workers, -(-self.store.n_tokens // (MAX_LANE_TOKENS // 2)))
        ranges, window = lane_ranges(self.store.n_tokens, n_lanes, self.config.chunk_tokens)
        return Lanes([self._spec(a, b, window) for a, b in ranges], threads=workers)

    def _spec(self, start: int, stop: int, window_tokens: int) -> LaneSpec:
        return LaneSpec(
            files=[(str(f.path), f.data_offset) for f in self.files], dtype=self.store.dtype.name,
            n_tokens=self.store.n_tokens, start=start, stop=stop, window_tokens=window_tokens,
            runs=self.runs, learned_p=None if self.tracker is None else self.config.learned_p,
            kernel=self.kernel,
        )

    def _raise_invalid(self, bad: InvalidValue) -> None:
        """The error for the first bad value of a step, with how many more its `chunk_tokens`
        window holds (re-read here: the message must not depend on how the lanes cut windows)."""
        file = self.files[bad.position]
        chunk = self.config.chunk_tokens
        start = bad.token // chunk * chunk
        stop = min(start + chunk, self.store.n_tokens)
        buffer = np.empty((stop - start) * file.dtype.itemsize, dtype=np.uint8)
        with StepReader(str(file.path), file.data_offset, file.dtype, self.store.n_tokens) as reader:
            values = reader.read(start, stop, buffer)
        n_bad = invalid_positions(values).size
        value = float(values[bad.token - start])
        sequence, inside = self.store.locate(bad.token)
        where = (
            f"sequence {sequence.id!r} ({sequence.split}) token {inside}"
            if sequence is not None else "a token in no sequence"
        )
        kind = "NaN" if math.isnan(value) else ("infinite" if math.isinf(value) else "positive")
        raise InputError(
            f"step {file.step}: token {bad.token} ({where}) has a {kind} log-prob ({value!r}); "
            f"log-probs must be finite and <= 0 ({n_bad} such values in tokens "
            f"[{start}, {stop}) of this file)",
            file.path,
        )

    def run(self) -> Iterator[tuple[int, dict[str, SplitStats]]]:
        """Yield each step's summaries in step order (the lanes' histograms summed per step),
        the lanes counting the next step meanwhile.

        Closing the generator early (or any error) stops the lane threads.
        """
        lanes = self._lanes()
        n = len(self.files)
        try:
            if n:
                lanes.start(0)
            for position in range(n):
                try:
                    counts, newly = lanes.finish(position)
                except InvalidValue as bad:
                    self._raise_invalid(bad)
                if position + 1 < n:
                    lanes.start(position + 1)
                if self.tracker is not None and newly is not None:
                    self.tracker.record(position, newly)
                yield self._step_result(position, counts)
        finally:
            lanes.close()

    def _step_result(self, position: int, counts: np.ndarray) -> tuple[int, dict[str, SplitStats]]:
        step = self.files[position].step
        newly = self.tracker.newly_learned(position) if self.tracker is not None else None
        out = {}
        for slot, split in enumerate(SPLITS):
            if split not in self.splits:
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
    summary_pass = _Pass(store, config, tracker, files)
    for step, per_split in summary_pass.run():
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
