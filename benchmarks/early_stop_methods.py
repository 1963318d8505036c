"""The early-stop methods `bench_early_stop.py` compares, each made from a `Case` and fed its
records: phasewatch's live monitor, patience-based stopping as the frameworks' callbacks do it,
an oracle that knows the truth, and FOCuS / CUSUM (`early_stop_baselines.py`) at thresholds
calibrated on runs without overfit.
"""

from __future__ import annotations

import math

from early_stop_baselines import Cusum, Focus, calibrate, regime_runs
from early_stop_cases import Case, case_of
from early_stop_scoring import traced

from phasewatch.online import PhaseMonitor


# ----------------------------------------------------------------------------- methods
class Patience:
    """HF EarlyStoppingCallback: stop after `patience` evaluations without improvement
    (`ema`: Lightning EarlyStopping on an exponential moving average of the metric)."""

    def __init__(self, metric: str, direction: str, patience: int, threshold: float = 0.0,
                 ema: float | None = None):
        self.metric, self.sign = metric, 1.0 if direction == "max" else -1.0
        self.patience, self.threshold, self.ema = patience, threshold, ema
        self.best = None
        self.best_step = None
        self.bad = 0
        self.smoothed = None
        self.should_stop = False

    def update(self, step: int, metrics: dict) -> None:
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return
        value = self.sign * value
        if self.ema is not None:
            self.smoothed = value if self.smoothed is None else (
                self.ema * value + (1 - self.ema) * self.smoothed)
            value = self.smoothed
        if self.best is None or value > self.best + self.threshold:
            self.best, self.best_step, self.bad = value, step, 0
        else:
            self.bad += 1
            if self.bad >= self.patience:
                self.should_stop = True


class Phasewatch:
    def __init__(self, metric: str, direction: str, events=(), **options):
        self.monitor = PhaseMonitor(metric=metric, direction=direction, **options)
        self.events = sorted(events)  # known boundaries (run.json), told to the monitor

    def update(self, step: int, metrics: dict) -> None:
        while self.events and step >= self.events[0][0]:
            self.monitor.mark_event(*self.events.pop(0))
        self.monitor.update(step, metrics)

    @property
    def should_stop(self) -> bool:
        return self.monitor.should_stop

    @property
    def best_step(self) -> int | None:
        return self.monitor.best_step


class Oracle:
    """Not a method: knows the noiseless curve and the true onset, and stops at the first step
    after it where the curve is `k` noise sd below its peak (never on runs without overfit).
    It shows how early the information allows: an estimator cannot do much better."""

    def __init__(self, case: Case, k: float = 2.0):
        sign = 1.0 if case.direction == "max" else -1.0
        self.curve = dict(zip(case.curve_steps.tolist(), (sign * case.curve).tolist()))
        self.onset = case.onset
        self.limit = None if case.onset is None else (
            self.curve[case.onset] - k * (case.noise_sd or 0.0))
        self.best_step = case.onset
        self.should_stop = False

    def update(self, step: int, metrics: dict) -> None:
        value = self.curve.get(step)
        if self.limit is not None and value is not None and step > self.onset:
            self.should_stop = value < self.limit


def as_watch(case: Case) -> dict:
    """The monitor options `watch` sets from the log itself: a held-out loss follows the train
    loss beside it (`expert_data.watched_train_loss`; the `lower` regime's runs log one)."""
    from phasewatch.expert_data import watched_train_loss

    train = None if case.run is None else watched_train_loss(case.run, case.metric)
    return {"held_out_loss": True, "train_loss": train} if train else {}


METHODS = {  # each makes a detector for a Case
    "phasewatch": lambda c: Phasewatch(c.metric, c.direction, c.events, **as_watch(c)),
    "phasewatch + max_steps": lambda c: Phasewatch(c.metric, c.direction, c.events,
                                                   planned_steps=c.planned, **as_watch(c)),
    "patience 3": lambda c: Patience(c.metric, c.direction, 3),
    "patience 10": lambda c: Patience(c.metric, c.direction, 10),
    "EMA(0.1) + patience 10": lambda c: Patience(c.metric, c.direction, 10, ema=0.1),
}


def dense_thresholds(calib_runs: int) -> dict[str, float]:
    """FOCuS and CUSUM thresholds for runs with no calibration set of their own (the reference
    trainer's): false <= 0.05 on the dense runs without overfit of both families, seeds 10,000+."""
    controls = [case_of(s, onset) for family in ("synth", "logistic")
                for s, onset in regime_runs(family, "dense", range(10_000, 10_000 + calib_runs))
                if onset is None]
    return {name: calibrate([[(st, x) for st, x, _ in traced(cls, c)] for c in controls])
            for name, cls in (("FOCuS", Focus), ("CUSUM", Cusum))}


def with_dense_baselines(calib_runs: int) -> dict:
    """`METHODS` plus FOCuS and CUSUM at the dense runs' thresholds (`dense_thresholds`)."""
    thresholds = dense_thresholds(calib_runs)
    return {**METHODS,
            f"FOCuS (>= {thresholds['FOCuS']:.3g})":
                lambda c: Focus(c.metric, c.direction, thresholds["FOCuS"]),
            f"CUSUM (>= {thresholds['CUSUM']:.3g})":
                lambda c: Cusum(c.metric, c.direction, thresholds["CUSUM"])}
