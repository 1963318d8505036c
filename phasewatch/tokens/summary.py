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
    newly_learned_share: float | None = None
    """Share of this split's tokens first reaching p > learned_p at this step (None: not tracked)."""
    learned_share: float | None = None
    """Share that has reached p > learned_p at this step or before."""

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
    """Which tokens have reached p > learned_p so far, and how many did so first at each step.

    1 byte per token: the only state that grows with the store, and it grows with the tokens per
    step, not with the number of steps. A token's "learned at" step is the first stored step where
    its p > learned_p (a later fall below does not undo it); the first stored step counts as
    "known at start". Updates of one token window must arrive in step order (the pass sees to it).
    """

    def __init__(self, n_tokens: int):
        self.seen = np.zeros(n_tokens, dtype=bool)
        self.newly: dict[int, np.ndarray] = {}  # step position -> newly learned tokens per slot
        self._lock = threading.Lock()

    def update(self, position: int, start: int, pieces, learned: np.ndarray) -> None:
        seen = self.seen[start : start + learned.size]
        newly = np.greater(learned, seen)  # learned now, not before
        seen |= learned
        if len(pieces) == 1:
            counts = np.zeros(N_SLOTS, dtype=np.int64)
            counts[pieces[0][2]] = np.count_nonzero(newly)
        else:
            sums = np.add.reduceat(newly, [a - start for a, _, _ in pieces], dtype=np.int64)
            slots = np.asarray([slot for _, _, slot in pieces])
            counts = np.bincount(slots, weights=sums, minlength=N_SLOTS).astype(np.int64)
        with self._lock:
            if position in self.newly:
                self.newly[position] += counts
            else:
                self.newly[position] = counts

    def newly_learned(self, position: int) -> np.ndarray:
        """Tokens first learned at this step position, per slot."""
        return self.newly.get(position, np.zeros(N_SLOTS, dtype=np.int64))

    def distribution(
        self, split_tokens: dict[str, int], steps: Sequence[int], config: SummaryConfig
    ) -> dict[str, LearnedAt]:
        steps = np.asarray(steps, dtype=np.int64)
        per_step = np.asarray([self.newly_learned(k) for k in range(steps.size)]).reshape(-1, N_SLOTS)
        out = {}
        for slot, split in enumerate(SPLITS):
            if split not in split_tokens:
                continue
            n = split_tokens[split]
            counts = per_step[:, slot]
            during = counts[1:]
            n_during = int(during.sum())
            cumulative = np.cumsum(during)
            quantiles: dict[str, int | None] = {}
            for q in config.quantiles:
                if n_during == 0:
                    quantiles[quantile_label(q)] = None
                    continue
                rank = int(np.rint((n_during - 1) * q))  # np.quantile(method="nearest")
                quantiles[quantile_label(q)] = int(steps[1 + np.searchsorted(cumulative, rank, side="right")])
            known = int(counts[0]) if counts.size else 0
            nan = float("nan")
            out[split] = LearnedAt(
                split=split,
                n_tokens=n,
                known_at_start_share=known / n if n else nan,
                learned_during_share=n_during / n if n else nan,
                never_learned_share=(n - known - n_during) / n if n else nan,
                step_quantiles=quantiles,
            )
        return out


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

    def __init__(self, store: TokenStore, config: SummaryConfig, tracker: LearnedAtTracker | None,
                 files: Sequence[StepFile] | None = None):
        self.store = store
        self.config = config
        self.files = list(store.files if files is None else files)
        self.learned_so_far = np.zeros(N_SLOTS, dtype=np.int64)
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

    def count_window(self, position: int, w: int, order: _WindowOrder | None) -> list[tuple[int, np.ndarray]]:
        """Key histograms `(slot, counts)` of window `w` of the step at `position`."""
        file = self.files[position]
        start, stop, pieces = self.plan[w]
        try:
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
                if order is not None:
                    order.wait(w, position)
                self.tracker.update(position, start, pieces, learned)
        finally:
            if order is not None:
                order.advance(w, position)
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

    def run(self) -> Iterator[tuple[int, dict[str, SplitStats]]]:
        """Yield each step's summaries in step order.

        All (step, window) tasks go through one thread pool with a bounded number in flight, so
        the cores stay busy across step boundaries too (a store of many small steps parallelises
        as well as one of few large steps), while results are consumed, and steps yielded, in order.
        """
        tasks = [(k, w) for k in range(len(self.files)) for w in range(len(self.plan))]
        workers = self.config.workers or min(len(os.sched_getaffinity(0)), 8)
        pool = ThreadPoolExecutor(workers) if workers > 1 and len(tasks) > 1 else None
        order = _WindowOrder(len(self.plan)) if pool is not None else None
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
            if pool is not None:
                order.abort()
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
