"""What the live monitor is told and what it says: options, alert records, stop reasons."""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from phasewatch.errors import UsageError
from phasewatch.values import PRACTICAL_CHANGE

EVENTS = ("disruption", "readaptation", "improvement", "plateau", "overfit", "non_finite")


class StopReason(enum.Enum):
    """Why the monitor says stop (like Lightning's `EarlyStoppingReason`)."""

    NOT_STOPPED = 0
    OVERFIT = 1
    DISRUPTION = 2
    READAPTATION = 3
    IMPROVEMENT = 4
    PLATEAU = 5
    NON_FINITE_METRIC = 6

    @classmethod
    def for_event(cls, event: str) -> StopReason:
        return cls.NON_FINITE_METRIC if event == "non_finite" else cls[event.upper()]


@dataclass(frozen=True)
class Alert:
    """A phase entered. `step` is the record that made the monitor decide; `onset_step` the
    estimated start of the phase; `best_step` the checkpoint to keep (the best evaluation where
    the main metric's level was best so far); `metric` the log's own name of the metric;
    `value` its raw value in the deciding record."""

    event: str
    step: int
    onset_step: int | None
    best_step: int | None
    metric: str
    value: float | None
    message: str
    # the onset the monitor's decisions measured, where `onset_step` dates the phase by the
    # values around it instead (a disruption's fall after a start that held:
    # `PhaseTracker._onset_said`): the same decision, made again on re-logged values after a
    # rewind, has this onset whatever the words say (`LiveWatch._say`). Not in the JSON.
    decided_onset: int | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Exactly the `watch --format jsonl` object of DESIGN.md."""
        value = self.value if self.value is not None and math.isfinite(self.value) else None
        return {"event": self.event, "step": int(self.step),
                "onset_step": None if self.onset_step is None else int(self.onset_step),
                "best_step": None if self.best_step is None else int(self.best_step),
                "metric": self.metric, "value": value, "message": self.message}


@dataclass
class MonitorConfig:
    """Options of `PhaseMonitor`; defaults are what the benchmarks were measured with."""

    metric: str | Sequence[str] = "eval/accuracy"
    """Performance metric(s) to follow; the first gives `best_step`. Canonical names
    (eval/accuracy) also find a framework's own spelling (eval_accuracy) via the presets."""
    direction: str | None = None
    """'max' or 'min'; default from the metric's name (loss, nll, error... -> min)."""
    warmup: int = 8
    """Evaluations of a metric before any alert on it (noise and starting level settle); a
    run planned to be sparse (`planned_steps`, at most 12 evaluations at the cadence seen) is
    judged by the offline detector from its fifth (online/short_run.py)."""
    baseline_points: int = 5
    """The starting level is the first value, averaged with those of the first
    `baseline_points` that stay within noise of it (offline: the first value; alerts say when
    the live one is a mean)."""
    window: int = 15
    """Values in the centred median that gives the level (odd; the smoothing), once the run has
    4 x `window` evaluations; before that about a quarter of those seen (`Series.window_now`)."""
    min_window: int = 3
    """The smallest smoothing window (a sparse run's first evaluations)."""
    noise_window: int = 256
    """Recent values the noise scale is estimated from (bounded memory)."""
    z: float = 4.0
    """Significance in units of the standard error of a level difference."""
    min_delta_sd: float = 0.0
    """A change smaller than this many noise sds is never significant (the offline k_sd)."""
    min_delta_abs: float = 0.0
    """A change smaller than this (metric units) is never significant."""
    min_delta_rel: float = PRACTICAL_CHANGE
    """... nor smaller than this fraction of the reference level's magnitude (0.1%, as
    `analyze` judges a series whose range is within it: `known_noise.constant_floor`)."""
    confirm: int = 3
    """Evaluations in a row a condition must hold before its alert fires."""
    plateau_evals: int = 80
    """Evaluations without a significant new high, after a rise, that make a plateau."""
    nll_train: str | None = "expert/nll_train"
    """Train expert NLL (lower is better) for the NLL-gap overfit signal; None disables it."""
    nll_heldout: str | None = "expert/nll_heldout"
    """Held-out expert NLL for the NLL-gap overfit signal; None disables it."""
    stop_on: Sequence[str] = ("overfit",)
    """Events that make `should_stop` true."""
    planned_steps: int | None = None
    """The step the run is planned to end at (a trainer's max_steps; `watch` reads it from the
    log's config). With it, a fall from the start is told from a disruption by how much of the
    run it has lasted: a disruption is an early fall, over within the first `EARLY_FRACTION`
    (online/plan.py) of the run, so a fall from the start still going on steadily after that is
    an overfit, and none before it is. Without it, by how many smoothing windows it has lasted,
    which a run of 13-40 evaluations never fills (DESIGN.md)."""
    no_expert_data: bool = False
    """The run is trained by a policy gradient alone (`expert_data.policy_gradient_only`;
    `watch` reads it from the log's metrics and config): a disruption from the start not
    recovered by the early part of the planned run is then an overfit from the start, as
    `analyze` names a fall never recovered in such a run (docs/detection.md)."""
    held_out_loss: bool = False
    """The watched metric is a loss on held-out data (`expert_data.is_held_out_loss`; `watch`
    reads it from the log's names): its rise from the start not recovered by the early part of
    the planned run is then an overfit from the start, as `analyze` names it beside a falling
    train loss (`expert_data.held_out_loss_overfit`)."""
    train_loss: str | None = None
    """With `held_out_loss`: the train loss the log holds beside it (`watch` reads it from the
    log's names, `expert_data.watched_train_loss`). The monitor follows it, and the rise is an
    overfit only while this train loss has improved since the start, as `analyze` names it;
    beside a train loss that did not, it stays a disruption. None: not followed, and the rise
    is an overfit whatever the train loss does."""
    check_finite: bool = False
    """A NaN/inf value of a followed metric is an alert ('non_finite') and a stop condition;
    by default non-finite values are treated as missing."""
    noise_sd: float | None = None
    """The sd of one evaluation in the metric's units, when known (`analyze --noise-sd`):
    used as given instead of the estimate from the values seen."""
    eval_size: int | None = None
    """Items a rate in [0, 1] is evaluated on (`analyze --eval-size`): the noise is the
    binomial sd over the values seen (`phasewatch.known_noise`)."""
    train_metrics: Sequence[str] = ()
    """The metrics of `metric` scored on the training batches (a train loss or reward): the
    alerts count their values as readings, not evaluations, as `analyze` does
    (`train_beside.is_train_metric`; `watch` sets it from the log, the framework callbacks
    from the first metrics the trainer reports:
    `callbacks._common.MonitorHost.tell_train_metrics`)."""

    def __post_init__(self) -> None:
        metrics = [self.metric] if isinstance(self.metric, str) else list(self.metric)
        if not metrics or not all(isinstance(m, str) and m for m in metrics):
            raise ValueError(f"metric must be a name or a list of names, got {self.metric!r}")
        self.metric = metrics[0] if len(metrics) == 1 else metrics
        if self.direction not in (None, "max", "min"):
            raise ValueError(f"direction must be 'max', 'min' or None, got {self.direction!r}")
        for name in ("warmup", "baseline_points", "window", "min_window", "noise_window", "confirm",
                     "plateau_evals"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.window % 2 == 0:
            raise ValueError(f"window must be odd (a centred median), got {self.window}")
        if self.min_window % 2 == 0 or self.min_window > self.window:
            raise ValueError(f"min_window must be odd and <= window, got {self.min_window}")
        if self.planned_steps is not None and not (
                isinstance(self.planned_steps, int) and not isinstance(self.planned_steps, bool)
                and self.planned_steps > 0):
            raise ValueError(f"planned_steps must be a positive step, got {self.planned_steps!r}")
        if self.noise_window < 3:
            raise ValueError("noise_window must be >= 3 to estimate the noise")
        if not (self.z > 0 and min(self.min_delta_sd, self.min_delta_abs, self.min_delta_rel) >= 0):
            raise ValueError("z must be > 0, min_delta_sd, min_delta_abs and min_delta_rel >= 0")
        from phasewatch.errors import in_api_terms
        from phasewatch.known_noise import checked_noise_options

        try:
            checked_noise_options(self.noise_sd, self.eval_size)
        except UsageError as exc:  # one message, in the library's own terms
            raise ValueError(in_api_terms(str(exc), ("noise_sd", "eval_size"))) from None
        # one event as a string is that event ('overfit'), not its letters
        self.stop_on = (self.stop_on,) if isinstance(self.stop_on, str) else tuple(self.stop_on)
        self.train_metrics = ((self.train_metrics,) if isinstance(self.train_metrics, str)
                              else tuple(self.train_metrics))
        unknown = [e for e in self.stop_on if e not in EVENTS]
        if unknown:
            raise ValueError(f"unknown stop_on event(s) {unknown}; choose from {EVENTS}")

    @property
    def metrics(self) -> list[str]:
        return [self.metric] if isinstance(self.metric, str) else list(self.metric)
