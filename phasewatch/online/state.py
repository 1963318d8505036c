"""The monitor's saved state: explicit, versioned, plain JSON.

Each part of the monitor declares the fields it must keep to resume exactly, here, as a
dataclass; `to_dict` gives JSON types and `from_dict` reads this version and the ones before
it (version 1 kept the steps of only the last `window` values of a series, had no white-noise sd
and no stage/decline counters; version 2 had no `slow_fall`, which then starts False; version 3
had no `rise_scale`, which then starts 1, the noise versions 1-3 judged every decision by;
version 4 had no `short_streak`, which then starts 0; version 5 had no `last_near_start_step`,
which then starts unknown; version 6 had no `peak_checkpoint`, which then is the peak's step;
version 7 had no `stage_n`, which then starts None (one stage), and no `peak_values`, which
then start unknown; version 8 had no `late_fall`, which then starts False; version 9 had no
`window_logs`, which then starts 1, independent values, until the noise is next read;
version 10 had no `train_loss`, the train loss beside a held-out loss, which then starts
unknown; version 11 had no `at_evaluations` in it, its levels at the held-out evaluations,
which then start empty).
Unknown keys are ignored, missing ones take their defaults, so a state is never applied by
`setattr` over whatever a file holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

STATE_VERSION = 12
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
MEDIAN_SE = 1.2533141373155003  # sd of a sample median / (sigma / sqrt(n)) for normal data


def _known(cls, data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass
class SeriesState:
    """One metric's ring buffer (values oriented so higher is better, and their steps) and the
    scalars derived from it."""

    values: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    n: int = 0
    last_step: int | None = None
    first_step: int | None = None
    baseline: float | None = None
    baseline_n: int = 1
    baseline_se: float = 1.0  # se of the starting level / (sigma / sqrt(baseline_n))
    white: float | None = None
    sigma: float = 0.0
    caution: float = 1.0
    level: float | None = None
    level_step: int | None = None
    se_level: float = 0.0
    rise_scale: float = 1.0  # version 4
    stage_n: int | None = None  # values of the current training stage; None: one stage (8)
    window_logs: float = 1.0  # a running mean's window in logs; 1: independent values (10)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SeriesState:
        known = _known(cls, data)
        known.setdefault("baseline_se", MEDIAN_SE)  # version 1: the start was a median
        state = cls(**known)
        state.values, state.steps = list(state.values), list(state.steps)
        if len(state.steps) < len(state.values):
            # Version 1 kept the steps of only the last `window` values: keep the values whose
            # steps are known, so the two stay aligned.
            state.values = state.values[len(state.values) - len(state.steps):]
        if state.white is None:
            state.white = state.sigma
        return state


@dataclass
class TrackerState:
    """The phase state machine of one performance metric."""

    series: SeriesState = field(default_factory=SeriesState)
    phase: str | None = None
    peak: float | None = None
    peak_step: int | None = None
    trough: float | None = None
    trough_step: int | None = None
    anchor: float | None = None
    anchor_step: int | None = None
    evals_since_anchor: int = 0
    last_at_start_step: int | None = None
    last_below_start_step: int | None = None
    streak_event: str | None = None
    streak: int = 0
    rise_phase: str = "improvement"
    decline_peak: float | None = None
    decline_peak_step: int | None = None
    stage_step: int | None = None
    evals_below_peak: int = 0
    slow_fall: bool = False  # a fall below the start too slow for a disruption (version 3)
    short_streak: int = 0  # refits in a row ending in an overfit (short_run.py; version 5)
    last_near_start_step: int | None = None  # the level last not significantly below the start (6)
    peak_checkpoint: int | None = None  # the checkpoint the peak level stands for (7)
    peak_values: list[float] = field(default_factory=list)  # the peak level's window (8)
    late_fall: bool = False  # a fall below the start that began late by its own data (9)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrackerState:
        known = _known(cls, data)
        known["series"] = SeriesState.from_dict(data.get("series", {}))
        return cls(**known)


@dataclass
class NllGapState:
    """The held-out / train expert NLL pair."""

    train: SeriesState = field(default_factory=SeriesState)
    heldout: SeriesState = field(default_factory=SeriesState)
    best: float | None = None
    best_step: int | None = None
    train_at_best: float | None = None
    streak: int = 0
    fired: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NllGapState:
        known = _known(cls, data)
        known["train"] = SeriesState.from_dict(data.get("train", {}))
        known["heldout"] = SeriesState.from_dict(data.get("heldout", {}))
        return cls(**known)


@dataclass
class TrainLossState:
    """The train loss beside a held-out loss (`train_loss.TrainLoss`; version 11)."""

    series: SeriesState = field(default_factory=SeriesState)
    from_step: int | None = None
    at_start: float | None = None
    first: list[float] = field(default_factory=list)  # the stage's first readings (oriented)
    # (step, level, se) at the held-out loss's latest evaluations (version 12; before: none)
    at_evaluations: list[list[float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainLossState:
        known = _known(cls, data)
        known["series"] = SeriesState.from_dict(data.get("series", {}))
        return cls(**known)


@dataclass
class MonitorState:
    """Everything `PhaseMonitor` needs to resume (the config saved with it wins)."""

    config: dict[str, Any]
    trackers: list[TrackerState]
    nll_gap: NllGapState | None = None
    stop_reason: str = "NOT_STOPPED"
    stop_alert: dict[str, Any] | None = None
    n_records: int = 0
    last_step: int | None = None
    overfit_fired: bool = False
    seen: list[str] = field(default_factory=list)
    resolved: dict[str, str] = field(default_factory=dict)
    ignored_backwards: int = 0
    events: list[list] = field(default_factory=list)
    train_loss: TrainLossState | None = None  # version 11
    version: int = STATE_VERSION

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("stop_on", "train_metrics"):  # tuples in the config, lists in JSON
            out["config"][key] = list(out["config"].get(key, ()))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonitorState:
        version = data.get("version")
        if version not in READABLE_VERSIONS:
            raise ValueError(f"unsupported monitor state version {version!r} "
                             f"(this phasewatch reads {', '.join(map(str, READABLE_VERSIONS))})")
        known = _known(cls, data)
        known["trackers"] = [TrackerState.from_dict(t) for t in data["trackers"]]
        known["nll_gap"] = NllGapState.from_dict(data["nll_gap"]) if data.get("nll_gap") else None
        known["train_loss"] = (TrainLossState.from_dict(data["train_loss"])
                               if data.get("train_loss") else None)
        known["config"] = dict(data["config"])
        known["seen"] = list(known.get("seen", []))
        known["resolved"] = dict(known.get("resolved", {}))
        known["events"] = [list(e) for e in known.get("events", [])]
        known["version"] = STATE_VERSION
        return cls(**known)
