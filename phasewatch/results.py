"""Result types shared by the detector, the reports, the figures and the live monitor.

`to_dict()` gives exactly the JSON shapes of DESIGN.md (without `schema_version`, which the
writer adds once per document).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PHASE_NAMES = ("disruption", "readaptation", "improvement", "plateau", "overfit")


@dataclass(frozen=True)
class ChangePoint:
    """A boundary at `step`, with the interval [low, high] the data cannot tell apart."""

    step: int
    low: int
    high: int

    def to_dict(self) -> dict[str, int]:
        return {"step": int(self.step), "low": int(self.low), "high": int(self.high)}


@dataclass
class Phase:
    """A named stretch of the run; `stats` holds its effect sizes (depth, gain, slope...)."""

    name: str
    start_step: int
    end_step: int
    stats: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in PHASE_NAMES:
            raise ValueError(f"unknown phase name {self.name!r}; expected one of {PHASE_NAMES}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "start_step": int(self.start_step),
                "end_step": int(self.end_step), **self.stats}


@dataclass
class Analysis:
    """What `analyze` found in one run's performance series."""

    source: str
    metric: str
    direction: str
    baseline: float | None
    changepoints: list[ChangePoint]
    phases: list[Phase]
    recommended_stop_step: int | None
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    saved_checkpoint: Any = None
    """In a Hugging Face output folder: the `saved_checkpoints.SavedCheckpoint` to load (set by
    `analyze`; JSON `saved_checkpoint`, null when none is left), else None (no such key)."""
    run_notes: list[str] = field(default_factory=list)
    """The warnings on the run beside the series (the Trainer's best checkpoint that is its
    worst evaluation, a train loss that diverged), as `analyze_run` words them: a watch's
    whole-run summary says them from here. In the JSON they are among the `warnings`."""

    @property
    def stage_switch_steps(self) -> list[int]:
        """Where a joined SFT-then-RL run's RL stage begins (its `sft_to_rl` events, also where
        the series lies in one stage: `stage_only`): tables of several runs say it, as a "how
        long should SFT be" comparison needs (trial 37)."""
        known = self.extra.get("events", []) + self.extra.get("stage_only", [])  # split or not
        return sorted({e["step"] for e in known if e["name"] == "sft_to_rl"})

    @property
    def value_word(self) -> str:
        """What one value of the series is, in the text: "reading" for a series scored on the
        training batches (a train loss or reward, `train_metric`), else "evaluation"."""
        return "reading" if self.extra.get("train_metric") else "evaluation"

    def to_dict(self) -> dict[str, Any]:
        saved = self.saved_checkpoint
        return {
            "source": self.source,
            "metric": self.metric,
            "direction": self.direction,
            "baseline": self.baseline,
            "changepoints": [c.to_dict() for c in self.changepoints],
            "phases": [p.to_dict() for p in self.phases],
            "recommended_stop_step": self.recommended_stop_step,
            "warnings": list(self.warnings),
            **self.extra,
            **({} if saved is None else {"saved_checkpoint": saved.to_dict()}),
        }


def too_few_to_name(analysis: Analysis) -> str | None:
    """'one evaluation: no phases' or 'two evaluations: too few to name a phase' for a series of
    one or two readings, else None. `short_series` gives such a series one plateau for want of
    evidence (the JSON keeps it, `not_established`); printed as a row, 'plateau 10 -> 10, change
    +0' read as a finding about a run nothing can be found of."""
    n = sum(int(phase.stats.get("n_points", 0)) for phase in analysis.phases)
    if not analysis.phases or n > 2:
        return None
    word = analysis.value_word
    return f"one {word}: no phases" if n == 1 else f"two {word}s: too few to name a phase"


def not_established(analysis: Analysis, phase: Phase) -> bool:
    """A short series' plateau that moved (`short_series`): a few points cannot tell that move
    from noise, nor the flat level from a trend, which the text, the comparison table, the CSV
    and the figure all say."""
    return ("trend_test" in analysis.extra and phase.name == "plateau"
            and bool(phase.stats.get("change")))
