"""The planned run length, as the live monitor uses it (`MonitorConfig.planned_steps`).

A disruption is an *early* fall (DESIGN.md), and live the end of a fall from the start is not
yet known: a plan says what "early" is. It is the first `EARLY_FRACTION` of the run (of the
stage, after a known boundary): a fall from the start still going on after it is an overfit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import takewhile
from typing import TYPE_CHECKING

from phasewatch.planned import EARLY_FRACTION

if TYPE_CHECKING:
    from phasewatch.online.series import Series

__all__ = ["EARLY_FRACTION", "RunPlan"]


@dataclass(frozen=True)
class RunPlan:
    """A stage starting at `start` of a run planned to end at `planned` (> start)."""

    start: int
    planned: int

    @classmethod
    def of(cls, start: int | None, planned: int | None) -> RunPlan | None:
        """The plan, or None without one (or with one that ends before the stage starts)."""
        if start is None or planned is None or planned <= start:
            return None
        return cls(start, planned)

    def progress(self, step: int) -> float:
        """How much of the plan has passed at `step` (above 1 past it)."""
        return (step - self.start) / (self.planned - self.start)

    def after_early_part(self, step: int) -> bool:
        return self.progress(step) >= EARLY_FRACTION

    def step_at(self, fraction: float) -> float:
        """The step `fraction` of the plan has passed at (`progress`'s inverse)."""
        return self.start + fraction * (self.planned - self.start)

    def values_after(self, fraction: float, steps: Sequence[int]) -> int:
        """How many of `steps` (in order) come after `fraction` of the plan."""
        after = self.step_at(fraction)
        return sum(1 for _ in takewhile(lambda step: step > after, reversed(steps)))

    def falling_after(self, fraction: float, series: Series, exact: bool = False) -> bool:
        """The run is past its early part and the series' values after `fraction` of the plan
        still fall significantly (`Series.still_falling`, from 4 of them); with `exact`, or
        each of them (at least 4) is worse than the one before (`Series.worse_each_time`)."""
        if series.last_step is None or not self.after_early_part(series.last_step):
            return False
        m = self.values_after(fraction, series.steps)
        return series.still_falling(m) or (exact and series.worse_each_time(m))

    def evaluations(self, steps: Sequence[int]) -> float:
        """How many evaluations the plan holds at the mean cadence of `steps` (infinite with
        fewer than two)."""
        if len(steps) < 2 or steps[-1] <= steps[0]:
            return float("inf")
        return (self.planned - self.start) * (len(steps) - 1) / (steps[-1] - steps[0]) + 1
