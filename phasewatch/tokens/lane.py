"""One lane of the summary pass: a fixed range of token windows, counted at every step in order.

Why lanes: a lane owns its windows for the whole pass, so its "learned at" state (one bool per
token of its range, plus per-window counts) is its alone, and its updates come in step order by
construction: no lock, no ordering between workers. The pass runs one lane holding every window
in process (small stores, workers=1), or one lane per thread (`lane_pool`); both run
this code, so both give the same integers.

Per window and step: one `pread` into a reused buffer, 16-bit keys, one `np.bincount` over all
the window's tokens (the cost floor, ~1.9 ms per 2^20 tokens), a check of the invalid keys on
that histogram, a `np.bincount` of each minority slot (subtracted from the total), and the
learned-at update (an in-place OR and counts). Never a float64 copy, never a loop over tokens.

Light on purpose: numpy and small phasewatch modules, no pandas.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from phasewatch.errors import InputError
from phasewatch.tokens.keys import N_KEYS, codec_for
from phasewatch.tokens.stats import N_SLOTS
from phasewatch.tokens.windows import TokenWindow, cut_windows


class InvalidValue(Exception):
    """The first NaN, infinite or positive log-prob of a lane in the step file at `position`.

    Carries numbers only: the pass turns it into the `InputError` naming file, step, token and
    sequence (it has the store's index; a worker does not), the same whichever lane found it.
    """

    def __init__(self, position: int, token: int):
        super().__init__(position, token)
        self.position, self.token = position, token

    def to_dict(self) -> dict:
        return {"position": self.position, "token": self.token}

    @classmethod
    def from_dict(cls, data: dict) -> InvalidValue:
        return cls(int(data["position"]), int(data["token"]))


def invalid_positions(values: np.ndarray) -> np.ndarray:
    """Positions of the NaN, infinite and positive values."""
    return np.flatnonzero(~(values <= 0) | np.isinf(values))


@dataclass(frozen=True)
class LaneSpec:
    """What a lane needs, all plain data (it crosses to a worker as JSON plus one int64 array)."""

    files: list[tuple[str, int]]
    """(path, byte offset of the data) of each step file, in step order."""
    dtype: str
    n_tokens: int
    start: int
    stop: int
    """The lane's tokens: `[start, stop)`, a whole number of windows."""
    window_tokens: int
    segments: np.ndarray
    """`(a, b, slot)` rows covering at least `[start, stop)` (see `windows.slot_segments`)."""
    learned_p: float | None
    """Track "learned at" (p > learned_p), or None not to."""


def read_window(path: str, data_offset: int, dtype: np.dtype, n_tokens: int, start: int, stop: int,
                out: np.ndarray) -> np.ndarray:
    """Copy the values of tokens `[start, stop)` of a step file into `out` (bytes, reused).

    `pread` into a reused buffer rather than a memory map per window: a fresh mapping costs a
    page fault per 4 KB (512 per window) and, with threads, every mmap/munmap took the address-
    space lock the others' page faults needed (measured: 2 threads 0.95 -> 1.08 GB/s). Nothing
    past the file's end is read: a file truncated after the store was opened is an InputError.
    """
    n_bytes = (stop - start) * dtype.itemsize
    if not 0 <= start <= stop <= n_tokens or out.nbytes < n_bytes:
        raise IndexError(f"token window [{start}, {stop}) outside [0, {n_tokens}) or larger than the buffer")
    view = memoryview(out).cast("B")[:n_bytes]
    try:
        with open(path, "rb", buffering=0) as fh:
            got = os.preadv(fh.fileno(), [view], data_offset + start * dtype.itemsize)
    except OSError as exc:
        raise InputError(f"cannot read tokens [{start}, {stop}): {exc}", path) from exc
    if got != n_bytes:
        raise InputError(
            f"cannot read tokens [{start}, {stop}): the file ends {n_bytes - got} bytes early; it "
            "changed or was truncated after the store was opened", path,
        )
    return out.view(np.uint8)[:n_bytes].view(dtype)


class Lane:
    """Counts the lane's windows at one step after another (see the module docstring)."""

    def __init__(self, spec: LaneSpec):
        self.spec = spec
        self.dtype = np.dtype(spec.dtype)
        self.codec = codec_for(self.dtype.name)
        self.windows = cut_windows(spec.segments, spec.start, spec.stop, spec.window_tokens)
        size = max((w.stop - w.start for w in self.windows), default=0)
        self.raw = np.empty(size * self.dtype.itemsize, dtype=np.uint8)
        # np.bincount converts its input to intp: doing it into a reused buffer spares a fresh
        # 8 MB array per window, which the allocator may return to the OS and fault in again.
        self.wide = np.empty(size, dtype=np.intp)
        self.tracking = spec.learned_p is not None
        if self.tracking:
            self.threshold = math.log(spec.learned_p)
            # float16 keys of values above the threshold: +0 (key 0) and the negatives whose key is
            # below the first key valued <= threshold (negative keys grow more negative).
            negative = np.arange(0x8000, N_KEYS)
            below = negative[self.codec.values[negative] <= self.threshold]
            self.key_limit = int(below[0]) if below.size else N_KEYS
            self.mask = np.empty(size, dtype=bool)
            self.seen = np.zeros(spec.stop - spec.start, dtype=bool)
            self.seen_counts = np.zeros((len(self.windows), N_SLOTS), dtype=np.int64)

    def count_step(self, position: int, out: np.ndarray) -> np.ndarray | None:
        """Add the key histograms of the step at `position` into `out` (N_SLOTS x N_KEYS, per slot)
        and return the tokens first learned at this step per slot (None when not tracking).

        Steps must come in order (0, 1, ...): "learned" means learned at this step or before.
        Raises `InvalidValue` at the first window holding a bad value, `InputError` if the file
        cannot be read.
        """
        path, data_offset = self.spec.files[position]
        newly = np.zeros(N_SLOTS, dtype=np.int64) if self.tracking else None
        for i, window in enumerate(self.windows):
            raw = read_window(path, data_offset, self.dtype, self.spec.n_tokens, window.start,
                              window.stop, self.raw)
            keys = self.codec.keys(raw)
            wide = self.wide[: keys.size]
            np.copyto(wide, keys, casting="unsafe")
            total = np.bincount(wide, minlength=N_KEYS)
            if self.codec.has_invalid(total):
                raise InvalidValue(position, window.start + int(invalid_positions(raw)[0]))
            if newly is not None and self._any_learned(total):
                newly += self._learn(i, window, raw, keys)
            for part in window.others:
                counts = np.bincount(part.gather(keys, wide), minlength=N_KEYS)
                total -= counts
                out[part.slot] += counts
            out[window.largest] += total
        return newly

    def _any_learned(self, total: np.ndarray) -> bool:
        """Whether a window's histogram has keys above the learned threshold (else skip it)."""
        if self.dtype != np.float16:
            return True  # bfloat16 keys are not exact at the threshold: compare the values
        return bool(total[0] or total[0x8000 : self.key_limit].any())

    def _learn(self, i: int, window: TokenWindow, raw: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """OR this step's learned tokens into the window's `seen` and return the newly learned per
        slot (count after minus count before: no per-token "new" array)."""
        mask = self.mask[: keys.size]
        if self.dtype == np.float16:
            np.less(keys, self.key_limit, out=mask)
        else:  # exact values (float32 / float64)
            np.greater(raw, raw.dtype.type(self.threshold), out=mask)
        seen = self.seen[window.start - self.spec.start : window.stop - self.spec.start]
        np.bitwise_or(seen, mask, out=seen)
        counts = np.zeros(N_SLOTS, dtype=np.int64)
        rest = int(np.count_nonzero(seen))
        for part in window.others:
            counts[part.slot] = part.count(seen, mask)  # the mask is no longer needed
            rest -= counts[part.slot]
        counts[window.largest] = rest
        newly = counts - self.seen_counts[i]
        self.seen_counts[i] = counts
        return newly
