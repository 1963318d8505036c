"""Watching a log live: reader -> records -> the offline rules -> `PhaseMonitor` -> alerts.

`LiveWatch(path, follow=...)` reads the same `RecordSource` `read_run` collects (so every
format that can be read can be followed), and applies what `analyze` applies:
- the metric: chosen as `analyze` chooses it, under the log's own name (`live_choice`);
- duplicates and resumes (`resolver.Resolver`): rows of one step merge before the monitor
  sees the step, exact double logging collapses, a value re-logged at its step supersedes the
  earlier one, and a step counter that goes back is a resumed run: the monitor rewinds to that
  step, forgetting the abandoned branch's records from it on, as `RecordCollector` drops them
  offline;
- events: phases restart only on a change of training stage (`stages.STAGE_EVENTS`), at the
  first record at or after the event's step.
Replayed (`follow=False`) or followed, the records, the choices and so the alerts are the same:
every decision depends on the sequence of records, never on when they arrived.

Following, a path that does not exist yet is waited for (`live_open`), the run's end is
recognised where the log says so (`RunInfo.finished`, or `crashed` for a run an error ended,
once FINISH_GRACE seconds passed with no new record) and `idle_exit` ends a watch on a log that stopped growing. At the end, `result`
(`live_result.WatchResult`) holds the monitor's last state and the whole run's answer as
`analyze` gives it. In an HF output folder, alerts and
summary also name the saved checkpoint to load (`saved_checkpoints`).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phasewatch.live_checkpoints import LiveCheckpoints
from phasewatch.live_choice import MAX_HELD, MetricChoice  # noqa: F401
from phasewatch.live_divergence import LiveDivergence
from phasewatch.live_messages import MAX_LINE_WARNINGS, LiveMessages
from phasewatch.live_open import open_when_ready
from phasewatch.live_plan import LivePlan
from phasewatch.live_refusals import (
    refuse_bad_options,
    refuse_missing_metric,
    refuse_no_records,
)
from phasewatch.live_result import WatchResult, end_result
from phasewatch.live_said import SaidAlerts
from phasewatch.live_sets import LiveAxis, SetMean, as_watched, choose_sets
from phasewatch.output import warn
from phasewatch.resolver import Resolver
from phasewatch.set_names import loader_bases
from phasewatch.step_counters import LiveCounters, own_counter
from phasewatch.text_cells import WatchedCells

if TYPE_CHECKING:  # io.source imports run.py (pandas): not on the import path of a watch
    from phasewatch.io.source import Record

__all__ = ["LiveWatch", "WatchResult", "watch"]

FINISH_GRACE = 10.0  # seconds a follow waits after the log says the run finished: an HF
# train() ends with a summary row, and a script may train again into the same log (trial 30)


def _info(message: str) -> None:
    print(f"phasewatch: {message}", file=sys.stderr, flush=True)


class LiveWatch(LiveMessages):
    """Replay or follow one log with a `PhaseMonitor`; iterate `alerts()`, then read `result`.

    `metric`/`direction`/`aggregate` (the mean of several validation sets) as in `analyze`;
    `x` (epoch, tokens, samples) says where each alert happened in that unit; `monitor_options` are `MonitorConfig` fields
    (warmup, window, z, min_delta_abs, stop_on, check_finite...). `stop` (a threading.Event)
    ends a follow cleanly; `notice` receives warnings, `info` progress messages (stderr)."""

    def __init__(self, path: str | Path, follow: bool = False, metric: str | None = None,
                 direction: str | None = None, poll: float = 0.25,
                 idle_exit: float | None = None, stop: threading.Event | None = None,
                 notice: Callable[[str], None] = warn, info: Callable[[str], None] = _info,
                 aggregate: str | None = None, x: str | None = None,
                 **monitor_options: Any):
        from phasewatch.io import checked_path

        checked_path(path)
        refuse_bad_options(metric, direction, idle_exit, monitor_options)
        self.path = Path(path)
        self.given_path = str(path)  # as given: a Path folds the // of an mlflow+http:// address
        self.follow, self.metric_option, self.poll, self.idle_exit = follow, metric, poll, idle_exit
        self.stop = stop or threading.Event()
        self.notice = notice
        self.say = info
        self.monitor_options = monitor_options
        self.monitor = None
        self.plan = LivePlan(self.say)  # the planned length and where it came from
        self.source = None
        self.result = WatchResult()
        self.choice = MetricChoice(metric, direction)
        self.aggregate = aggregate
        self.axis = LiveAxis.for_unit(x)
        self.set_mean: SetMean | None = None
        self._checkpoints = LiveCheckpoints(None)  # in an HF output folder: `_start`
        self._applied: set[tuple[int, str]] = set()
        self._resolver: Resolver | None = None
        self._said = SaidAlerts()  # a rewind's repeats are said once
        self._counters = LiveCounters()  # each metric's steps: per epoch beside per batch?
        self._cells = WatchedCells()  # text among a metric's numbers, said at the end
        # records the monitor saw (fed, not read: held ones are fed after the choice, trial 38b):
        self._taken = 0  # a stopped watch's summary reads as many (`_feed`)
        self._bad_lines = 0
        self._noted: set[str] = set()  # the notes on the metric chosen (`end_result` adds the rest)
        self._warned = 0
        self._replayed = None  # a replay's records as fed (`RunCollector`): its summary's run
        self._said_following = False
        self._said_holding = False
        self.warned_missing = False
        self._started = time.monotonic()  # (again) when `alerts` starts

    @property
    def stopped(self) -> bool:
        """A stop condition (`stop_on`, `check_finite`) fired."""
        return self.monitor is not None and self.monitor.should_stop

    # ------------------------------------------------------------------ public
    def __iter__(self) -> Iterator:
        return self.alerts()

    def alerts(self) -> Iterator:
        """The alerts, in the order the monitor raises them."""
        self._started = time.monotonic()
        self.result.source = self.given_path
        source, quiet_since = open_when_ready(self.path, self.follow, self.notice, self.say,
                                              self.poll, self.idle_exit, self.stop)
        if source is None:
            self.result.reason = "interrupted" if self.stop.is_set() else "idle"
            self.result.waited = time.monotonic() - self._started
            if self.result.reason == "idle":
                refuse_no_records(self, "idle")
            return
        self.source = source
        source.on_bad_line = self._bad_line
        try:
            yield from self._run(source, quiet_since)
        finally:
            source.close()
            self._finish()

    # ------------------------------------------------------------------ the loop
    def _run(self, source, quiet: float | None) -> Iterator:
        """Read what arrived, feed it, and decide whether to wait for more (`quiet`: when the
        log last grew, if it was opened after --idle-exit had passed)."""
        from phasewatch.io.groups import RunCollector

        last_growth = time.monotonic()
        idle_after = self._idle_after(source)
        self._replayed = None if self.follow else RunCollector(source)
        while True:
            got = False
            for record in source.read(final=not self.follow):
                got = True
                yield from self._take(record)
                if self._stopped():
                    return
            yield from self._flush()  # all that has arrived is read
            if self._stopped():
                return
            self._report_warnings()
            if not self.follow:
                yield from self._end("end of log")
                return
            now = time.monotonic()
            if got:  # (a log opened once --idle-exit had passed: quiet since, `live_open`)
                last_growth, quiet = (now if quiet is None else quiet), None
            idle = idle_after is not None and now - last_growth >= idle_after
            ended = source.info.finished or source.info.crashed
            if (ended and now - last_growth >= FINISH_GRACE) or idle:
                # the run is over: read what is left as a replay does (an unterminated last
                # line, a block only a next line would close)
                for record in source.read(final=True):
                    yield from self._take(record)
                    if self._stopped():
                        return
                self._report_warnings()
                yield from self._end("finished" if source.info.finished else
                                     "crashed" if source.info.crashed else "idle")
                return
            self._caught_up()
            if self.stop.wait(self.poll):
                yield from self._end("interrupted")
                return

    def _idle_after(self, source) -> float | None:
        """Seconds without new records that end a follow: --idle-exit, but never less than
        the quiet the log's writer keeps between two writes while its run goes on (W&B's
        blocks, `RecordSource.quiet_between_writes`): sooner, a live run would be ended
        between two of its writes (said once)."""
        if self.idle_exit is None or not self.follow:
            return None
        quiet = getattr(source, "quiet_between_writes", 0.0)
        if quiet <= self.idle_exit:
            return self.idle_exit
        self.say(f"{source.quiet_between_writes_why}: the follow is judged idle after {quiet:g} s "
                 f"without new records, not the --idle-exit {self.idle_exit:g} s given")
        return quiet

    def _stopped(self) -> bool:
        if self.stopped:
            self.result.reason = "stopped"
            return True
        return False

    def _flush(self, read_over: bool = True) -> Iterator:
        """Feed the step the resolver holds: the read it came with is over (`read_over`: what
        arrives later at that step is resolved by a rewind; `Resolver.flush` says when it
        holds the step longer), or the watch ends."""
        if self._resolver is not None and not self.stopped:  # nothing is fed after a stop
            for alert in self._resolver.flush(read_over):
                yield from self._say(alert)

    def _take(self, record: Record) -> Iterator:
        self._count(record)
        self._cells.add(record.values, record.line)
        if self.monitor is not None:
            yield from self._feed(record)
        elif self.choice.hold(record, self.source):
            yield from self._start()

    def _start(self) -> Iterator:
        """Choose the metric on the held records, start the monitor and feed them to it."""
        from phasewatch.choice_notes import notes_on_choice
        from phasewatch.online import PhaseMonitor
        from phasewatch.running_means import live_wording
        from phasewatch.signals import choose_direction
        from phasewatch.train_beside import is_train_metric

        metric, direction = self.choice.choose(self.source)
        held = self.choice.prefix_run(self.source)  # the held records, for analyze's choices
        if self.metric_option is None or self.choice.direction is None:  # as analyze says
            for note in notes_on_choice(held, metric, self.metric_option is not None,
                                        self.choice.direction):
                note = live_wording(note, held.own_name(metric) or metric)
                self._noted.add(note)
                self.notice(f"{self.source.source}: {note}")
        if self.metric_option is None or self.aggregate is not None \
                or any(c in self.metric_option for c in "*?[") \
                or self.metric_option in loader_bases(self.choice.names).values():
            # several validation sets behind the role (or Lightning's loaders behind `val_acc`):
            # named, or averaged, as analyze does
            watched, warnings, self.set_mean = choose_sets(held, self.metric_option,
                                                            self.aggregate)
            for warning in warnings:
                self.notice(f"{self.source.source}: {warning}")
            if self.set_mean is not None:
                metric = watched
            elif watched is not None and watched != metric:  # the log's own total over the sets
                metric, direction = watched, choose_direction(held, watched, self.choice.direction)
        options = dict(self.monitor_options)
        if own_counter(self.source.info, metric):  # the plan counts the batches' steps
            self.plan.apart = True
        self.plan.start(options, self.source.info, self.source.format)
        from phasewatch.expert_data import policy_gradient_only, watched_train_loss

        if "no_expert_data" not in options:  # as analyze reads the log (`expert_data`)
            options["no_expert_data"] = policy_gradient_only(held) is not None
        train_loss = watched_train_loss(held, metric)  # followed beside a held-out loss
        options.setdefault("held_out_loss", train_loss is not None)
        options.setdefault("train_loss", train_loss)
        # its values counted as analyze counts them: readings of training, or evaluations
        options.setdefault("train_metrics", (metric,) if is_train_metric(held, metric) else ())
        self.monitor = PhaseMonitor(metric=metric, direction=direction, **options)
        self._resolver = Resolver(self.monitor, self._resumed, before_step=self._apply_events,
                                  on_rewind=self._rewound,
                                  on_rows=self._notice_in_unit)
        self.result.metric, self.result.direction = metric, direction
        self._divergence = LiveDivergence(metric)  # the train loss turning NaN, said at once
        self._checkpoints = LiveCheckpoints.for_watch(self.path, self.source)
        self.result.aggregate = self.set_mean.sets if self.set_mean is not None else None
        for record in self.choice.release():
            yield from self._feed(record)
            if self._stopped():
                return

    def _feed(self, record) -> Iterator:
        values = record.values
        plan = self.plan.from_epochs(record.step, values, self.monitor.config.planned_steps,
                                     self.source.info.step_unit)
        if plan is not None:
            self.monitor.set_planned_steps(plan or None)
        if self.axis is not None and (note := self.axis.add(record.step, values)):
            self.notice(f"{self.source.source}: {note}")
        if self.set_mean is not None:
            mean = self.set_mean.add(record.step, values)
            if mean is not None:
                values = {**values, self.set_mean.label: mean}
        self._taken += 1
        if note := self._divergence.add(record.step, record.values):
            self._notice_in_unit(note)
        for alert in self._resolver.feed(record.step, values, record.group):
            yield from self._say(alert)
        if self.stopped:  # it completed the step that stopped the watch: not watched itself
            self._taken -= 1
        elif self._replayed is not None:
            self._replayed.add(record)
        self._checkpoints.sync(self.monitor)

    def _count(self, record) -> None:
        """Keep each metric's steps (`step_counters.LiveCounters`, judged again at the end
        too): where validations logged per epoch sit beside per-batch metrics, the source's
        `RunInfo.counters` says so as records come, so an alert says "epoch 35" where `analyze`
        of the whole log does."""
        info = self.source.info
        if not self._counters.add(record, info):
            return
        if self.monitor is not None and not self.plan.apart \
                and own_counter(info, self.result.metric) and self.plan.drop_apart(
                    self.result.metric):  # found once the epochs are 3 (`MIN_EPOCHS`)
            self.monitor.set_planned_steps(None)

    def _say(self, alert) -> Iterator:
        """`alert` as the watch gives it, unless it was given already (`live_said`)."""
        if not self._said.first_time(alert):
            return
        saved = self._checkpoints.at_alert(self.monitor, alert, self.source.info)
        yield as_watched(alert, self.axis, self.source.info, saved)

    def _rewound(self, step: int) -> None:
        """The monitor rewound to `step`: the known boundaries from it on are marked again."""
        self._applied = {e for e in self._applied if e[0] < step}
        self._checkpoints.rewind(step)
        self._apply_events(step)

    def _end(self, reason: str) -> Iterator:
        yield from self._flush(read_over=False)
        self.result.waited = time.monotonic() - self._started
        if reason in ("end of log", "finished", "crashed", "idle"):
            # the log is over, as far as this watch is concerned: what a replay of it would
            # refuse (an unknown --metric, no record at all) is refused alike
            refuse_missing_metric(self)
            refuse_no_records(self, reason)
        if self.monitor is None and self.choice.held:
            yield from self._start()
            yield from self._flush(read_over=False)
        self._stopped()  # a stop on the last step, fed only now
        if self.result.reason != "stopped":
            self.result.reason = reason if self.monitor is not None or reason != "end of log" \
                else "no records"

    def _apply_events(self, step: int) -> None:
        events = self.source.info.events
        if not events or own_counter(self.source.info, self.result.metric):
            return  # at the batches' steps, not those of a metric logged per epoch
        from phasewatch.stages import STAGE_EVENTS

        for event in sorted(events, key=lambda e: e.step):
            key = (event.step, event.name)
            if event.step > step:
                break
            if event.name in STAGE_EVENTS and key not in self._applied:
                self._applied.add(key)
                self.monitor.mark_event(event.step, event.name)

    def _finish(self) -> None:
        self._check_missing()
        source = self.source
        for note in getattr(source, "notes", ()):
            self.notice(f"{source.source}: {note}")
        for warning in self._cells.warnings(getattr(source, "where", None)):
            self.notice(f"{source.source}: {warning}")  # as analyze says it, once
        counters = source.info.counters = self._counters.judged(source.info.config)
        if counters.note is not None and self.monitor is not None \
                and self.result.metric in counters.short:  # as analyze warns of its metric
            self.notice(f"{source.source}: {counters.note}")
        if self._bad_lines > MAX_LINE_WARNINGS:
            self.notice(f"{self.given_path}: skipped {self._bad_lines} lines that are not valid "
                        "records")
        result = self.result
        # the log up to a stop says no end, whatever the rest of the file says
        result.finished = bool(source.info.finished) and not self.stopped
        result.crashed = bool(source.info.crashed) and not self.stopped
        # a finished log's plan is not past its last step (the rule inspect says it by)
        result.plan = self.plan.at_finish(source.info.step_unit) if result.finished \
            else self.plan.source
        if self.monitor is not None:
            noise = {k: self.monitor_options[k] for k in ("noise_sd", "eval_size")
                     if self.monitor_options.get(k) is not None}
            if "no_expert_data" in self.monitor_options:  # as the monitor was told, analyze too
                noise["expert_data"] = not self.monitor_options["no_expert_data"]
            end_result(result, self.monitor, source.info, self._resolver.records,
                       self.given_path, self.notice, self.axis,
                       self.monitor_options.get("planned_steps"),
                       read=self._taken if self.stopped else None,
                       said=None if self.metric_option is not None else self._noted,
                       replayed=self._replayed, **noise)


def watch(path: str | Path, follow: bool = False, **options: Any) -> Iterator:
    """Alerts of a log, replayed from the top as if live (or followed as it grows).

    Options: `metric`, `direction` (as `analyze`), `poll`, `idle_exit` (seconds without new
    records that end a follow), `stop` (a threading.Event), and the `MonitorConfig` fields
    (`warmup`, `window`, `z`, `min_delta_abs`, `stop_on`, `check_finite`...). Iteration ends
    at the end of the log (replay), when the log says the run finished, after `idle_exit`,
    when `stop` is set, or at a stop condition (`stop_on`).
    """
    return LiveWatch(path, follow=follow, **options).alerts()
