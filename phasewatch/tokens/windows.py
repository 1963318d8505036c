"""Which slot (split) each token is in, and how the summary pass splits the tokens into lanes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from phasewatch.tokens.counting import Runs
from phasewatch.tokens.stats import NO_SPLIT
from phasewatch.tokens.writer import SPLITS

if TYPE_CHECKING:
    from phasewatch.tokens.store import TokenStore


def slot_runs(store: TokenStore) -> Runs:
    """The runs of tokens sharing a slot, covering `[0, n_tokens)` in token order; tokens in no
    sequence are in the `NO_SPLIT` slot. Built once per pass from the store's segments."""
    slot_of = {split: i for i, split in enumerate(SPLITS)}
    ends: list[int] = []
    slots: list[int] = []

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
    return Runs(np.asarray(ends, dtype=np.int64), np.asarray(slots, dtype=np.uint8))


def lane_ranges(n_tokens: int, lanes: int, chunk_tokens: int) -> tuple[list[tuple[int, int]], int]:
    """Split `[0, n_tokens)` into `lanes` contiguous token ranges of whole windows, as equal as
    windows allow, and the window size: at most `chunk_tokens`, shrunk so that every lane gets
    the same number of windows (give or take one) of about the same size.

    Returns `(ranges, window_size)`; fewer ranges than `lanes` when there are fewer tokens.
    """
    per_lane = -(-n_tokens // (lanes * chunk_tokens))  # windows per lane
    size = max(1, -(-n_tokens // (lanes * per_lane)))
    n_windows = -(-n_tokens // size)
    groups = np.array_split(np.arange(n_windows), min(lanes, n_windows))
    ranges = [(int(g[0]) * size, min(n_tokens, (int(g[-1]) + 1) * size)) for g in groups]
    return ranges, size
