"""Token windows: how the summary pass cuts each step file, and which split each token is in."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from phasewatch.tokens.stats import NO_SPLIT
from phasewatch.tokens.store import TokenStore
from phasewatch.tokens.writer import SPLITS


@dataclass(frozen=True)
class TokenWindow:
    """One memory-mapped window of tokens `[start, stop)` and how its tokens fall into slots.

    The slot with the most tokens here (`largest`) is never gathered: its counts are the
    window's total minus the other slots', so a window costs about one pass over its tokens.
    """

    start: int
    stop: int
    largest: int
    others: tuple[tuple[int, tuple[slice, ...]], ...]
    """(slot, slices relative to `start`) of every other slot present in the window."""

    @classmethod
    def from_pieces(cls, start: int, stop: int, pieces: list[tuple[int, int, int]]) -> TokenWindow:
        slices: dict[int, list[slice]] = {}
        for a, b, slot in pieces:
            slices.setdefault(slot, []).append(slice(a - start, b - start))
        sizes = {slot: sum(s.stop - s.start for s in parts) for slot, parts in slices.items()}
        largest = max(sizes, key=sizes.__getitem__)
        others = tuple((slot, tuple(parts)) for slot, parts in slices.items() if slot != largest)
        return cls(start, stop, largest, others)

    @staticmethod
    def gather(values: np.ndarray, slices: tuple[slice, ...]) -> np.ndarray:
        return values[slices[0]] if len(slices) == 1 else np.concatenate([values[s] for s in slices])


def window_plan(store: TokenStore, chunk_tokens: int) -> list[TokenWindow]:
    """The store's tokens cut into windows of `chunk_tokens`, each with its slots."""
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
        plan.append(TokenWindow.from_pieces(start, stop, pieces))
    return plan
