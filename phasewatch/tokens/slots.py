"""Which slot (split) each token is in: the runs of consecutive tokens sharing one, from the index.

Slot i is `SPLITS[i]`; tokens in no sequence are in the `NO_SPLIT` slot (validated, then
dropped). An interleaved store (every fifth sequence held out) has one run per sequence or so,
a contiguous one a run per split: either way a few numbers per sequence, not per token.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

from phasewatch.tokens.layout import SPLITS
from phasewatch.tokens.stats import NO_SPLIT

if TYPE_CHECKING:
    from phasewatch.tokens.store import TokenStore


def slot_runs(store: TokenStore) -> tuple[array, array]:
    """`(ends, slots)`: run i covers tokens `[ends[i-1], ends[i])` (run 0 starts at 0) in slot
    `slots[i]`; the runs cover `[0, n_tokens)`. int64 and uint8 arrays (buffers for the C pass,
    `np.frombuffer` for the numpy one)."""
    slot_of = {split: i for i, split in enumerate(SPLITS)}
    ends = array("q")
    slots = array("B")

    def add(end: int, slot: int) -> None:
        if slots and slots[-1] == slot:
            ends[-1] = end
        else:
            ends.append(end)
            slots.append(slot)

    cursor = 0
    for a, b, split in store.segments:
        if a > cursor:
            add(a, NO_SPLIT)
        add(b, slot_of[split])
        cursor = b
    if cursor < store.n_tokens:
        add(store.n_tokens, NO_SPLIT)
    return ends, slots
