"""The numpy pass's counting of one window of keys: histograms per slot and the learned-at flags.

`count_numpy(keys, first, runs, hist, learn_keys, limit, seen, newly)` adds, for the tokens
`[first, first + keys.size)`, one to `hist[slot, key]` per token (the slot from the runs of
tokens sharing a split) and, when tracking "learned at", sets `seen` where `learn_keys < limit`
(learned at this step) and adds the tokens it newly set to `newly[slot]`. float16 stores pass
their keys as `learn_keys` (a value above the threshold has a key below a limit), float32 ones
a 0/1 array from the exact values with limit 1.

It is the twin of the compiled pass (`_count.c`), which does the same counting fused with the
read and the reduction; the numpy pass runs it when the extension was not built (no C compiler
at install time). The tests compare both with a token-by-token reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def count_numpy(keys: np.ndarray, first: int, runs: Runs, hist: np.ndarray,
                learn_keys: np.ndarray | None = None, limit: int = 0, seen: np.ndarray | None = None,
                newly: np.ndarray | None = None) -> None:
    """One bincount over `slot << 16 | key` (see the module docstring)."""
    n_slots = hist.shape[0]
    run_slots, lengths = runs.window(first, first + keys.size)
    if lengths.sum() != keys.size or (run_slots.size and int(run_slots.max()) >= n_slots):
        raise ValueError("count: the runs do not cover the keys' tokens with slots below n_slots")
    slot = np.repeat(run_slots, lengths)
    combined = slot.astype(np.intp) << 16
    combined |= keys
    counts = np.bincount(combined, minlength=n_slots * (1 << 16)).reshape(n_slots, 1 << 16)
    np.add(hist, counts, out=hist, casting="unsafe")
    if learn_keys is not None:
        learned = learn_keys < limit
        fresh = learned & ~seen
        seen |= learned
        if newly is not None:
            newly += np.bincount(slot[fresh], minlength=n_slots)
