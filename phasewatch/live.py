"""Watching a log live: reader -> records -> the offline rules -> `PhaseMonitor` -> alerts.

`LiveWatch(path, follow=...)` reads the same `RecordSource` `read_run` collects (so every
format that can be read can be followed), and applies what `analyze` applies:
- the metric: `signals.choose_metric` / `choose_direction` on the records read so far, and the
  monitor follows the log's own name (`val/test_score/openai/gsm8k`, not the role
  `eval/accuracy`). Without `--metric` the choice waits for a held-out metric (or the run's
  declared one) to appear: a log that starts with train rows must not get a train metric live
  and a held-out one offline. Held records are fed once the choice is made, so the alerts are
  those of a monitor that saw every record, only later; if no held-out metric comes before the
  log ends (or `MAX_HELD` records), the choice is made from what there is.
- duplicates and resumes (`Resolver`): rows of one step merge, exact double logging collapses,
  a row that re-logs a followed value of the current step with another value supersedes it,
  and a step counter that goes back is a resumed run: the monitor rewinds to that step and the
  later records supersede the earlier ones, as `RecordCollector` resolves them offline.
- events: phases restart only on a change of training stage (`analysis.STAGE_EVENTS`), at the
  first record at or after the event's step.
Replayed (`follow=False`) or followed, the records, the choices and so the alerts are the same:
every decision depends on the sequence of records, never on when they arrived.

Following, a path that does not exist yet (started before the trainer) is waited for, the run's
end is recognised where the log says so (`RunInfo.finished`) and `idle_exit` ends a watch on a
log that stopped growing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasewatch.errors import InputError
from phasewatch.output import warn
from phasewatch.resolver import Resolver

MAX_HELD = 10_000  # records held while waiting for a held-out metric to appear
MAX_LINE_WARNINGS = 20
HELD_OUT_ROLES = ("eval/accuracy", "eval/loss")


def _info(message: str) -> None:
    import sys

    print(f"phasewatch: {message}", file=sys.stderr, flush=True)


@dataclass
class WatchResult:
    """How a watch ended: `reason` is 'end of log' (replay), 'finished' (the log says so),
    'idle', 'stopped' (a stop condition), 'interrupted' (stop event / signal) or 'no records'."""

    reason: str = "end of log"
    metric: str | None = None
    direction: str | None = None
    phase: str | None = None
    best_step: int | None = None
    last_step: int | None = None
    n_records: int = 0
    finished: bool = False
    live_best_step: int | None = None   # the monitor's own best at the end
    phases: list[str] | None = None      # the whole run's phases, as `analyze` names them
    resumes: list[tuple[int, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The last object of `watch --format jsonl` (deterministic: no end reason that
        depends on how the watch was ended, so replay and follow print the same)."""
        phase = self.phase or "no significant change yet"
        return {"event": "summary", "step": self.last_step, "onset_step": None,
                "best_step": self.best_step, "metric": self.metric, "value": None,
                "message": f"{self.metric}: phase {phase}, best step "
                           f"{'-' if self.best_step is None else self.best_step}",
                "phase": self.phase, "direction": self.direction, "records": self.n_records,
                "finished": self.finished, "live_best_step": self.live_best_step,
                "phases": self.phases}


class LiveWatch:
    """Replay or follow one log with a `PhaseMonitor`; iterate `alerts()`, then read `result`.

    `metric`/`direction` as in `analyze`; `monitor_options` are `MonitorConfig` fields
    (warmup, window, z, min_delta_abs, stop_on, check_finite...). `stop` (a threading.Event)
    ends a follow cleanly; `notice` receives the messages meant for stderr.
    """

    def __init__(self, path: str | Path, follow: bool = False, metric: str | None = None,
                 direction: str | None = None, poll: float = 0.25,
                 idle_exit: float | None = None, stop: threading.Event | None = None,
                 notice: Callable[[str], None] = warn, info: Callable[[str], None] = _info,
                 **monitor_options: Any):
        from phasewatch.online import MonitorConfig

        self.path = Path(path)
        self.follow = follow
        self.metric_option = metric
        self.direction_option = direction
        self.poll = poll
        self.idle_exit = idle_exit
        self.stop = stop or threading.Event()
        self.notice = notice
        self.say = info
        # Validate the monitor options now (a usage error, before any file is read).
        from phasewatch.errors import UsageError

        try:
            MonitorConfig(metric=metric or "eval/accuracy", direction=direction,
                          **monitor_options)
        except (ValueError, TypeError) as exc:
            raise UsageError(str(exc)) from exc
        self.monitor_options = monitor_options
        self.monitor = None
        self.source = None
        self.result = WatchResult()
        self._held: list = []
        self._names: dict[str, None] = {}
        self._applied: set[tuple[int, str]] = set()
        self._bad_lines = 0
        self._warned = 0
        self._said_following = False
        self._said_holding = False
        self._warned_missing = False
        self._resolver: Resolver | None = None

    # ------------------------------------------------------------------ public
    def alerts(self) -> Iterator:
        """The alerts, in the order the monitor raises them."""
        source = self._open()
        if source is None:
            self.result.reason = "interrupted" if self.stop.is_set() else "idle"
            return
        self.source = source
        source.on_bad_line = self._bad_line
        try:
            yield from self._run(source)
        finally:
            source.close()
            self._finish()

    # ------------------------------------------------------------------ the loop
    def _run(self, source) -> Iterator:
        last_growth = time.monotonic()
        while True:
            final = not self.follow
            got = False
            for record in source.read(final=final):
                got = True
                yield from self._take(record)
                if self._stopped():
                    return
            self._report_warnings()
            if not self.follow:
                yield from self._end("end of log")
                return
            if source.info.finished:  # the log says the run is over: read what is left
                for record in source.read(final=True):
                    yield from self._take(record)
                    if self._stopped():
                        return
                self._report_warnings()
                yield from self._end("finished")
                return
            now = time.monotonic()
            if got:
                last_growth = now
            self._caught_up()
            if self.idle_exit is not None and now - last_growth >= self.idle_exit:
                yield from self._end("idle")
                return
            if self.stop.wait(self.poll):
                yield from self._end("interrupted")
                return

    def _stopped(self) -> bool:
        if self.monitor is not None and self.monitor.should_stop:
            self.result.reason = "stopped"
            return True
        return False

    def _take(self, record) -> Iterator:
        if self.monitor is None:
            self._held.append(record)
            new = [k for k in record.values if k not in self._names]
            if new:
                self._names.update(dict.fromkeys(new))
            if (new or len(self._held) >= MAX_HELD) and self._choose(force=len(self._held) >= MAX_HELD):
                yield from self._feed_held()
            return
        yield from self._feed(record)

    def _feed_held(self) -> Iterator:
        held, self._held = self._held, []
        for record in held:
            yield from self._feed(record)
            if self._stopped():
                return

    def _feed(self, record) -> Iterator:
        self._apply_events(record.step)
        alerts, rewound = self._resolver.feed(record.step, record.values, record.group)
        if rewound is not None:
            self._applied = {e for e in self._applied if e[0] < rewound}
            self._apply_events(record.step)
        yield from alerts

    def _end(self, reason: str) -> Iterator:
        if self.monitor is None and self._held:
            self._choose(force=True)
            yield from self._feed_held()
        if self.result.reason != "stopped":
            self.result.reason = reason if self.monitor is not None or reason != "end of log" \
                else "no records"

    # ------------------------------------------------------------------ choices
    def _choose(self, force: bool) -> bool:
        """Choose the metric and direction as `analyze` would on the records so far; False
        (keep holding) while no held-out metric has appeared, unless `force`."""
        from phasewatch.presets import aliases_for

        names = self._names
        aliases = aliases_for(names)
        wanted = self.metric_option
        info = self.source.info
        if wanted is not None:
            ready = wanted in names or wanted in aliases
        else:
            declared = info.performance_metric
            ready = bool(declared) and (declared in names or declared in aliases)
            ready = ready or any(r in names or r in aliases for r in HELD_OUT_ROLES)
        if not (ready or force):
            return False
        self._start_monitor(self._prefix_run())
        return True

    def _prefix_run(self):
        from phasewatch.run import RecordCollector

        collector = RecordCollector(self.source.source, self.source.format)
        for record in self._held:
            collector.add(record.step, record.values, record.line)
        return collector.build(**self.source.info.build_args())

    def _start_monitor(self, run) -> None:
        from phasewatch.online import PhaseMonitor
        from phasewatch.presets import default_direction
        from phasewatch.signals import choose_direction, choose_metric

        wanted = self.metric_option
        if wanted is not None and run.own_name(wanted) is None:
            own, direction = wanted, self.direction_option or default_direction(wanted)
        else:
            metric = choose_metric(run, wanted)
            direction = choose_direction(run, metric, self.direction_option)
            own = run.resolve_metric(metric)
        self.monitor = PhaseMonitor(metric=own, direction=direction, **self.monitor_options)
        self._resolver = Resolver(self.monitor, self._resumed)
        self.result.metric, self.result.direction = own, direction

    def _apply_events(self, step: int) -> None:
        events = self.source.info.events
        if not events:
            return
        from phasewatch.analysis import STAGE_EVENTS

        for event in sorted(events, key=lambda e: e.step):
            key = (event.step, event.name)
            if event.step > step:
                break
            if event.name in STAGE_EVENTS and key not in self._applied:
                self._applied.add(key)
                self.monitor.mark_event(event.step, event.name)

    # ------------------------------------------------------------------ messages
    def _resumed(self, previous: int, step: int) -> None:
        self.result.resumes.append((previous, step))
        how = ("the monitor rewinds and the later records supersede the earlier ones"
               if self._resolver is None or self._resolver.can_rewind else
               "this monitor cannot rewind: re-logged values are ignored")
        self.notice(f"{self.source.source}: step counter went back from {previous} to {step}; "
                    f"treated as a resumed run ({how})")

    def _bad_line(self, file: Path, lineno: int, reason: str) -> None:
        self._bad_lines += 1
        if self._bad_lines <= MAX_LINE_WARNINGS:
            self.notice(f"{file}:{lineno}: skipped a line that is not a valid record: {reason}")
        if self._bad_lines == MAX_LINE_WARNINGS:
            self.notice(f"{file}: further bad lines are counted, not shown")

    def _report_warnings(self) -> None:
        warnings = self.source.warnings
        for warning in warnings[self._warned:]:
            self.notice(f"{self.source.source}: {warning}")
        self._warned = len(warnings)

    def _caught_up(self) -> None:
        """Each time the follower has read all there is."""
        if not self._said_following:
            self._said_following = True
            n = self.monitor.n_records_ if self.monitor is not None else len(self._held)
            self.say(f"following {self.path} (caught up after {n} records; Ctrl-C to stop)")
        if self.monitor is None and self._held and not self._said_holding:
            self._said_holding = True
            what = (f"'{self.metric_option}'" if self.metric_option else
                    "a held-out metric (eval/accuracy, eval/loss or the run's declared one)")
            self.say(f"no {what} in the records yet; holding them until it appears or the log "
                     "ends (pass --metric to choose another one now)")
        self._check_missing()

    def _check_missing(self) -> None:
        if self._warned_missing or self.metric_option is None:
            return
        from phasewatch.presets import aliases_for
        from phasewatch.run import unknown_metric_message

        if self.monitor is not None:
            missing = bool(self.monitor.missing_metrics()) and self.monitor.n_records_ > 0
            names = self.monitor.metrics_seen
        else:
            names = list(self._names)
            missing = bool(names) and self.metric_option not in names \
                and self.metric_option not in aliases_for(names)
        if missing:
            self._warned_missing = True
            self.notice(unknown_metric_message(self.metric_option, names)
                        .replace("in this run", "in the records so far"))

    def _finish(self) -> None:
        self._check_missing()
        source = self.source
        for note in getattr(source, "notes", ()):
            self.notice(f"{source.source}: {note}")
        if self._bad_lines > MAX_LINE_WARNINGS:
            self.notice(f"{self.path}: skipped {self._bad_lines} lines that are not valid records")
        result = self.result
        result.finished = bool(source.info.finished)
        monitor = self.monitor
        if monitor is not None:
            result.phase, result.best_step = monitor.phase, monitor.best_step
            result.last_step, result.n_records = monitor.last_step_, monitor.n_records_
            result.live_best_step = monitor.best_step
            if not monitor.missing_metrics():  # a metric never logged is reported already
                self._whole_run()

    def _whole_run(self) -> None:
        """At the end, the whole run as `analyze` sees it: its phases, and its recommended
        checkpoint as the best step, so `watch` run to the end and `analyze` give one answer.
        The live alerts stay what the monitor said when it said it (bounded state); this reads
        the log once more, after the watch."""
        from phasewatch.analysis import analyze_run
        from phasewatch.errors import PhasewatchError
        from phasewatch.io import read_run

        result = self.result
        try:
            analysis = analyze_run(read_run(self.path), metric=result.metric,
                                   direction=result.direction)
        except PhasewatchError as exc:
            self.notice(f"{self.path}: the whole-run summary is not available: {exc}")
            return
        result.phases = [p.name for p in analysis.phases]
        if analysis.recommended_stop_step is not None:
            result.best_step = analysis.recommended_stop_step

    # ------------------------------------------------------------------ opening
    def _open(self):
        """The source for the path; following, waits for the path to appear and hold
        something recognisable (said once on stderr). None if stopped or idle meanwhile."""
        from phasewatch.io import open_source

        told = None
        started = time.monotonic()
        while True:
            try:
                if self.follow:
                    _check_ready(self.path)
                return open_source(self.path, follow=self.follow, notice=self.notice)
            except InputError as exc:
                if not self.follow or not _may_still_come(self.path):
                    raise
                if told is None:
                    if not self.path.exists():
                        self.say(f"{self.path} does not exist yet; waiting for it to appear "
                                 "(Ctrl-C to stop)")
                    else:
                        self.say(f"{self.path}: no recognisable records yet ({exc.message}); "
                                 "waiting for them")
                    told = True
            if self.idle_exit is not None and time.monotonic() - started >= self.idle_exit:
                return None
            if self.stop.wait(self.poll):
                return None


def _check_ready(path: Path) -> None:
    """A young file whose first line is still being written is not sniffed yet (a cut JSON
    line could pass for another format)."""
    from phasewatch.io import HEAD_BYTES, read_head

    if path.is_file():
        head = read_head(path)
        binary = head.startswith(b":W&B") or b"brain.Event" in head[:256]
        if len(head) < HEAD_BYTES and b"\n" not in head and not binary and not _is_json(head):
            raise InputError("the first line is not complete yet", path)


def _is_json(data: bytes) -> bool:
    """A whole JSON document on one line (a trainer_state.json written without indent)."""
    from phasewatch.io.jsonlines import loads

    try:
        loads(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return True


def _may_still_come(path: Path) -> bool:
    """Whether waiting can help: the path is missing, a folder, or a file still small."""
    from phasewatch.io import HEAD_BYTES

    if not path.exists() or path.is_dir():
        return True
    try:
        return path.stat().st_size < HEAD_BYTES
    except OSError:
        return True


def watch(path: str | Path, follow: bool = False, **options: Any) -> Iterator:
    """Alerts of a log, replayed from the top as if live (or followed as it grows).

    Options: `metric`, `direction` (as `analyze`), `poll`, `idle_exit` (seconds without new
    records that end a follow), `stop` (a threading.Event), and the `MonitorConfig` fields
    (`warmup`, `window`, `z`, `min_delta_abs`, `stop_on`, `check_finite`...). Iteration ends
    at the end of the log (replay), when the log says the run finished, after `idle_exit`,
    when `stop` is set, or at a stop condition (`stop_on`).
    """
    return LiveWatch(path, follow=follow, **options).alerts()
