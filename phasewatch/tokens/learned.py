"""When expert tokens are learned: the first stored step at which p > learned_p."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from phasewatch.tokens.layout import SPLITS
from phasewatch.tokens.stats import N_SLOTS, SummaryConfig, quantile_label


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
    state (1 byte per token) lives in the pass, which counts in step order; the tracker only
    receives each step's counts, per slot.
    """

    def __init__(self, n_tokens: int):
        self.n_tokens = n_tokens
        self.newly: dict[int, list[int]] = {}  # step position -> newly learned tokens per slot

    def record(self, position: int, newly: Sequence[int]) -> None:
        """The tokens first learned at the step at `position`, per slot."""
        self.newly[position] = [int(x) for x in newly]

    def newly_learned(self, position: int) -> list[int]:
        """Tokens first learned at this step position, per slot."""
        return self.newly.get(position, [0] * N_SLOTS)

    def distribution(
        self, split_tokens: dict[str, int], steps: Sequence[int], config: SummaryConfig
    ) -> dict[str, LearnedAt]:
        steps = [int(s) for s in steps]
        per_step = [self.newly_learned(k) for k in range(len(steps))]
        out = {}
        for slot, split in enumerate(SPLITS):
            if split not in split_tokens:
                continue
            n = split_tokens[split]
            counts = [row[slot] for row in per_step]
            during = counts[1:]
            n_during = sum(during)
            cumulative = list(itertools.accumulate(during))
            quantiles: dict[str, int | None] = {}
            for q in config.quantiles:
                if n_during == 0:
                    quantiles[quantile_label(q)] = None
                    continue
                rank = round((n_during - 1) * q)  # np.quantile(method="nearest"): half to even, as np.rint
                quantiles[quantile_label(q)] = steps[1 + bisect.bisect_right(cumulative, rank)]
            known = counts[0] if counts else 0
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
