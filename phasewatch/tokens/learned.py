"""When expert tokens are learned: the first stored step at which p > learned_p."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from phasewatch.tokens.stats import N_SLOTS, SummaryConfig, quantile_label
from phasewatch.tokens.windows import TokenWindow
from phasewatch.tokens.writer import SPLITS


@dataclass
class LearnedAt:
    """When tokens of one split first reach p > learned_p, over the stored steps."""

    split: str
    n_tokens: int
    known_at_start_share: float
    learned_during_share: float
    never_learned_share: float
    step_quantiles: dict[str, int | None]
    """Quantiles of the step at which tokens learned during training were learned (an actual
    stored step: the nearest order statistic), None when no token was learned during training."""

    def to_dict(self) -> dict:
        out = asdict(self)
        out.pop("split")
        return out


class LearnedAtTracker:
    """Which tokens have reached p > learned_p so far, and how many did so first at each step.

    1 byte per token: the only state that grows with the store, and it grows with the tokens per
    step, not with the number of steps. A token's "learned at" step is the first stored step where
    its p > learned_p (a later fall below does not undo it); the first stored step counts as
    "known at start". Updates of one token window must arrive in step order (the pass sees to it).

    Per window it keeps how many tokens of each slot have been seen learned, so an update is one
    in-place OR and a count (newly learned = count after - count before), never a per-token
    "learned now but not before" array.
    """

    def __init__(self, n_tokens: int):
        self.seen = np.zeros(n_tokens, dtype=bool)
        self.newly: dict[int, np.ndarray] = {}  # step position -> newly learned tokens per slot
        self.seen_per_window: dict[int, np.ndarray] = {}  # window start -> seen tokens per slot
        self._lock = threading.Lock()

    def update(self, position: int, window: TokenWindow, learned: np.ndarray) -> None:
        """Add the step at `position`'s learned mask of `window` (in step order per window)."""
        seen = self.seen[window.start : window.stop]
        np.bitwise_or(seen, learned, out=seen)
        counts = np.zeros(N_SLOTS, dtype=np.int64)
        rest = np.count_nonzero(seen)
        for slot, slices in window.others:
            counts[slot] = sum(np.count_nonzero(seen[s]) for s in slices)
            rest -= counts[slot]
        counts[window.largest] = rest
        before = self.seen_per_window.get(window.start)
        self.seen_per_window[window.start] = counts
        newly = counts if before is None else counts - before
        with self._lock:
            if position in self.newly:
                self.newly[position] += newly
            else:
                self.newly[position] = newly.copy()

    def newly_learned(self, position: int) -> np.ndarray:
        """Tokens first learned at this step position, per slot."""
        return self.newly.get(position, np.zeros(N_SLOTS, dtype=np.int64))

    def distribution(
        self, split_tokens: dict[str, int], steps: Sequence[int], config: SummaryConfig
    ) -> dict[str, LearnedAt]:
        steps = np.asarray(steps, dtype=np.int64)
        per_step = np.asarray([self.newly_learned(k) for k in range(steps.size)]).reshape(-1, N_SLOTS)
        out = {}
        for slot, split in enumerate(SPLITS):
            if split not in split_tokens:
                continue
            n = split_tokens[split]
            counts = per_step[:, slot]
            during = counts[1:]
            n_during = int(during.sum())
            cumulative = np.cumsum(during)
            quantiles: dict[str, int | None] = {}
            for q in config.quantiles:
                if n_during == 0:
                    quantiles[quantile_label(q)] = None
                    continue
                rank = int(np.rint((n_during - 1) * q))  # np.quantile(method="nearest")
                quantiles[quantile_label(q)] = int(steps[1 + np.searchsorted(cumulative, rank, side="right")])
            known = int(counts[0]) if counts.size else 0
            nan = float("nan")
            out[split] = LearnedAt(
                split=split,
                n_tokens=n,
                known_at_start_share=known / n if n else nan,
                learned_during_share=n_during / n if n else nan,
                never_learned_share=(n - known - n_during) / n if n else nan,
                step_quantiles=quantiles,
            )
        return out
