"""When expert tokens are learned: the first stored step at which p > learned_p."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from phasewatch.tokens.stats import N_SLOTS, SummaryConfig, quantile_label
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
    """How many tokens of each slot were first learned (p > learned_p) at each step position.

    A token's "learned at" step is the first stored step where its p > learned_p (a later fall
    below does not undo it); the first stored step counts as "known at start". The per-token
    state (1 bool per token) lives in the lanes of the pass (`lane.Lane`), each owning its
    tokens across all steps; the tracker only receives each step's counts, per slot.
    """

    def __init__(self, n_tokens: int):
        self.n_tokens = n_tokens
        self.newly: dict[int, np.ndarray] = {}  # step position -> newly learned tokens per slot

    def record(self, position: int, newly: np.ndarray) -> None:
        """The tokens first learned at the step at `position`, per slot (all lanes together)."""
        self.newly[position] = np.asarray(newly, dtype=np.int64)

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
