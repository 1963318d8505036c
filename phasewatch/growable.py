"""A 1-d numpy array that grows at the end, for stores that collect millions of values.

Growing by half (a third unused at most, on average) copies each value O(1) times; large
buffers are allocated so the kernel maps them lazily, and their untouched tail costs address
space, not memory.
"""

from __future__ import annotations

import numpy as np

# Past 1 MB a buffer jumps to 33 MB, above glibc's largest mmap threshold (32 MB): such
# blocks come straight from the kernel (their untouched tail is not resident) and go back to
# it when freed. Grown on the heap instead, the buffers a metric outgrew stayed resident: a
# 2 GB log peaked at twice its data.
MMAP_BYTES = 33 << 20


class Growable:
    """A 1-d array that grows at the end (capacity x1.5: at most a third unused on average,
    and a tail that is never touched is not resident)."""

    __slots__ = ("data", "n")

    def __init__(self, first: np.ndarray):
        self.data = first
        self.n = first.size

    def append(self, more: np.ndarray) -> None:
        need = self.n + more.size
        if need > self.data.size:
            capacity = max(need, self.data.size + self.data.size // 2)
            if capacity * self.data.itemsize > 1 << 20:
                capacity = max(capacity, MMAP_BYTES // self.data.itemsize)
            grown = np.empty(capacity, dtype=self.data.dtype)
            grown[:self.n] = self.data[:self.n]
            self.data = grown
        self.data[self.n:need] = more
        self.n = need

    def view(self) -> np.ndarray:
        return self.data[:self.n]
