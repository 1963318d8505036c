"""Token windows: how the summary pass cuts each step file, and which split each token is in.

Light on purpose (numpy and two constant modules): worker processes import it without pandas
(see `lane_pool`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from phasewatch.tokens.stats import NO_SPLIT
from phasewatch.tokens.writer import SPLITS

if TYPE_CHECKING:
    from phasewatch.tokens.store import TokenStore

#: Selecting one slice costs Python-level overhead of about as much as this many tokens of
#: boolean-mask work (measured: ~0.9 us per slice for gather + count vs ~0.4 ns per token), so a
#: slot in more pieces than (window tokens / this) is selected with a mask of the window (one
#: byte per token, built once) rather than slice by slice.
SLICE_COST_TOKENS = 2048


@dataclass(frozen=True)
class SlotPart:
    """The tokens of one slot in a window: slices relative to the window's start, or a boolean
    mask over the window when they are in many pieces (see `SLICE_COST_TOKENS`)."""

    slot: int
    where: tuple[slice, ...] | np.ndarray
    size: int

    @classmethod
    def of(cls, slot: int, parts: list[slice], window_size: int) -> SlotPart:
        size = sum(s.stop - s.start for s in parts)
        if len(parts) <= 8 or len(parts) * SLICE_COST_TOKENS <= window_size:
            return cls(slot, tuple(parts), size)
        mask = np.zeros(window_size, dtype=bool)
        for s in parts:
            mask[s] = True
        return cls(slot, mask, size)

    def gather(self, values: np.ndarray, out: np.ndarray) -> np.ndarray:
        """This slot's values, copied (and cast) into `out[:size]` (a reused buffer: no fresh
        array per window, whose pages the allocator may hand back and fault in again)."""
        dest = out[: self.size]
        if isinstance(self.where, np.ndarray):
            np.copyto(dest, values[self.where], casting="unsafe")
        elif len(self.where) == 1:
            np.copyto(dest, values[self.where[0]], casting="unsafe")
        else:
            np.concatenate([values[s] for s in self.where], out=dest, casting="unsafe")
        return dest

    def count(self, flags: np.ndarray, scratch: np.ndarray) -> int:
        """How many of this slot's tokens are set in `flags` (bools over the window); `scratch`
        is a bool buffer at least as long as the window (one C call, not one per slice)."""
        if isinstance(self.where, np.ndarray):
            return int(np.count_nonzero(np.logical_and(flags, self.where, out=scratch[: flags.size])))
        if len(self.where) == 1:
            return int(np.count_nonzero(flags[self.where[0]]))
        return int(np.count_nonzero(np.concatenate([flags[s] for s in self.where], out=scratch[: self.size])))


@dataclass(frozen=True)
class TokenWindow:
    """One window of tokens `[start, stop)` and how its tokens fall into slots.

    The slot with the most tokens here (`largest`) is never gathered: its counts are the
    window's total minus the other slots', so a window costs about one pass over its tokens.
    """

    start: int
    stop: int
    largest: int
    others: tuple[SlotPart, ...]
    """Every other slot present in the window."""

    @classmethod
    def from_pieces(cls, start: int, stop: int, pieces: list[tuple[int, int, int]]) -> TokenWindow:
        slices: dict[int, list[slice]] = {}
        for a, b, slot in pieces:
            slices.setdefault(slot, []).append(slice(a - start, b - start))
        sizes = {slot: sum(s.stop - s.start for s in parts) for slot, parts in slices.items()}
        largest = max(sizes, key=sizes.__getitem__)
        others = tuple(SlotPart.of(slot, parts, stop - start) for slot, parts in slices.items() if slot != largest)
        return cls(start, stop, largest, others)


def slot_segments(store: TokenStore) -> np.ndarray:
    """`(a, b, slot)` rows (int64) covering `[0, n_tokens)` in token order: the split of every
    token, with tokens in no sequence in the `NO_SPLIT` slot."""
    slot_of = {split: i for i, split in enumerate(SPLITS)}
    rows: list[tuple[int, int, int]] = []
    cursor = 0
    for a, b, split in store.segments:
        if a > cursor:
            rows.append((cursor, a, NO_SPLIT))
        rows.append((a, b, slot_of[split]))
        cursor = b
    if cursor < store.n_tokens:
        rows.append((cursor, store.n_tokens, NO_SPLIT))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 3)


def cut_windows(segments: np.ndarray, start: int, stop: int, size: int) -> list[TokenWindow]:
    """Tokens `[start, stop)` cut into windows of `size` tokens (the last may be shorter), each
    with its slots; `segments` as from `slot_segments` (rows outside the range are ignored)."""
    plan = []
    starts = segments[:, 0]
    for w_start in range(start, stop, size):
        w_stop = min(stop, w_start + size)
        first = int(np.searchsorted(starts, w_start, side="right")) - 1
        last = int(np.searchsorted(starts, w_stop, side="left"))
        pieces = [(max(a, w_start), min(b, w_stop), slot) for a, b, slot in segments[first:last].tolist()]
        plan.append(TokenWindow.from_pieces(w_start, w_stop, pieces))
    return plan


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
