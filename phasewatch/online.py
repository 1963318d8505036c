"""Live phase monitor: `PhaseMonitor.update(step, metrics) -> [Alert]`, bounded and resumable.

The monitor follows the offline phase semantics (DESIGN.md) one record at a time:
- disruption: the level falls significantly below the starting level;
- readaptation: after a disruption, the level rises significantly above the trough (or, after
  an overfit alert, significantly above the peak it fell from: the decline was recovered);
- improvement: a significant rise with no disruption before it;
- plateau: after a rise, no further significant rise for `plateau_evals` evaluations;
- overfit: after the peak, a significant *sustained* decline, by either of two tests: the level
  stays significantly below the peak for `confirm` evaluations in a row, having been at least
  half that far below for a whole `window` (so an optimisation upset that recovers within a
  window is not a stop); or a steady linear decline since some step after the peak is
  significant over all its evaluations and fits better than a sudden step (see
  `_decline_z`: it catches slow memorisation sooner and dates its start). Or held-out expert NLL
  rises significantly from its minimum while train expert NLL keeps falling significantly (the
  "NLL gap" signal, which often comes first). The stop decision uses the cautious noise scale
  while the noise's autocorrelation is uncertain.

Smoothing (stated, not hidden): the *level* is the median of the last `window` values, attributed
to the step at the window's centre. For a symmetric window the local-linear fit at the centre
equals the window mean, so the centred level follows linear trends without bias and without the
lag an EMA adds to the peak's position; the median instead of the mean keeps a rare outlier from
moving it. Its standard error is taken as 1.2533 * sigma / sqrt(window) (the median of normal
data), where sigma is `phasewatch.noise.noise_scale` over the last `noise_window` values (the
same robust estimate the offline detector uses), inflated for autocorrelated (AR(1)) noise,
which differences alone under-estimate.

Significance: two levels differ when their gap exceeds
    max(z * sqrt(se_a**2 + se_b**2), min_delta_sd * sigma, min_delta_abs,
        min_delta_rel * |reference level|).
`min_delta_sd` (off by default) is a floor in noise sds: set it to the offline detector's
`PhaseConfig.k_sd` (3) and a dip the offline analysis would call noise within a plateau is not
announced live either. Measured, it cost more in detection from accuracy alone (0.94 -> 0.81 on
the benchmark's own generator) than it saved in false stops, hence 0 by default.

State is bounded: ring buffers of fixed length (`noise_window` values and their steps) and a
handful of scalars per metric, whatever the run's length; `state_dict()` is plain JSON and
`load_state_dict()` resumes exactly.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from itertools import islice
from typing import Any

import numpy as np

from phasewatch.noise import noise_scale
from phasewatch.presets import aliases_for, default_direction

EVENTS = ("disruption", "readaptation", "improvement", "plateau", "overfit", "non_finite")
MEDIAN_SE = 1.2533141373155003  # sd of a sample median / (sigma / sqrt(n)) for normal data
STATE_VERSION = 1
NOISE_EVERY = 16  # values between re-estimates of the noise scale
DIFF_BLOCK = 16  # differences per block when estimating their autocorrelation
AR_MAX = 0.7  # the largest AR(1) coefficient the noise estimate assumes
AR_FEW_DIFFS = 100  # below this many differences, the AR(1) estimate's upper 1-se bound is used
STILL_RISING_SD = 1.0  # a rise of more than this many noise sds postpones a plateau
MAX_EVENTS = 100  # known boundaries remembered (bounded)
MAX_SEEN_NAMES = 10_000  # metric names remembered for messages (bounded, not per record)


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
    estimated start of the phase; `best_step` the best level of the main metric so far (the
    checkpoint to keep); `value` the raw value of `metric` in the deciding record."""

    event: str
    step: int
    onset_step: int | None
    best_step: int | None
    metric: str
    value: float | None
    message: str

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
    warmup: int = 10
    """Evaluations of a metric before any alert on it (noise and starting level settle)."""
    baseline_points: int = 5
    """The starting level is the median of this many first values."""
    window: int = 15
    """Values in the centred median that gives the level (odd; the smoothing)."""
    noise_window: int = 256
    """Recent values the noise scale is estimated from (bounded memory)."""
    z: float = 4.0
    """Significance in units of the standard error of a level difference."""
    min_delta_sd: float = 0.0
    """A change smaller than this many noise sds is never significant (the offline k_sd)."""
    min_delta_abs: float = 0.0
    """A change smaller than this (metric units) is never significant."""
    min_delta_rel: float = 0.0
    """... nor smaller than this fraction of the reference level's magnitude."""
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
    check_finite: bool = False
    """A NaN/inf value of a followed metric is an alert ('non_finite') and a stop condition;
    by default non-finite values are treated as missing."""

    def __post_init__(self) -> None:
        metrics = [self.metric] if isinstance(self.metric, str) else list(self.metric)
        if not metrics or not all(isinstance(m, str) and m for m in metrics):
            raise ValueError(f"metric must be a name or a list of names, got {self.metric!r}")
        self.metric = metrics[0] if len(metrics) == 1 else metrics
        if self.direction not in (None, "max", "min"):
            raise ValueError(f"direction must be 'max', 'min' or None, got {self.direction!r}")
        for name in ("warmup", "baseline_points", "window", "noise_window", "confirm",
                     "plateau_evals"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.window % 2 == 0:
            raise ValueError(f"window must be odd (a centred median), got {self.window}")
        if self.noise_window < 3:
            raise ValueError("noise_window must be >= 3 to estimate the noise")
        if not (self.z > 0 and min(self.min_delta_sd, self.min_delta_abs, self.min_delta_rel) >= 0):
            raise ValueError("z must be > 0, min_delta_sd, min_delta_abs and min_delta_rel >= 0")
        self.stop_on = tuple(self.stop_on)
        unknown = [e for e in self.stop_on if e not in EVENTS]
        if unknown:
            raise ValueError(f"unknown stop_on event(s) {unknown}; choose from {EVENTS}")

    @property
    def metrics(self) -> list[str]:
        return [self.metric] if isinstance(self.metric, str) else list(self.metric)


class _Series:
    """One metric's recent values (oriented so higher is better) and its level and noise."""

    def __init__(self, name: str, sign: float, cfg: MonitorConfig):
        self.name, self.sign, self.cfg = name, sign, cfg
        self.values: deque[float] = deque(maxlen=cfg.noise_window)
        self.steps: deque[int] = deque(maxlen=cfg.noise_window)  # the steps of `values`
        self.n = 0
        self.last_step: int | None = None
        self.first_step: int | None = None
        self.baseline: float | None = None
        self.baseline_n = cfg.baseline_points  # values the starting level is a median of
        self.white = 0.0  # noise sd from differences (no autocorrelation inflation)
        self.sigma = 0.0
        self.caution = 1.0  # >= 1: how much larger the noise may plausibly be (see _effective_noise)
        self.level: float | None = None
        self.level_step: int | None = None
        self.se_level = 0.0

    def add(self, step: int, raw: float) -> None:
        y = self.sign * raw
        self.values.append(y)
        self.steps.append(step)
        self.n += 1
        self.last_step = step
        if self.first_step is None:
            self.first_step = step
        if self.n == self.cfg.baseline_points:
            self.baseline = _median(list(self.values)[: self.cfg.baseline_points])
        values = self.values
        k = min(len(values), self.cfg.window)
        self.level = _median(list(islice(values, len(values) - k, None)))
        self.level_step = self.steps[len(values) - k + k // 2]
        # The noise moves slowly: re-estimating it every NOISE_EVERY values (every value early
        # on) keeps the amortised cost of an update low without changing the decisions much.
        if self.n <= 2 * NOISE_EVERY or self.n % NOISE_EVERY == 0:
            self.white, self.sigma, self.caution = _effective_noise(values, self.cfg.window)
        self.se_level = MEDIAN_SE * self.sigma / math.sqrt(k)

    def floor(self, reference: float) -> float:
        """The non-statistical part of `threshold`: the user's minimum effect."""
        cfg = self.cfg
        return max(cfg.min_delta_sd * self.sigma, cfg.min_delta_abs, cfg.min_delta_rel * abs(reference))

    @property
    def ramp_reference(self) -> int:
        """Evaluations before a decline's start that give the level it declines from."""
        return 3 * self.cfg.window

    def decline_since(self, first_step: int, top: float, origin_step: int | None
                      ) -> tuple[float, int] | None:
        """The strongest steady decline that starts at or after `first_step`, as (z, its start
        step), measured against values from `origin_step` on (the stage's start: values from
        before a known boundary are no reference); None while there are too few values.
        See `_decline_z`."""
        if self.sigma <= 0:
            return None
        n = len(self.values)
        steps = np.fromiter(self.steps, dtype=np.int64, count=n)
        half = self.cfg.window // 2
        origin = 0 if origin_step is None else int(np.searchsorted(steps, origin_step))
        first = max(int(np.searchsorted(steps, first_step)), origin + half + 1)
        last_start = n - self.cfg.window  # a decline lasts at least a window
        if last_start < first:
            return None
        # Values are clipped to 3 white-noise sds around the peak: one outlier cannot make a
        # decline, nor a lucky high value a reference level the run must fall from.
        y = np.fromiter(self.values, dtype=np.float64, count=n)
        clipped = np.clip(y, top - 3.0 * self.white, top + 3.0 * self.white)
        p = np.concatenate(([0.0], np.cumsum(clipped)))
        q = np.concatenate(([0.0], np.cumsum(np.arange(n) * clipped)))
        ramp = _decline_z(p, q, np.arange(first, last_start + 1), origin, self.ramp_reference, True)
        step = _decline_z(p, q, np.arange(first, n - half + 1), origin, self.ramp_reference, False)
        best = int(np.argmax(ramp))
        if ramp[best] < step.max():
            return None  # a sudden fall (an upset, maybe recovered soon): the level test's job
        return float(ramp[best]) / self.sigma, int(steps[first + best])

    def se_baseline(self) -> float:
        return MEDIAN_SE * self.sigma / math.sqrt(self.baseline_n)

    def se_gap(self, se_reference: float) -> float:
        """Standard error of the gap between a reference level and the current level."""
        return math.sqrt(se_reference**2 + self.se_level**2)

    def threshold(self, reference: float, se_reference: float, cautious: bool = False) -> float:
        """Smallest significant gap between `reference` and the current level (`cautious`: for
        the stop decision, under the largest plausible noise while it is still uncertain)."""
        stat = self.cfg.z * self.se_gap(se_reference) * (self.caution if cautious else 1.0)
        return max(stat, self.floor(reference))

    def gap_text(self, gap: float, se_reference: float) -> str:
        """A gap in metric units and in standard errors, e.g. '0.081 (5.2 se)'."""
        se = self.se_gap(se_reference)
        return f"{gap:.3g}" + (f" ({gap / se:.1f} se)" if se > 0 else "")

    def raw(self, oriented: float) -> float:
        return self.sign * oriented

    def state(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, deque) else v)
                for k, v in vars(self).items() if k not in ("name", "sign", "cfg")}

    def load(self, state: Mapping[str, Any]) -> None:
        for key, value in state.items():
            if key == "values":
                self.values = deque(value, maxlen=self.cfg.noise_window)
            elif key == "steps":
                self.steps = deque(value, maxlen=self.cfg.noise_window)
            else:
                setattr(self, key, value)
        if len(self.steps) < len(self.values):
            # A state saved by an earlier phasewatch, which kept the steps of only the last
            # `window` values: keep the values whose steps are known, so the two stay aligned.
            kept = list(self.values)[len(self.values) - len(self.steps):]
            self.values = deque(kept, maxlen=self.cfg.noise_window)


class _PhaseTracker:
    """The phase state machine of one performance metric (DESIGN.md semantics)."""

    def __init__(self, name: str, sign: float, cfg: MonitorConfig):
        self.series = _Series(name, sign, cfg)
        self.cfg = cfg
        self.phase: str | None = None
        self.peak: float | None = None
        self.peak_step: int | None = None
        self.trough: float | None = None
        self.trough_step: int | None = None
        self.anchor: float | None = None
        self.anchor_step: int | None = None
        self.evals_since_anchor = 0
        self.last_at_start_step: int | None = None  # last level step at/above the start
        self.last_below_start_step: int | None = None  # last level step at/below the start
        self.streak_event: str | None = None
        self.streak = 0
        self.rise_phase = "improvement"  # the rising phase a plateau returns to
        self.decline_peak: float | None = None  # the peak an overfit fell from ...
        self.decline_peak_step: int | None = None  # ... and its step
        self.stage_step: int | None = None  # first step after the last known boundary
        self.evals_below_peak = 0  # evaluations in a row the level is well below the peak

    @property
    def name(self) -> str:
        return self.series.name

    def best_step(self) -> int | None:
        if self.peak_step is not None:
            return self.peak_step
        return self.series.level_step

    def update(self, step: int, raw: float) -> tuple[str, int | None, str] | None:
        """Feed one finite value; returns (event, onset_step, reason) when a phase is entered."""
        s = self.series
        s.add(step, raw)
        if s.baseline is None:
            return None
        level, at = s.level, s.level_step
        if level >= s.baseline:
            self.last_at_start_step = at
        if level <= s.baseline:
            self.last_below_start_step = at
        if self.peak is None or level > self.peak:
            self.peak, self.peak_step = level, at
        if s.n < self.cfg.warmup:
            return None
        if self.phase in (None, "disruption", "overfit") and (self.trough is None or level < self.trough):
            self.trough, self.trough_step = level, at
        candidate = self._candidate(level, at)
        if candidate is None:
            self.streak_event, self.streak = None, 0
            return None
        event = candidate[0]
        self.streak = self.streak + 1 if event == self.streak_event else 1
        self.streak_event = event
        if self.streak < self.cfg.confirm:
            return None
        self.streak_event, self.streak = None, 0
        return self._enter(*candidate)

    def _candidate(self, level: float, at: int) -> tuple[str, int | None, str] | None:
        s, cfg = self.series, self.cfg
        name = s.name
        if self.phase is None:
            thr = s.threshold(s.baseline, s.se_baseline())
            if level < s.baseline - thr:
                onset = _first_not_none(self.last_at_start_step, s.first_step)
                return ("disruption", onset,
                        (f"{name} level {s.raw(level):.4g} fell {s.gap_text(s.baseline - level, s.se_baseline())} "
                        f"below the starting level {s.raw(s.baseline):.4g}"))
            if level > s.baseline + thr:
                onset = _first_not_none(self.last_below_start_step, s.first_step)
                return ("improvement", onset,
                        (f"{name} level {s.raw(level):.4g} rose {s.gap_text(level - s.baseline, s.se_baseline())} "
                        f"above the starting level {s.raw(s.baseline):.4g}"))
            return None
        if self.phase == "disruption":
            thr = s.threshold(self.trough, s.se_level)
            if level > self.trough + thr:
                return ("readaptation", self.trough_step,
                        (f"{name} level {s.raw(level):.4g} rose {s.gap_text(level - self.trough, s.se_level)} "
                        f"above the disruption trough {s.raw(self.trough):.4g} "
                        f"(step {self.trough_step})"))
            return None
        if self.phase == "overfit":
            # Live, a decline can only be judged so far; if the level later climbs significantly
            # above the old peak, the fall was recovered, which the offline detector calls a
            # disruption, and the rise after it a readaptation: say so.
            top, top_step = self.decline_peak, self.decline_peak_step
            if level > top + s.threshold(top, s.se_level):
                return ("readaptation", self.trough_step,
                        (f"{name} level {s.raw(level):.4g} rose {s.gap_text(level - top, s.se_level)} "
                        f"above its earlier peak {s.raw(top):.4g} (step {top_step}): the "
                        f"decline to {s.raw(self.trough):.4g} (step {self.trough_step}) was recovered"))
            return None
        # A rising phase (improvement / readaptation) or a plateau after one.
        # "Sustained" (DESIGN.md): the level must have been below the peak by at least half the
        # threshold for a whole window, so a sudden upset that recovers within a window (an
        # optimisation spike) is not a stop; a slow decline has spent that long there anyway.
        thr = s.threshold(self.peak, s.se_level, cautious=True)
        self.evals_below_peak = self.evals_below_peak + 1 if level < self.peak - thr / 2 else 0
        if level < self.peak - thr and self.evals_below_peak >= cfg.window:
            return ("overfit", self.peak_step,
                    (f"{name} level {s.raw(level):.4g} is {s.gap_text(self.peak - level, s.se_level)} "
                    f"below its peak {s.raw(self.peak):.4g} (step {self.peak_step}), and well "
                    f"below it for {self.evals_below_peak} evaluations"))
        # A slow, steady decline shows in the sum of all its evaluations long before the level
        # (a median of `window`) clears the threshold: test for it too, with the same z.
        if level < self.peak - s.floor(self.peak):
            decline = s.decline_since(self.peak_step, self.peak, self.stage_step)
            if decline is not None and decline[0] > cfg.z * s.caution:
                z_decline, onset = decline
                return ("overfit", onset,
                        (f"{name} has declined steadily since step {onset} ({z_decline:.1f} se "
                         f"against the {s.ramp_reference} evaluations before; peak "
                         f"{s.raw(self.peak):.4g} at step {self.peak_step}) for {cfg.confirm} "
                         "evaluations in a row"))
        if self.phase == "plateau" and level > self.peak + s.threshold(self.peak, s.se_level):
            return (self.rise_phase, self.anchor_step,
                    (f"{name} level {s.raw(level):.4g} rose {s.gap_text(level - self.anchor, s.se_level)} "
                    f"above the plateau level {s.raw(self.anchor):.4g} to a new high"))
        # Any rise beyond a quarter of the significance threshold, or STILL_RISING_SD noise sds,
        # counts as "still rising": a plateau is the absence of a trend, so it is claimed
        # conservatively; the sd floor keeps the level's own wander, which a wide window makes
        # small next to the threshold, from postponing it for ever.
        still_rising = max(0.25 * s.threshold(self.anchor, s.se_level), STILL_RISING_SD * s.sigma)
        if level > self.anchor + still_rising:
            self.anchor, self.anchor_step, self.evals_since_anchor = level, at, 0
            return None
        self.evals_since_anchor += 1
        if self.phase != "plateau" and self.evals_since_anchor >= cfg.plateau_evals:
            return ("plateau", self.anchor_step,
                    (f"{name}: no significant rise for {self.evals_since_anchor} evaluations "
                    f"since step {self.anchor_step} (level {s.raw(level):.4g})"))
        return None

    def restart(self, step: int) -> None:
        """A known boundary at `step` (e.g. the SFT->RL switch): phases start again from the
        current level, which becomes the starting level; the noise estimate is kept."""
        s = self.series
        self.stage_step = step
        if s.level is None:
            return
        s.baseline, s.baseline_n = s.level, min(len(s.steps), self.cfg.window)
        self.phase = None
        self.peak = self.trough = self.anchor = None
        self.peak_step = self.trough_step = self.anchor_step = None
        self.evals_since_anchor = 0
        self.last_at_start_step = self.last_below_start_step = s.level_step
        self.streak_event, self.streak = None, 0
        self.evals_below_peak = 0
        self.rise_phase = "improvement"
        self.decline_peak = self.decline_peak_step = None

    def enter_overfit(self) -> None:
        """The run overfits (from this metric or another signal): follow the decline's trough."""
        self.phase = "overfit"
        self.trough, self.trough_step = self.series.level, self.series.level_step
        self.decline_peak, self.decline_peak_step = self.peak, self.peak_step

    def _enter(self, event: str, onset: int | None, reason: str) -> tuple[str, int | None, str]:
        s = self.series
        if event == "overfit":
            self.enter_overfit()
            return event, onset, reason
        if event in ("improvement", "readaptation"):
            if self.phase != "plateau":  # a new rise: its peak starts here
                self.rise_phase = event
                self.peak, self.peak_step = s.level, s.level_step
            self.anchor, self.anchor_step, self.evals_since_anchor = s.level, s.level_step, 0
        self.phase = event
        return event, onset, reason

    def state(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k not in ("series", "cfg")}
        out["series"] = self.series.state()
        return out

    def load(self, state: Mapping[str, Any]) -> None:
        for key, value in state.items():
            if key == "series":
                self.series.load(value)
            else:
                setattr(self, key, value)


class _NllGap:
    """Held-out expert NLL rising from its minimum while train expert NLL keeps falling."""

    def __init__(self, train: str, heldout: str, cfg: MonitorConfig):
        self.train = _Series(train, -1.0, cfg)
        self.heldout = _Series(heldout, -1.0, cfg)
        self.cfg = cfg
        self.best: float | None = None
        self.best_step: int | None = None
        self.train_at_best: float | None = None
        self.streak = 0
        self.fired = False

    def update(self, step: int, train: float | None, heldout: float | None):
        if train is not None:
            self.train.add(step, train)
        if heldout is None:
            return None
        h = self.heldout
        h.add(step, heldout)
        if self.train.level is None:
            return None
        if self.best is None or h.level > self.best:
            self.best, self.best_step = h.level, h.level_step
            self.train_at_best = self.train.level
        if self.fired or h.n < self.cfg.warmup or self.train.n < self.cfg.warmup:
            return None
        rise = self.best - h.level
        fall = self.train.level - self.train_at_best
        t_thr = self.train.threshold(self.train_at_best, self.train.se_level, cautious=True)
        if rise > h.threshold(self.best, h.se_level, cautious=True) and fall > t_thr:
            self.streak += 1
        else:
            self.streak = 0
        if self.streak < self.cfg.confirm:
            return None
        self.fired = True
        return ("overfit", self.best_step,
                (f"{h.name} rose {h.gap_text(rise, h.se_level)} from its minimum {-self.best:.4g} "
                f"(step {self.best_step}) while {self.train.name} fell "
                f"{self.train.gap_text(fall, self.train.se_level)} further: the model memorises the expert set"))

    def state(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k not in ("train", "heldout", "cfg")}
        out["train"], out["heldout"] = self.train.state(), self.heldout.state()
        return out

    def load(self, state: Mapping[str, Any]) -> None:
        for key, value in state.items():
            if key in ("train", "heldout"):
                getattr(self, key).load(value)
            else:
                setattr(self, key, value)


class PhaseMonitor:
    """Streaming phase detector: feed `update(step, metrics)` each logged record.

    >>> monitor = PhaseMonitor(metric="eval/accuracy")
    >>> for step, metrics in records:               # doctest: +SKIP
    ...     for alert in monitor.update(step, metrics):
    ...         print(alert.message)
    ...     if monitor.should_stop:
    ...         break

    Records of a step not after the last one seen for a metric (a resumed run re-logging steps)
    are ignored for that metric, so the monitor never goes back in time.
    """

    def __init__(self, metric: str | Sequence[str] = "eval/accuracy", direction: str | None = None,
                 **options: Any):
        self.config = MonitorConfig(metric=metric, direction=direction, **options)
        self._build()

    def _build(self) -> None:
        cfg = self.config
        self.trackers_ = [
            _PhaseTracker(name, _sign(cfg.direction or default_direction(name)), cfg)
            for name in cfg.metrics
        ]
        self.nll_gap_ = (_NllGap(cfg.nll_train, cfg.nll_heldout, cfg)
                         if cfg.nll_train and cfg.nll_heldout else None)
        self.stop_reason_ = StopReason.NOT_STOPPED
        self.stop_alert_: Alert | None = None
        self.n_records_ = 0
        self.last_step_: int | None = None
        self.overfit_fired_ = False
        self.seen_: dict[str, None] = {}  # insertion-ordered set of metric names seen
        self.resolved_: dict[str, str] = {}  # wanted name -> the log's own name
        self.ignored_backwards_ = 0
        self.events_: list[list] = []  # known boundaries marked so far (the last MAX_EVENTS)
        self._alias_checked_at: dict[str, int] = {}  # a cache, not state

    # ---------------------------------------------------------------- public API
    @property
    def should_stop(self) -> bool:
        return self.stop_reason_ is not StopReason.NOT_STOPPED

    @property
    def best_step(self) -> int | None:
        """Step of the best level of the main metric so far (the checkpoint to keep)."""
        return self.trackers_[0].best_step()

    @property
    def phase(self) -> str | None:
        """Current phase of the main metric (None before anything significant happened)."""
        return self.trackers_[0].phase

    def level(self, metric: str | None = None) -> tuple[int | None, float | None]:
        """(centre step, level in the metric's own units) of the smoothed series."""
        tracker = self.trackers_[0] if metric is None else next(
            t for t in self.trackers_ if t.name == metric)
        s = tracker.series
        return s.level_step, (None if s.level is None else s.raw(s.level))

    @property
    def metrics_seen(self) -> list[str]:
        return list(self.seen_)

    def missing_metrics(self) -> list[str]:
        """Followed metrics not found (under any alias) in the records so far."""
        return [t.name for t in self.trackers_ if t.name not in self.resolved_]

    def mark_event(self, step: int, name: str = "event") -> None:
        """Tell the monitor about a known boundary before feeding the records from `step` on
        (the SFT->RL switch, a change of data): DESIGN.md treats these as boundaries, not phases.
        Phases restart from the current level, so a fall right after an SFT->RL switch is a
        disruption of the new stage, not an overfit of the old one. The NLL-gap signal restarts
        too (RL does not train on the expert set)."""
        for tracker in self.trackers_:
            tracker.restart(int(step))
        if self.nll_gap_ is not None:
            self.nll_gap_.best = self.nll_gap_.best_step = self.nll_gap_.train_at_best = None
            self.nll_gap_.streak, self.nll_gap_.fired = 0, False
        self.overfit_fired_ = False  # a new stage can overfit in its turn
        self.events_.append([int(step), str(name)])
        del self.events_[:-MAX_EVENTS]

    def update(self, step: int, metrics: Mapping[str, Any]) -> list[Alert]:
        """Feed one logged record; returns the alerts it triggered (usually none)."""
        step = int(step)
        self.n_records_ += 1
        self.last_step_ = step if self.last_step_ is None else max(self.last_step_, step)
        if len(self.seen_) < MAX_SEEN_NAMES:
            for key in metrics:
                if key not in self.seen_:
                    self.seen_[key] = None
        alerts: list[Alert] = []
        for tracker in self.trackers_:
            value = self._value(tracker.name, tracker.series, step, metrics)
            if value is None:
                continue
            if not math.isfinite(value):
                if self.config.check_finite:
                    alerts.append(self._alert("non_finite", step, step, tracker.name, value,
                                              f"{tracker.name} is {value} at step {step}"))
                continue
            found = tracker.update(step, value)
            if found is None:
                continue
            event, onset, reason = found
            if event == "overfit":
                if self.overfit_fired_:
                    continue
                self.overfit_fired_ = True
            elif tracker is self.trackers_[0] and event == "readaptation" and self.overfit_fired_:
                self.overfit_fired_ = False  # the decline was recovered: a later one is news
            alerts.append(self._alert(event, step, onset, tracker.name, value, reason))
        if self.nll_gap_ is not None:
            alerts.extend(self._update_nll_gap(step, metrics))
        return alerts

    # ------------------------------------------------------------------ internals
    def _value(self, name: str, series: _Series, step: int,
               metrics: Mapping[str, Any]) -> float | None:
        own = self._own_name(name, metrics)
        if own is None:
            return None
        raw = metrics.get(own)
        value = _as_float(raw)
        if value is None:
            return None
        if series.last_step is not None and step <= series.last_step:
            self.ignored_backwards_ += 1
            return None
        return value

    def _own_name(self, name: str, metrics: Mapping[str, Any]) -> str | None:
        """The log's own name for `name` (itself, or an alias from the presets), cached."""
        own = self.resolved_.get(name)
        if own is None:
            if name in metrics:
                own = name
            elif self._alias_checked_at.get(name) != len(self.seen_):
                # Only re-check the aliases when new metric names have appeared.
                self._alias_checked_at[name] = len(self.seen_)
                own = aliases_for(self.seen_).get(name)
            if own is None:
                return None
            self.resolved_[name] = own
        return own if own in metrics else None

    def _update_nll_gap(self, step: int, metrics: Mapping[str, Any]) -> list[Alert]:
        gap = self.nll_gap_
        train = self._value(gap.train.name, gap.train, step, metrics)
        heldout = self._value(gap.heldout.name, gap.heldout, step, metrics)
        train = train if train is not None and math.isfinite(train) else None
        heldout = heldout if heldout is not None and math.isfinite(heldout) else None
        if train is None and heldout is None:
            return []
        found = gap.update(step, train, heldout)
        if found is None or self.overfit_fired_:
            return []
        self.overfit_fired_ = True
        self.trackers_[0].enter_overfit()  # the run is overfitting: no later plateau claims
        event, onset, reason = found
        return [self._alert(event, step, onset, gap.heldout.name, heldout, reason)]

    def _alert(self, event: str, step: int, onset: int | None, metric: str,
               value: float | None, reason: str) -> Alert:
        alert = Alert(event=event, step=step, onset_step=onset, best_step=self.best_step,
                      metric=metric, value=value, message=reason)
        stops = event in self.config.stop_on or event == "non_finite"
        if stops and not self.should_stop:
            self.stop_reason_ = StopReason.for_event(event)
            self.stop_alert_ = alert
        return alert

    # ------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, as plain JSON types."""
        config = asdict(self.config)
        config["stop_on"] = list(config["stop_on"])
        return {
            "version": STATE_VERSION,
            "config": config,
            "trackers": [t.state() for t in self.trackers_],
            "nll_gap": None if self.nll_gap_ is None else self.nll_gap_.state(),
            "stop_reason": self.stop_reason_.name,
            "stop_alert": None if self.stop_alert_ is None else self.stop_alert_.to_dict(),
            "n_records": self.n_records_,
            "last_step": self.last_step_,
            "overfit_fired": self.overfit_fired_,
            "seen": list(self.seen_),
            "resolved": dict(self.resolved_),
            "ignored_backwards": self.ignored_backwards_,
            "events": [list(e) for e in self.events_],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from `state_dict()` (the config saved with it wins)."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported monitor state version {state.get('version')!r}")
        names = {f.name for f in fields(MonitorConfig)}
        self.config = MonitorConfig(**{k: v for k, v in state["config"].items() if k in names})
        self._build()
        for tracker, saved in zip(self.trackers_, state["trackers"]):
            tracker.load(saved)
        if self.nll_gap_ is not None and state.get("nll_gap"):
            self.nll_gap_.load(state["nll_gap"])
        self.stop_reason_ = StopReason[state["stop_reason"]]
        self.stop_alert_ = Alert(**state["stop_alert"]) if state.get("stop_alert") else None
        self.n_records_ = state["n_records"]
        self.last_step_ = state["last_step"]
        self.overfit_fired_ = state["overfit_fired"]
        self.seen_ = dict.fromkeys(state["seen"])
        self.resolved_ = dict(state["resolved"])
        self.ignored_backwards_ = state.get("ignored_backwards", 0)
        self.events_ = [list(e) for e in state.get("events", [])]


# ---------------------------------------------------------------------- helpers
def _sign(direction: str) -> float:
    return 1.0 if direction == "max" else -1.0


def _first_not_none(*values):
    return next((v for v in values if v is not None), None)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


def _effective_noise(values: deque, window: int) -> tuple[float, float, float]:
    """Long-run noise sd of the recent values: what governs a level made of neighbours.

    `noise_scale` (MAD of differences) is the sd of white noise around a slow trend, but it
    under-states positively autocorrelated (AR(1)) noise: for x_t = phi x_{t-1} + e_t,
    var(diff) = 2 var(x) (1 - phi), and a mean of n points varies like
    var(x) (1 + phi) / (1 - phi) / n. phi comes from the lag-1 autocorrelation of the
    differences, -(1 - phi) / 2. The differences are centred per block of DIFF_BLOCK (so a change
    of slope is not mistaken for autocorrelation) and clipped (so outliers do not drive it);
    centring a block of B shrinks the autocorrelation by about (1 - 2 / B), which is undone.
    phi is capped at AR_MAX: sharp turns of a short, steep curve still look like
    autocorrelation, and the cap bounds the inflation they can cause (x4.3 at 0.7).

    Returns (white sd, sd, caution). From fewer than AR_FEW_DIFFS differences phi is uncertain by
    ~2 / sqrt(n), and a strongly autocorrelated noise's slow wander then looks like a trend;
    `caution` is how much larger the sd is at phi's upper one-standard-error bound. Only the stop
    decision (overfit) uses it: measured on 40 long flat runs with AR(1) noise at 0.8, false stops
    went from 0.10 to 0.03 with no change on the other benchmark runs, while using it for every
    alert missed early disruptions, which matter as much and stop nothing.
    """
    n = len(values)
    if n < 3:
        return 0.0, 0.0, 1.0
    y = np.fromiter(values, dtype=np.float64, count=n)
    sigma = noise_scale(y)
    block = min(DIFF_BLOCK, n - 1)  # early on, one block of all the differences
    if block < 8 or sigma <= 0:
        return sigma, sigma, 1.0
    m = (n - 1) // block
    d = np.diff(y)[(n - 1) - m * block:].reshape(m, block)
    d = d - np.median(d, axis=1, keepdims=True)
    limit = 4.0 * sigma * math.sqrt(2.0)
    d = np.clip(d, -limit, limit)
    denom = float(np.einsum("ij,ij->", d, d))
    if denom <= 0:
        return sigma, sigma, 1.0
    rho = float(np.einsum("ij,ij->", d[:, 1:], d[:, :-1])) / denom / (1.0 - 2.0 / block)
    phi = 1.0 + 2.0 * rho
    upper = phi + 2.0 / math.sqrt(m * block) if m * block < AR_FEW_DIFFS else phi
    sd, sd_upper = (sigma * _ar_inflation(min(max(x, 0.0), AR_MAX)) for x in (phi, upper))
    return sigma, sd, sd_upper / sd


def _decline_z(p: np.ndarray, q: np.ndarray, c: np.ndarray, origin: int, reference: int,
               ramp: bool) -> np.ndarray:
    """z * noise sd of "the values fall below their level from index c on", for each c.

    y's prefix sums p (of y) and q (of t * y) give every candidate in one pass. The level is the
    mean of the `reference` values before c (none before `origin`); the fall is weighted by
    w_t = t - c + 1 (`ramp`: a linear decline starting at c, the matched filter for slow
    memorisation) or w_t = 1 (a step at c). The statistic sum_t w_t (level - y_t) is divided by
    its sd, the level's own uncertainty included.
    """
    n = p.size - 1
    length = (n - c).astype(np.float64)
    if ramp:
        weighted = (q[n] - q[c]) - (c - 1) * (p[n] - p[c])  # sum_t (t - c + 1) y_t
        sum_w = length * (length + 1) / 2
        sum_w2 = length * (length + 1) * (2 * length + 1) / 6
    else:
        weighted, sum_w, sum_w2 = p[n] - p[c], length, length
    start = np.maximum(origin, c - reference)
    count = (c - start).astype(np.float64)
    level = (p[c] - p[start]) / count
    return (level * sum_w - weighted) / np.sqrt(sum_w2 + sum_w * sum_w / count)


def _ar_inflation(phi: float) -> float:
    """Long-run sd of AR(1) noise over the sd that differences alone suggest."""
    return math.sqrt((1.0 + phi) / (1.0 - phi)) / math.sqrt(1.0 - phi)


def _as_float(raw: Any) -> float | None:
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str):
        try:
            return float(raw.strip())
        except ValueError:
            return None
    try:
        return float(raw)  # numpy / torch scalars
    except (TypeError, ValueError):
        return None


__all__ = ["EVENTS", "Alert", "MonitorConfig", "PhaseMonitor", "StopReason"]
