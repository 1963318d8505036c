"""The summary pass in numpy, for installs without the compiled pass (no C compiler).

Per step: the file read window by window (`np.fromfile`, so a file truncated after the store was
opened is a short read, never a SIGBUS), each window's 16-bit keys counted per slot with one
`np.bincount` (`counting`), the learned-at flags updated, then the statistics from the
histograms (`histogram`). One thread: `np.bincount` holds the GIL, so threads would only take
turns. The same numbers as the compiled pass, more slowly.
"""

from __future__ import annotations

import math

import numpy as np

from phasewatch.errors import InputError
from phasewatch.tokens.counting import Runs, count_numpy
from phasewatch.tokens.histogram import histogram_tables, stats_from_histogram
from phasewatch.tokens.keys import N_KEYS, codec_for
from phasewatch.tokens.layout import SPLITS
from phasewatch.tokens.slots import slot_runs
from phasewatch.tokens.stats import N_SLOTS, NEGATIVE, SplitStats, SummaryConfig
from phasewatch.tokens.store import StepFile, TokenStore


def read_window(file: StepFile, n_tokens: int, start: int, stop: int) -> np.ndarray:
    """The values of tokens `[start, stop)` of a step file; a short read is an InputError."""
    with open(file.path, "rb") as fh:
        values = np.fromfile(fh, dtype=file.dtype, count=stop - start,
                             offset=file.data_offset + start * file.itemsize)
    if values.size != stop - start:
        raise InputError(
            f"cannot read tokens [{start}, {stop}): the file ends early; it changed or was "
            "truncated after the store was opened", file.path,
        )
    return values


class NumpyPass:
    """`step(file)` -> `(invalid?, {slot: SplitStats}, newly learned per slot)`, steps in order."""

    def __init__(self, store: TokenStore, config: SummaryConfig, track_learned: bool):
        self.store, self.config = store, config
        ends, slots = slot_runs(store)
        self.runs = Runs(np.frombuffer(ends, dtype=np.int64), np.frombuffer(slots, dtype=np.uint8))
        self.codec = codec_for(store.dtype_name)
        self.tables = histogram_tables(self.codec, config)
        self.seen = np.zeros(store.n_tokens, dtype=bool) if track_learned else None
        self.threshold = math.log(config.learned_p)
        # float16 keys of values above the threshold: +0 (key 0) and the negatives whose key is
        # below the first key valued <= threshold (negative keys grow more negative).
        negative = np.arange(NEGATIVE, N_KEYS)
        self.key_limit = int(negative[self.codec.values[negative] <= self.threshold][0])

    def step(self, file: StepFile) -> tuple[bool, dict[int, SplitStats], list[int]]:
        n_tokens, chunk = self.store.n_tokens, self.config.chunk_tokens
        hist = np.zeros((N_SLOTS, N_KEYS), dtype=np.int64)
        newly = np.zeros(N_SLOTS, dtype=np.int64)
        for start in range(0, n_tokens, chunk):
            stop = min(n_tokens, start + chunk)
            raw = read_window(file, n_tokens, start, stop)
            keys = self.codec.keys(raw)
            if self.seen is None:
                count_numpy(keys, start, self.runs, hist)
                continue
            if raw.dtype == np.float16:
                learn_keys, limit = keys, self.key_limit
            else:  # learned from the exact values: 0 (learned) / 1
                learn_keys, limit = (raw <= raw.dtype.type(self.threshold)).astype(np.uint8), 1
            count_numpy(keys, start, self.runs, hist, learn_keys, limit, self.seen[start:stop], newly)
        if self.codec.has_invalid(hist):
            return True, {}, []
        stats = {slot: stats_from_histogram(hist[slot], file.step, split, self.tables, self.config)
                 for slot, split in enumerate(SPLITS)}
        return False, stats, newly.tolist()
