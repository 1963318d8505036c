"""Streaming per-step summaries of an expert log-prob store, per split (train / heldout).

How it stays fast and flat in memory, whatever the store's size:
- Every statistic comes from a 65,536-bin histogram per split of the values' 16-bit keys,
  counted step by step, never token by token in Python. With the compiled pass (`fused`, built
  by `pip install` when a C compiler is there) one C call per step reads the file, counts it on
  `workers` threads with the GIL released, updates the learned-at state and reduces the
  histograms to a few sums; that path imports no numpy. Without it, the numpy pass
  (`numpy_pass`) counts with `np.bincount` and reduces with numpy (`histogram`): the same
  numbers, more slowly. Memory: a window buffer per thread and the histograms, plus 1 byte per
  token for learned-at.
- float16 stores (the format's default): the key IS the float16 bit pattern, so the histogram is a
  complete description of the data and every statistic is exact (quantiles equal `np.quantile`
  with linear interpolation on the same values), whatever the threads (integer counts add exactly).
- float32 (and tolerated float64) stores: the key is the top 16 bits of the float32 (a bfloat16
  truncation, 8 significant bits), valued at the midpoint of its interval: each log p is known to a
  relative 2**-8 (0.4%), which bounds the error of the mean and the quantiles of log p the same way
  (a quantile of p to a relative 0.4% x |log p|); a share at a threshold can misplace only tokens
  within 0.8% of it in log p. "Learned at" compares the exact values.
- Validation is free: NaN, +-inf and positive values have keys of their own; a non-zero count
  there makes the pass locate the first such value of the step (numpy, on that error path only)
  and name the file, step, token and sequence.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from phasewatch.errors import InputError
from phasewatch.tokens.fused import FusedPass, resolve
from phasewatch.tokens.layout import PRECISION, SPLITS
from phasewatch.tokens.learned import LearnedAt, LearnedAtTracker
from phasewatch.tokens.stats import N_SLOTS, SplitStats, SummaryConfig
from phasewatch.tokens.store import StepFile, TokenStore

__all__ = ["LearnedAt", "LearnedAtTracker", "SplitStats", "SummaryConfig", "TokenSummary",
           "iter_step_summaries", "summarize_store"]


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
        self.learned_so_far = [0] * N_SLOTS
        track = tracker is not None
        if resolve(config.kernel) == "compiled":
            self.engine = FusedPass(store, config, track, worker_count(config))
        else:
            from phasewatch.tokens.numpy_pass import NumpyPass

            self.engine = NumpyPass(store, config, track)

    def run(self) -> Iterator[tuple[int, dict[str, SplitStats]]]:
        """Yield each step's summaries in step order."""
        for position, file in enumerate(self.files):
            invalid, stats, newly = self.engine.step(file)
            if invalid:
                raise_invalid(self.store, file, self.config)
            if self.tracker is not None:
                self.tracker.record(position, newly)
            yield file.step, self._step_result(stats, newly)

    def _step_result(self, stats: dict[int, SplitStats], newly: list[int]) -> dict[str, SplitStats]:
        out = {}
        for slot, split in enumerate(SPLITS):
            if split not in self.splits:
                continue
            row = stats[slot]
            if self.tracker is not None and row.n_tokens:
                self.learned_so_far[slot] += newly[slot]
                row.newly_learned_share = newly[slot] / row.n_tokens
                row.learned_share = self.learned_so_far[slot] / row.n_tokens
            out[split] = row
        return out


def raise_invalid(store: TokenStore, file: StepFile, config: SummaryConfig) -> None:
    """The error for the first NaN, infinite or positive log-prob of a step file, with how many
    more its `chunk_tokens` window holds (the slow path of a failing pass: numpy is fine here)."""
    import numpy as np

    from phasewatch.tokens.numpy_pass import read_window

    chunk = config.chunk_tokens
    for start in range(0, store.n_tokens, chunk):
        stop = min(start + chunk, store.n_tokens)
        values = read_window(file, store.n_tokens, start, stop)
        bad = np.flatnonzero(~(values <= 0) | np.isinf(values))
        if not bad.size:
            continue
        token = start + int(bad[0])
        value = float(values[bad[0]])
        sequence, inside = store.locate(token)
        where = (
            f"sequence {sequence.id!r} ({sequence.split}) token {inside}"
            if sequence is not None else "a token in no sequence"
        )
        kind = "NaN" if math.isnan(value) else ("infinite" if math.isinf(value) else "positive")
        raise InputError(
            f"step {file.step}: token {token} ({where}) has a {kind} log-prob ({value!r}); "
            f"log-probs must be finite and <= 0 ({bad.size} such values in tokens "
            f"[{start}, {stop}) of this file)",
            file.path,
        )
    raise InputError("an invalid value was counted but is not there on a second read; the file "
                     "changed while it was read", file.path)


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
        dtype=store.dtype_name,
        precision=PRECISION[store.dtype_name],
        n_tokens=store.n_tokens,
        splits={s: {"n_tokens": split_tokens[s], "n_sequences": store.split_sequences(s)}
                for s in store.splits},
        steps=steps,
        rows=rows,
        learned_at={} if tracker is None else tracker.distribution(split_tokens, steps, config),
        config=config,
        warnings=list(store.warnings),
    )
