"""One lane of the summary pass: a fixed range of tokens, counted at every step in order.

Why lanes: a lane owns its tokens for the whole pass, so its "learned at" state (one bool per
token of its range) is its alone, and its updates come in step order by construction: no lock,
no ordering between threads. The pass runs one lane holding every token in this thread (small
stores, workers=1), or one lane per thread (`lane_pool`); both run this code, so both give the
same integers.

Per window and step: one `pread` into a reused buffer (a cache-sized block, so the kernel reads
it from cache), its 16-bit keys (the float16 bits themselves: no copy), and one call of the
counting kernel (`counting`), which counts every slot and updates the learned state with the
GIL released. Invalid values (NaN, +-inf,
positive) have keys of their own: one look at the lane's histogram per step finds them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from phasewatch.errors import InputError
from phasewatch.tokens.counting import Runs, count
from phasewatch.tokens.keys import N_KEYS, codec_for
from phasewatch.tokens.stats import N_SLOTS

#: Tokens per lane at most: its histograms count in 32 bits (more lanes for larger steps).
MAX_LANE_TOKENS = (1 << 32) - 1


class InvalidValue(Exception):
    """The first NaN, infinite or positive log-prob of a lane in the step file at `position`.

    Carries numbers only: the pass turns it into the `InputError` naming file, step, token and
    sequence (it has the store's index), the same whichever lane found it.
    """

    def __init__(self, position: int, token: int):
        super().__init__(position, token)
        self.position, self.token = position, token


def invalid_positions(values: np.ndarray) -> np.ndarray:
    """Positions of the NaN, infinite and positive values."""
    return np.flatnonzero(~(values <= 0) | np.isinf(values))


@dataclass(frozen=True)
class LaneSpec:
    """What a lane needs: the step files, its tokens and how to count them."""

    files: list[tuple[str, int]]
    """(path, byte offset of the data) of each step file, in step order."""
    dtype: str
    n_tokens: int
    start: int
    stop: int
    """The lane's tokens: `[start, stop)`."""
    window_tokens: int
    runs: Runs
    learned_p: float | None
    """Track "learned at" (p > learned_p), or None not to."""
    kernel: str
    """"compiled" or "numpy" (`counting.resolve`)."""


class StepReader:
    """Reads token windows of one step file: opened once per step, `pread` per window.

    `pread` into a reused buffer rather than a memory map: a mapping costs a page fault per 4 KB
    and, with threads, every mmap/munmap took the address-space lock the others' page faults
    needed (measured: 2 threads 0.95 -> 1.08 GB/s); and a mapped file truncated under the pass
    kills the process (SIGBUS), where a short read is an InputError naming the file. One open
    per step, not per window: `open()` per window cost ~20 ms per 480 MB.
    """

    def __init__(self, path: str, data_offset: int, dtype: np.dtype, n_tokens: int):
        self.path, self.data_offset, self.dtype, self.n_tokens = path, data_offset, dtype, n_tokens
        try:
            self.fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", path) from exc

    def __enter__(self) -> StepReader:  # noqa: PYI034 (typing.Self needs 3.11)
        return self

    def __exit__(self, *exc) -> None:
        os.close(self.fd)

    def read(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        """The values of tokens `[start, stop)`, copied into `out` (bytes, reused). Nothing past
        the file's end is read: a file truncated after the store was opened is an InputError."""
        n_bytes = (stop - start) * self.dtype.itemsize
        if not 0 <= start <= stop <= self.n_tokens or out.nbytes < n_bytes:
            raise IndexError(f"token window [{start}, {stop}) outside [0, {self.n_tokens}) or larger than the buffer")
        view = memoryview(out).cast("B")[:n_bytes]
        try:
            got = os.preadv(self.fd, [view], self.data_offset + start * self.dtype.itemsize)
        except OSError as exc:
            raise InputError(f"cannot read tokens [{start}, {stop}): {exc}", self.path) from exc
        if got != n_bytes:
            raise InputError(
                f"cannot read tokens [{start}, {stop}): the file ends {n_bytes - got} bytes early; "
                "it changed or was truncated after the store was opened", self.path,
            )
        return out.view(np.uint8)[:n_bytes].view(self.dtype)


class Lane:
    """Counts the lane's tokens at one step after another (see the module docstring)."""

    def __init__(self, spec: LaneSpec):
        if spec.stop - spec.start > MAX_LANE_TOKENS:
            raise ValueError(f"a lane holds at most {MAX_LANE_TOKENS} tokens (32-bit counts)")
        self.spec = spec
        self.dtype = np.dtype(spec.dtype)
        self.codec = codec_for(self.dtype.name)
        size = min(spec.window_tokens, spec.stop - spec.start)
        self.raw = np.empty(size * self.dtype.itemsize, dtype=np.uint8)
        self.n_slots = int(spec.runs.slots.max()) + 1
        self.newly = np.zeros(self.n_slots, dtype=np.int64)
        self.tracking = spec.learned_p is not None
        if self.tracking:
            self.threshold = math.log(spec.learned_p)
            # float16 keys of values above the threshold: +0 (key 0) and the negatives whose key is
            # below the first key valued <= threshold (negative keys grow more negative). The
            # positive keys in between are invalid values, which stop the pass anyway.
            negative = np.arange(0x8000, N_KEYS)
            below = negative[self.codec.values[negative] <= self.threshold]
            self.key_limit = int(below[0])  # log(learned_p) > the most negative float16
            self.flags = np.empty(size, dtype=np.uint16) if self.dtype != np.float16 else None
            self.seen = np.zeros(spec.stop - spec.start, dtype=bool)

    def count_step(self, position: int, out: np.ndarray) -> np.ndarray | None:
        """Add the key histograms of the step at `position` into `out` (uint32, `n_slots` x
        N_KEYS, this lane's own, zeroed by the caller) and return the tokens first learned at
        this step per slot (N_SLOTS of them; None when not tracking).

        Steps must come in order (0, 1, ...): "learned" means learned at this step or before.
        Raises `InvalidValue` at the lane's first bad value, `InputError` if the file cannot be
        read.
        """
        spec = self.spec
        self.newly[:] = 0
        with self._reader(position) as reader:
            for start in range(spec.start, spec.stop, spec.window_tokens):
                stop = min(spec.stop, start + spec.window_tokens)
                raw = reader.read(start, stop, self.raw)
                keys = self.codec.keys(raw)
                if self.tracking:
                    learn_keys, limit = self._learn_keys(raw, keys)
                    seen = self.seen[start - spec.start : stop - spec.start]
                    count(spec.kernel, keys, start, spec.runs, out, learn_keys, limit, seen, self.newly)
                else:
                    count(spec.kernel, keys, start, spec.runs, out)
            if self.codec.has_invalid(out):
                raise InvalidValue(position, self._first_invalid(reader))
        if not self.tracking:
            return None
        newly = np.zeros(N_SLOTS, dtype=np.int64)
        newly[: self.n_slots] = self.newly
        return newly

    def _reader(self, position: int) -> StepReader:
        path, data_offset = self.spec.files[position]
        return StepReader(path, data_offset, self.dtype, self.spec.n_tokens)

    def _learn_keys(self, raw: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, int]:
        """What the kernel compares to a limit for p > learned_p, exact for every dtype: the
        float16 keys themselves, or 0 (learned) / 1 from the float32/float64 values."""
        if self.flags is None:
            return keys, self.key_limit
        flags = self.flags[: keys.size]
        np.less_equal(raw, raw.dtype.type(self.threshold), out=flags, casting="unsafe")
        return flags, 1

    def _first_invalid(self, reader: StepReader) -> int:
        """The lane's first bad token at this step (re-read: the slow path of a failing pass)."""
        spec = self.spec
        for start in range(spec.start, spec.stop, spec.window_tokens):
            stop = min(spec.stop, start + spec.window_tokens)
            raw = reader.read(start, stop, self.raw)
            bad = invalid_positions(raw)
            if bad.size:
                return start + int(bad[0])
        raise AssertionError("an invalid key was counted but no invalid value is left to find")
