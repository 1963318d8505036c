"""Counting one window of keys: histograms per slot and the learned-at flags, compiled or numpy.

`count(kernel, keys, first, runs, hist, learn_keys, limit, seen, newly)` adds, for the tokens
`[first, first + keys.size)`, one to `hist[slot, key]` per token (the slot from the runs of
tokens sharing a split) and, when tracking "learned at", sets `seen` where `learn_keys < limit`
(learned at this step) and adds the tokens it newly set to `newly[slot]`. float16 stores pass
their keys as `learn_keys` (a value above the threshold has a key below a limit), float32 ones
a 0/1 array from the exact values with limit 1.

Why a compiled kernel (`_count.c`, built by `pip install` when a C compiler is there): the
numpy way needs `np.bincount`, which costs 2.7x the kernel per token for one split alone
(benchmarks/profile_tokens.py) and holds the GIL, so lane threads run it one at a time, plus a
gather per minority split. The kernel counts every slot in one pass over the window with the
GIL released. numba would compile the same loop, but its import and the first call of a cached
kernel took longer than the whole command (benchmarks/bench_tokens.py --numba).

The numpy twin computes the same integers (tests compare them on random windows); it runs, more
slowly, when the extension was not built (no compiler at install time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phasewatch.tokens.keys import N_KEYS

try:
    from phasewatch.tokens._count import count as _compiled_count
except ImportError:  # built without a C compiler: the numpy twin does the same work
    _compiled_count = None

KERNELS = ("auto", "compiled", "numpy")


@dataclass(frozen=True)
class Runs:
    """Maximal runs of consecutive tokens sharing a slot: run i is `[ends[i-1], ends[i])`
    (run 0 starts at token 0) and its tokens are in slot `slots[i]`."""

    ends: np.ndarray  # int64, ascending
    slots: np.ndarray  # uint8

    def window(self, first: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Slot of every run meeting `[first, stop)` and its length inside that range."""
        i = int(np.searchsorted(self.ends, first, side="right"))
        j = int(np.searchsorted(self.ends, stop, side="left")) + 1
        bounds = np.minimum(self.ends[i:j], stop) - first
        return self.slots[i:j], np.diff(bounds, prepend=0)


def compiled_available() -> bool:
    return _compiled_count is not None


def resolve(kernel: str) -> str:
    """"auto" -> "compiled" when the extension is built, else "numpy"."""
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    if kernel == "auto":
        return "compiled" if _compiled_count is not None else "numpy"
    if kernel == "compiled" and _compiled_count is None:
        raise ValueError(
            "the compiled counting kernel is not built (phasewatch/tokens/_count.c); reinstall "
            "with a C compiler present (`pip install -e .`), or use kernel='numpy'"
        )
    return kernel


def count(kernel: str, keys: np.ndarray, first: int, runs: Runs, hist: np.ndarray,
          learn_keys: np.ndarray | None = None, limit: int = 0, seen: np.ndarray | None = None,
          newly: np.ndarray | None = None) -> None:
    """Count a window with the kernel named ("compiled" or "numpy"; see `resolve`).

    `keys` and `learn_keys` uint16, `hist` uint32 (n_slots, 65536; the caller keeps it under
    2**32 tokens), `seen` a bool array as long as `keys` (None with `learn_keys`), `newly` int64
    (n_slots,), `limit` a 16-bit key.
    """
    if newly is None:
        newly = np.zeros(hist.shape[0], dtype=np.int64)
    if hist.dtype != np.uint32:
        raise TypeError(f"count: hist must be uint32, got {hist.dtype}")
    if kernel == "compiled":
        _compiled_count(keys, first, runs.ends, runs.slots, hist, learn_keys, limit, seen, newly)
    else:
        count_numpy(keys, first, runs, hist, learn_keys, limit, seen, newly)


def count_numpy(keys: np.ndarray, first: int, runs: Runs, hist: np.ndarray,
                learn_keys: np.ndarray | None, limit: int, seen: np.ndarray | None,
                newly: np.ndarray) -> None:
    """The kernel in numpy: one bincount over `slot << 16 | key`."""
    n_slots = hist.shape[0]
    run_slots, lengths = runs.window(first, first + keys.size)
    if lengths.sum() != keys.size or (run_slots.size and int(run_slots.max()) >= n_slots):
        raise ValueError("count: the runs do not cover the keys' tokens with slots below n_slots")
    slot = np.repeat(run_slots, lengths)
    combined = slot.astype(np.intp) << 16
    combined |= keys
    counts = np.bincount(combined, minlength=n_slots * N_KEYS).reshape(n_slots, N_KEYS)
    np.add(hist, counts, out=hist, casting="unsafe")
    if learn_keys is not None:
        learned = learn_keys < limit
        fresh = learned & ~seen
        seen |= learned
        newly += np.bincount(slot[fresh], minlength=n_slots)
