"""`PhaseMonitor`: the live monitor a training loop or `phasewatch watch` feeds record by record.

It routes each record's values to one phase tracker per followed metric (`tracker.py`) and to the
NLL-gap signal (`nll_gap.py`), turns what they find into `Alert`s, keeps the stop decision, and
saves / restores its state (`state.py`). State is bounded: ring buffers of fixed length and a
handful of scalars per metric, whatever the run's length.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields, replace
from typing import Any

from phasewatch.online.config import EVENTS, Alert, MonitorConfig, StopReason
from phasewatch.online.history import History
from phasewatch.online.nll_gap import NllGap
from phasewatch.online.series import Series
from phasewatch.online.state import MonitorState
from phasewatch.online.tracker import PhaseTracker
from phasewatch.online.train_loss import TrainLoss
from phasewatch.presets import aliases_for, default_direction
from phasewatch.values import MAX_VALUE, to_float

MAX_EVENTS = 100  # known boundaries remembered (bounded)
MAX_SEEN_NAMES = 10_000  # metric names remembered for messages (bounded, not per record)


class PhaseMonitor:
    """Streaming phase detector: feed `update(step, metrics)` each logged record.

    >>> monitor = PhaseMonitor(metric="eval/accuracy")
    >>> for step, metrics in records:               # doctest: +SKIP
    ...     for alert in monitor.update(step, metrics):
    ...         print(alert.message)
    ...     if monitor.should_stop:
    ...         break

    Records of a step not after the last one seen for a metric are ignored for that metric, so
    the monitor never goes back in time by itself; a reader that knows the run resumed from an
    earlier checkpoint calls `rewind(step)` first, and the later records supersede the earlier.
    """

    def __init__(self, metric: str | Sequence[str] = "eval/accuracy", direction: str | None = None,
                 **options: Any):
        self.config = MonitorConfig(metric=metric, direction=direction, **options)
        self._build()

    def _build(self) -> None:
        cfg = self.config
        self.trackers_ = [
            PhaseTracker(name, _sign(cfg.direction or default_direction(name)), cfg)
            for name in cfg.metrics
        ]
        self.nll_gap_ = (NllGap(cfg.nll_train, cfg.nll_heldout, cfg)
                         if cfg.nll_train and cfg.nll_heldout else None)
        # the train loss beside a held-out loss (`train_loss.py`), judged by its first tracker
        self.train_loss_ = (TrainLoss(cfg.train_loss, cfg)
                            if cfg.held_out_loss and cfg.train_loss else None)
        self.trackers_[0].train_loss = self.train_loss_
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
        self._history = History(cfg.noise_window)  # snapshots for `rewind`, not saved

    # ---------------------------------------------------------------- public API
    @property
    def should_stop(self) -> bool:
        return self.stop_reason_ is not StopReason.NOT_STOPPED

    @property
    def best_step(self) -> int | None:
        """The checkpoint to keep: the best evaluation where the main metric's level was best."""
        return self.trackers_[0].best_step()

    @property
    def phase(self) -> str | None:
        """Current phase of the main metric (None before anything significant happened)."""
        return self.trackers_[0].phase

    def level(self, metric: str | None = None) -> tuple[int | None, float | None]:
        """(centre step, level in the metric's own units) of the smoothed series."""
        tracker = self.trackers_[0] if metric is None else next(
            t for t in self.trackers_ if metric in (t.name, t.series.label))
        s = tracker.series
        return s.level_step, (None if s.level is None else s.raw(s.level))

    @property
    def metrics_seen(self) -> list[str]:
        return list(self.seen_)

    def missing_metrics(self) -> list[str]:
        """Followed metrics not found (under any alias) in the records so far."""
        return [t.name for t in self.trackers_ if t.name not in self.resolved_]

    def set_planned_steps(self, planned_steps: int | None) -> None:
        """Tell the monitor the step the run is planned to end at once that is known
        (`MonitorConfig.planned_steps`): a trainer knows its max_steps only when training
        begins, after its callback built the monitor. None leaves the plan unknown."""
        self.config.planned_steps = replace(self.config, planned_steps=planned_steps).planned_steps

    def follow_train_loss(self, name: str | None) -> None:
        """Follow `name` as the train loss beside the held-out loss (`MonitorConfig.train_loss`)
        once it is known: a trainer callback learns the trainer's names from its logs, after it
        built the monitor. Told before the train loss's first value is fed."""
        self.config.train_loss = name
        self.train_loss_ = (TrainLoss(name, self.config)
                            if self.config.held_out_loss and name else None)
        self.trackers_[0].train_loss = self.train_loss_

    def mark_event(self, step: int, name: str = "event") -> None:
        """Tell the monitor about a known boundary before feeding the records from `step` on
        (the SFT->RL switch, a change of data): DESIGN.md treats these as boundaries, not phases.
        Phases restart from the current level, so a fall right after an SFT->RL switch is a
        disruption of the new stage, not an overfit of the old one. The NLL-gap signal restarts
        too (RL does not train on the expert set)."""
        for tracker in self.trackers_:
            tracker.restart(int(step))
        if self.nll_gap_ is not None:
            self.nll_gap_.restart()
        if self.train_loss_ is not None:
            self.train_loss_.restart(int(step))
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
        values = [self._value(t.name, t.series, step, metrics) for t in self.trackers_]
        train = heldout = None
        if self.nll_gap_ is not None:
            gap = self.nll_gap_
            train = self._value(gap.train.name, gap.train, step, metrics)
            heldout = self._value(gap.heldout.name, gap.heldout, step, metrics)
        beside = None
        if self.train_loss_ is not None:
            series = self.train_loss_.series
            beside = self._value(series.name, series, step, metrics)
        alerts = self._feed(step, values, train, heldout, beside)
        self._history.after_record(self)
        return alerts

    def rewind(self, step: int) -> None:
        """Forget the records of step `step` and later: the run resumed from an earlier
        checkpoint, and the records it logs from `step` on supersede the ones seen before. The
        monitor then behaves as if those had never been fed (exactly within the last
        16 x `noise_window` records; see `phasewatch.online.history`). Alerts already returned
        stay returned; a stop decision taken on the abandoned records is withdrawn."""
        step = int(step)
        if self.last_step_ is None or step > self.last_step_:
            return
        self._history.rewind(self, step)

    # ------------------------------------------------------------------ internals
    def snapshot(self) -> MonitorState:
        """The state without the config (which a rewind does not change)."""
        return MonitorState(
            config={}, trackers=[t.state() for t in self.trackers_],
            nll_gap=None if self.nll_gap_ is None else self.nll_gap_.state(),
            train_loss=None if self.train_loss_ is None else self.train_loss_.state(),
            stop_reason=self.stop_reason_.name,
            stop_alert=None if self.stop_alert_ is None else self.stop_alert_.to_dict(),
            n_records=self.n_records_, last_step=self.last_step_,
            overfit_fired=self.overfit_fired_, seen=list(self.seen_),
            resolved=dict(self.resolved_), ignored_backwards=self.ignored_backwards_,
            events=[list(e) for e in self.events_])

    def restore(self, st: MonitorState | None) -> None:
        """Back to a `snapshot()` (None: to the start), keeping the config, the metric names
        seen and resolved, and the snapshots."""
        seen, resolved, history = self.seen_, self.resolved_, self._history
        self._build()
        self._history = history
        if st is not None:
            self._restore(st)
        self.seen_ = seen
        self.resolved_.update(resolved)
        self._relabel()

    def replay(self, step: int, values: list[float | None], train: float | None,
               heldout: float | None, beside: float | None = None) -> None:
        """Feed values already known to be new (a rewind's replay); alerts are not repeated."""
        self.n_records_ += 1
        self.last_step_ = step if self.last_step_ is None else max(self.last_step_, step)
        self._feed(step, values, train, heldout, beside)
        self._history.after_record(self)

    def _feed(self, step: int, values: list[float | None], train: float | None,
              heldout: float | None, beside: float | None = None) -> list[Alert]:
        """One record's values of the followed metrics (None: not in the record); `beside`:
        the train loss beside a held-out loss, before the trackers judge this record."""
        alerts: list[Alert] = []
        if beside is not None and math.isfinite(beside):
            self.train_loss_.update(step, beside)
        for tracker, value in zip(self.trackers_, values):
            if value is None:
                continue
            if not abs(value) <= MAX_VALUE:  # NaN, infinite, or too large to analyse
                if self.config.check_finite:
                    label = tracker.series.label
                    alerts.append(self._alert("non_finite", step, step, label, value,
                                              f"{label} is {value} at step {step}"))
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
            alert = self._alert(event, step, onset, tracker.series.label, value, reason)
            if event == "disruption" and tracker.decided_onset is not None:
                alert = replace(alert, decided_onset=tracker.decided_onset)
            alerts.append(alert)
        if self.nll_gap_ is not None:
            alerts.extend(self._update_nll_gap(step, train, heldout))
        return alerts

    def _value(self, name: str, series: Series, step: int,
               metrics: Mapping[str, Any]) -> float | None:
        own = self._own_name(name, series, metrics)
        if own is None:
            return None
        value = to_float(metrics.get(own))
        if value is None:
            return None
        if series.last_step is not None and step <= series.last_step:
            self.ignored_backwards_ += 1
            return None
        return value

    def _own_name(self, name: str, series: Series, metrics: Mapping[str, Any]) -> str | None:
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
            series.label = own
        return own if own in metrics else None

    def _update_nll_gap(self, step: int, train: float | None,
                        heldout: float | None) -> list[Alert]:
        gap = self.nll_gap_
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
        return [self._alert(event, step, onset, gap.heldout.label, heldout, reason)]

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
    def state(self) -> MonitorState:
        """Everything needed to resume, as a typed, versioned record."""
        state = self.snapshot()
        state.config = asdict(self.config)
        return state

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, as plain JSON types (`MonitorState.to_dict`)."""
        return self.state().to_dict()

    def load_state(self, st: MonitorState) -> None:
        """Resume from `state()` (the config saved with it wins)."""
        names = {f.name for f in fields(MonitorConfig)}
        self.config = MonitorConfig(**{k: v for k, v in st.config.items() if k in names})
        self._build()
        self._restore(st)

    def _restore(self, st: MonitorState) -> None:
        for tracker, saved in zip(self.trackers_, st.trackers):
            tracker.load(saved)
        if self.nll_gap_ is not None and st.nll_gap is not None:
            self.nll_gap_.load(st.nll_gap)
        if self.train_loss_ is not None and st.train_loss is not None:
            self.train_loss_.load(st.train_loss)
        self.stop_reason_ = StopReason[st.stop_reason]
        self.stop_alert_ = Alert(**st.stop_alert) if st.stop_alert else None
        self.n_records_, self.last_step_ = st.n_records, st.last_step
        self.overfit_fired_ = st.overfit_fired
        self.seen_ = dict.fromkeys(st.seen)
        self.resolved_ = dict(st.resolved)
        self.ignored_backwards_ = st.ignored_backwards
        self.events_ = [list(e) for e in st.events]
        self._relabel()

    def _relabel(self) -> None:
        series = [t.series for t in self.trackers_]
        if self.nll_gap_ is not None:
            series += [self.nll_gap_.train, self.nll_gap_.heldout]
        if self.train_loss_ is not None:
            series.append(self.train_loss_.series)
        for s in series:
            s.label = self.resolved_.get(s.name, s.name)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from `state_dict()`, of this version or an earlier one."""
        self.load_state(MonitorState.from_dict(state))


# ---------------------------------------------------------------------- helpers
def _sign(direction: str) -> float:
    return 1.0 if direction == "max" else -1.0


__all__ = ["EVENTS", "PhaseMonitor"]
