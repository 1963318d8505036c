"""Streaming per-step summaries of an expert log-prob store, per split (train / heldout).

How it stays fast and flat in memory, whatever the store's size:
- Each step file is memory-mapped one window of `chunk_tokens` tokens at a time (the window is
  unmapped when done), so memory is a few chunks plus 2 bytes per token for "learned at".
- Every stored value is turned into a 16-bit key and counted with `np.bincount` (a compiled loop
  that releases the GIL, so chunks run on all cores). All statistics are then computed from the
  65,536-bin histogram of keys, never token by token in Python.
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
from dataclasses import asdict, dataclass, field
from functools import cache

import numpy as np
import pandas as pd

from phasewatch.errors import InputError
from phasewatch.tokens.store import StepFile, TokenStore, map_window
from phasewatch.tokens.writer import SPLITS

N_KEYS = 1 << 16
#: Histogram slot for tokens in no sequence (validated, then dropped).
NO_SPLIT = len(SPLITS)
N_SLOTS = len(SPLITS) + 1


@dataclass(frozen=True)
class SummaryConfig:
    """Thresholds and streaming parameters of the summary pass."""

    divergent_p: float = 0.05
    """A token is divergent when the policy's p of the expert token is below this."""
    mastered_p: float = 0.95
    """A token is mastered when p is above this."""
    learned_p: float = 0.5
    """A token is learned at the first stored step where p is above this."""
    quantiles: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
    """Quantiles of p reported per step."""
    nll_cap: float = 30.0
    """Cap on -log p in the divergent NLL mass, so one p ~ 1e-300 token cannot dominate."""
    chunk_tokens: int = 1 << 20
    """Tokens per memory-mapped window (2 MB of float16)."""
    workers: int | None = None
    """Threads counting chunks; None = the CPUs this process may use."""


@dataclass
class SplitStats:
    """Summary of one split's expert tokens at one step. `p` is the policy's probability."""

    step: int
    split: str
    n_tokens: int
    mean_logprob: float
    logprob_std: float
    p_quantiles: dict[str, float]
    divergent_share: float
    mastered_share: float
    mean_phi: float
    mean_binary_entropy: float
    divergent_nll: float

    @property
    def nll(self) -> float:
        """Mean negative log-likelihood of the expert tokens (nats per token)."""
        return -self.mean_logprob

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("split")
        out["nll"] = self.nll
        return out


@dataclass
class LearnedAt:
    """When tokens of one split first reach p > learned_p, over the stored steps."""

    split: str
    n_tokens: int
    known_at_start_share: float
    learned_during_share: float
    never_learned_share: float
    step_quantiles: dict[str, int | None]
    """Quantiles of the step at which tokens learned during training were learned (an actual
    stored step: the nearest order statistic), None when no token was learned during training."""

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("split")
        return out


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


def quantile_label(q: float) -> str:
    """0.05 -> 'p05', 0.5 -> 'p50', 0.975 -> 'p97.5'."""
    pct = q * 100
    return f"p{round(pct):02d}" if abs(pct - round(pct)) < 1e-9 else f"p{pct:g}"


# ------------------------------------------------------------------ keys
@dataclass(frozen=True)
class KeyCodec:
    """16-bit keys of stored values and what each key stands for (see the module docstring)."""

    precision: str
    values: np.ndarray  # float64 value of every key; meaningful where valid
    valid: np.ndarray  # bool: keys of finite values <= 0
    order: np.ndarray  # valid keys sorted by value, ascending
    neg_inf_key: int  # valid keys are 0 (+0) and [0x8000, neg_inf_key)

    def has_invalid(self, counts: np.ndarray) -> bool:
        """Whether a key histogram counts NaN, infinite or positive values."""
        return bool(counts[1:0x8000].any() or counts[self.neg_inf_key:].any())

    def keys(self, raw: np.ndarray) -> np.ndarray:
        if raw.dtype == np.float16:
            return raw.view(np.uint16)
        if raw.dtype != np.float32:
            raw = raw.astype(np.float32)
        return (raw.view(np.uint32) >> 16).astype(np.uint16)


@cache
def codec_for(dtype_name: str) -> KeyCodec:
    keys = np.arange(N_KEYS, dtype=np.uint32)
    if dtype_name == "float16":
        values = keys.astype(np.uint16).view(np.float16).astype(np.float64)
        neg_inf_key, precision = 0xFC00, "exact (float16)"
    else:
        with np.errstate(invalid="ignore"):  # NaN keys stay NaN; they are never valid
            values = ((keys << 16) | 0x8000).view(np.float32).astype(np.float64)
        values[0x0000], values[0x8000] = 0.0, -0.0
        neg_inf_key, precision = 0xFF80, "bfloat16 keys: log p to a relative 2**-8"
    valid = (keys == 0) | ((keys >= 0x8000) & (keys < neg_inf_key))
    # Negative keys grow more negative as the key grows; +0 is the largest value.
    order = np.concatenate([np.arange(neg_inf_key - 1, 0x7FFF, -1), [0]]).astype(np.int64)
    return KeyCodec(precision, values, valid, order, neg_inf_key)


@dataclass(frozen=True)
class _Tables:
    """Per-key quantities in ascending order of log p, to turn a histogram into statistics."""

    order: np.ndarray  # keys sorted by value (valid keys only)
    logp: np.ndarray
    p: np.ndarray
    phi: np.ndarray
    entropy: np.ndarray
    divergent_nll: np.ndarray
    divergent_end: int  # sorted positions [:divergent_end] have p < divergent_p
    mastered_start: int  # sorted positions [mastered_start:] have p > mastered_p


def _tables(codec: KeyCodec, config: SummaryConfig) -> _Tables:
    logp = codec.values[codec.order]
    p = np.exp(logp)
    one_minus_p = -np.expm1(logp)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -p * logp - np.where(one_minus_p > 0, one_minus_p * np.log(one_minus_p), 0.0)
    divergent_end = int(np.searchsorted(logp, math.log(config.divergent_p), side="left"))
    mastered_start = int(np.searchsorted(logp, math.log(config.mastered_p), side="right"))
    divergent_nll = np.minimum(-logp, config.nll_cap)
    divergent_nll[divergent_end:] = 0.0
    return _Tables(
        codec.order, logp, p, p * one_minus_p, entropy, divergent_nll, divergent_end, mastered_start
    )


def stats_from_histogram(
    counts: np.ndarray, step: int, split: str, tables: _Tables, config: SummaryConfig
) -> SplitStats:
    """Statistics of one split at one step from its key histogram (length 65,536, key order)."""
    sorted_counts = counts[tables.order]
    nonzero = np.flatnonzero(sorted_counts)
    weights = sorted_counts[nonzero].astype(np.float64)
    n = int(sorted_counts.sum())
    if n == 0:
        nan = float("nan")
        return SplitStats(step, split, 0, nan, nan, {quantile_label(q): nan for q in config.quantiles},
                          nan, nan, nan, nan, nan)
    logp = tables.logp[nonzero]
    mean = float(weights @ logp) / n
    std = math.sqrt(max(float(weights @ (logp - mean) ** 2) / n, 0.0))
    cumulative = np.cumsum(sorted_counts[nonzero])
    p = tables.p[nonzero]
    quantiles = {}
    for q in config.quantiles:
        # np.quantile's default (linear): interpolate between order statistics floor(h), floor(h)+1.
        h = (n - 1) * q
        lo = math.floor(h)
        i_lo = int(np.searchsorted(cumulative, lo, side="right"))
        i_hi = int(np.searchsorted(cumulative, min(lo + 1, n - 1), side="right"))
        quantiles[quantile_label(q)] = float(p[i_lo] + (h - lo) * (p[i_hi] - p[i_lo]))
    return SplitStats(
        step=step,
        split=split,
        n_tokens=n,
        mean_logprob=mean,
        logprob_std=std,
        p_quantiles=quantiles,
        divergent_share=float(sorted_counts[: tables.divergent_end].sum()) / n,
        mastered_share=float(sorted_counts[tables.mastered_start:].sum()) / n,
        mean_phi=float(weights @ tables.phi[nonzero]) / n,
        mean_binary_entropy=float(weights @ tables.entropy[nonzero]) / n,
        divergent_nll=float(weights @ tables.divergent_nll[nonzero]) / n,
    )


# ------------------------------------------------------------------ learned at
class LearnedAtTracker:
    """The index of the first stored step at which each token had p > learned_p.

    2 bytes per token (4 past 65,534 steps): the only state that grows with the store, and it
    grows with the tokens per step, not with the number of steps.
    """

    def __init__(self, n_tokens: int, n_steps: int):
        self.dtype = np.uint16 if n_steps < np.iinfo(np.uint16).max else np.uint32
        self.never = np.iinfo(self.dtype).max
        self.n_steps = n_steps
        self.first = np.full(n_tokens, self.never, dtype=self.dtype)

    def update(self, start: int, learned: np.ndarray, step_index: int) -> None:
        """Record `step_index` where `learned` and no earlier step was recorded.

        A minimum, so updates of one window from different steps may arrive in any order
        (the caller serialises updates of the same window).
        """
        window = self.first[start : start + learned.size]
        learned &= window > step_index
        np.copyto(window, step_index, where=learned)

    def distribution(
        self, store: TokenStore, steps: Sequence[int], config: SummaryConfig
    ) -> dict[str, LearnedAt]:
        steps = np.asarray(steps, dtype=np.int64)
        out = {}
        for split in store.splits:
            counts = np.zeros(self.n_steps + 1, dtype=np.int64)  # last slot: never learned
            for start, stop, seg_split in store.segments:
                if seg_split != split:
                    continue
                for a in range(start, stop, config.chunk_tokens):
                    window = self.first[a : min(stop, a + config.chunk_tokens)]
                    counts += np.bincount(np.minimum(window, self.n_steps), minlength=self.n_steps + 1)
            n = int(counts.sum())
            during = counts[1 : self.n_steps]
            n_during = int(during.sum())
            quantiles: dict[str, int | None] = {}
            cumulative = np.cumsum(during)
            for q in config.quantiles:
                if n_during == 0:
                    quantiles[quantile_label(q)] = None
                    continue
                rank = int(np.rint((n_during - 1) * q))  # np.quantile(method="nearest")
                quantiles[quantile_label(q)] = int(steps[1 + np.searchsorted(cumulative, rank, side="right")])
            out[split] = LearnedAt(
                split=split,
                n_tokens=n,
                known_at_start_share=float(counts[0]) / n if n else float("nan"),
                learned_during_share=n_during / n if n else float("nan"),
                never_learned_share=float(counts[self.n_steps]) / n if n else float("nan"),
                step_quantiles=quantiles,
            )
        return out


# ------------------------------------------------------------------ the pass
def _chunk_plan(store: TokenStore, chunk_tokens: int) -> list[tuple[int, int, list[tuple[int, int, int]]]]:
    """Token windows `(start, stop, pieces)`; pieces `(a, b, slot)` cover the window by split."""
    slot_of = {split: i for i, split in enumerate(SPLITS)}
    boundaries: list[tuple[int, int, int]] = []  # (a, b, slot) covering [0, n_tokens)
    cursor = 0
    for a, b, split in store.segments:
        if a > cursor:
            boundaries.append((cursor, a, NO_SPLIT))
        boundaries.append((a, b, slot_of[split]))
        cursor = b
    if cursor < store.n_tokens:
        boundaries.append((cursor, store.n_tokens, NO_SPLIT))
    plan = []
    starts = np.asarray([a for a, _, _ in boundaries])
    for start in range(0, store.n_tokens, chunk_tokens):
        stop = min(store.n_tokens, start + chunk_tokens)
        first = int(np.searchsorted(starts, start, side="right")) - 1
        pieces = []
        for a, b, slot in boundaries[first:]:
            if a >= stop:
                break
            pieces.append((max(a, start), min(b, stop), slot))
        plan.append((start, stop, pieces))
    return plan


class _Pass:
    """One streaming pass over the steps of a store (see the module docstring)."""

    def __init__(self, store: TokenStore, config: SummaryConfig, tracker: LearnedAtTracker | None):
        self.store = store
        self.config = config
        self.codec = codec_for(store.dtype.name)
        self.tables = _tables(self.codec, config)
        self.plan = _chunk_plan(store, config.chunk_tokens)
        self.tracker = tracker
        self.learned_threshold = math.log(config.learned_p)
        # Keys of float16 values above log(learned_p): +0, and negatives with a key below the
        # first key whose value is <= the threshold (negative keys grow more negative).
        negative = np.arange(0x8000, N_KEYS)
        below = negative[self.codec.values[negative] <= self.learned_threshold]
        self.learned_key_limit = int(below[0]) if below.size else N_KEYS

    def count_window(self, file: StepFile, step_index: int, window, lock) -> list[tuple[int, np.ndarray]]:
        """Key histograms `(slot, counts)` of one token window of one step file."""
        start, stop, pieces = window
        raw = np.asarray(map_window(file, self.store.n_tokens, start, stop))
        keys = self.codec.keys(raw)
        total = np.bincount(keys, minlength=N_KEYS)
        if self.codec.has_invalid(total):
            self._raise_invalid(file, raw, start)
        if self.tracker is not None and self._any_learned(total):
            if raw.dtype == np.float16:
                learned = keys < self.learned_key_limit
            else:
                learned = raw > raw.dtype.type(self.learned_threshold)
            with lock:
                self.tracker.update(start, learned, step_index)
        if len(pieces) == 1:
            return [(pieces[0][2], total)]
        # Several splits in this window: count all but the largest split apart (gathering their
        # slices), and get the largest by subtraction, so the cost stays ~1 bincount per token.
        sizes: dict[int, int] = {}
        for a, b, slot in pieces:
            sizes[slot] = sizes.get(slot, 0) + b - a
        largest = max(sizes, key=sizes.__getitem__)
        out = []
        rest = total.copy()
        for slot in sizes:
            if slot == largest:
                continue
            parts = [keys[a - start : b - start] for a, b, s in pieces if s == slot]
            counts = np.bincount(np.concatenate(parts) if len(parts) > 1 else parts[0], minlength=N_KEYS)
            rest -= counts
            out.append((slot, counts))
        out.append((largest, rest))
        return out

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

    def run(self, step_indices: Sequence[int] | None = None) -> Iterator[tuple[int, dict[str, SplitStats]]]:
        """Yield each step's summaries in step order.

        All (step, window) tasks go through one thread pool with a bounded number in flight, so
        the cores stay busy across step boundaries too (a store of many small steps parallelises
        as well as one of few large steps), while results are consumed, and steps yielded, in order.
        """
        files = self.store.files
        indices = list(range(len(files)) if step_indices is None else step_indices)
        tasks = [(i, w) for i in indices for w in range(len(self.plan))]
        workers = self.config.workers or min(len(os.sched_getaffinity(0)), 8)
        window_locks = [threading.Lock() for _ in self.plan]

        def count(task):
            i, w = task
            return self.count_window(files[i], i, self.plan[w], window_locks[w])

        pool = ThreadPoolExecutor(workers) if workers > 1 and len(tasks) > 1 else None
        in_flight: deque = deque()
        counts = np.zeros((N_SLOTS, N_KEYS), dtype=np.int64)
        done_windows = 0
        try:
            for position in range(len(tasks)):
                while len(in_flight) < 4 * workers and position + len(in_flight) < len(tasks):
                    task = tasks[position + len(in_flight)]
                    in_flight.append(pool.submit(count, task) if pool else task)
                head = in_flight.popleft()
                for slot, hist in head.result() if pool else count(head):
                    counts[slot] += hist
                done_windows += 1
                if done_windows == len(self.plan):
                    file = files[tasks[position][0]]
                    yield file.step, {
                        split: stats_from_histogram(counts[s], file.step, split, self.tables, self.config)
                        for s, split in enumerate(SPLITS) if split in self.store.splits
                    }
                    counts[:] = 0
                    done_windows = 0
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)


def iter_step_summaries(
    store: TokenStore, config: SummaryConfig | None = None, tracker: LearnedAtTracker | None = None
) -> Iterator[tuple[int, dict[str, SplitStats]]]:
    """Yield `(step, {split: SplitStats})` step by step, reading each step file once.

    Pass a `LearnedAtTracker(store.n_tokens, store.n_steps)` to also follow when tokens are
    learned. Raises `InputError` naming the file, step and token at the first invalid value.
    """
    return _Pass(store, config or SummaryConfig(), tracker).run()


def summarize_store(store: TokenStore, config: SummaryConfig | None = None,
                    first_step_only: bool = False) -> TokenSummary:
    """Every step's summaries plus the learned-at distribution (or only the first stored step)."""
    config = config or SummaryConfig()
    tracker = None if first_step_only else LearnedAtTracker(store.n_tokens, store.n_steps)
    rows: dict[str, list[SplitStats]] = {split: [] for split in store.splits}
    steps = []
    for step, per_split in _Pass(store, config, tracker).run([0] if first_step_only else None):
        steps.append(step)
        for split, stats in per_split.items():
            rows[split].append(stats)
    return TokenSummary(
        source=str(store.folder),
        dtype=store.dtype.name,
        precision=codec_for(store.dtype.name).precision,
        n_tokens=store.n_tokens,
        splits={s: {"n_tokens": store.split_tokens(s), "n_sequences": store.split_sequences(s)}
                for s in store.splits},
        steps=steps,
        rows=rows,
        learned_at={} if tracker is None else tracker.distribution(store, steps, config),
        config=config,
        warnings=list(store.warnings),
    )
