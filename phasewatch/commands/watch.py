"""`phasewatch watch PATH`: live phase alerts on a log, replayed from the top or followed.

Without --follow the log is replayed from its first record as if it were live (the alerts a
monitor would have raised, at the steps it would have raised them); with --follow it is read
to the end and then followed as it grows. Both feed the same parser the same complete lines
in the same order, so they give exactly the same alerts on the same data.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from phasewatch.errors import InputError, UsageError
from phasewatch.online import MonitorConfig
from phasewatch.output import warn as _warn
from phasewatch.presets import PERFORMANCE_ROLES, aliases_for, default_direction

HELP = "live phase alerts (disruption, readaptation, overfit...) on a log, replayed or followed"
PHASES = ("disruption", "readaptation", "improvement", "plateau", "overfit")
MAX_LINE_WARNINGS = 20
SCAN_LINES = 100_000  # lines read to choose the default metric
WEBHOOK_EXIT_WAIT = 5.0  # seconds watch waits at exit for undelivered webhook alerts


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", metavar="PATH", help="a log file or a native run folder")
    parser.add_argument("--follow", "-f", action="store_true",
                        help="keep following the file as it grows (Ctrl-C to stop)")
    parser.add_argument("--metric", help="performance metric (default: the run's own, else the "
                        "first of eval/accuracy, eval/loss, train/reward in the log)")
    parser.add_argument("--direction", choices=("max", "min"),
                        help="is higher better? (default from the metric's name)")
    parser.add_argument("--format", choices=("text", "jsonl"), default="text", dest="output",
                        help="text: one line per alert; jsonl: one JSON object per alert")
    parser.add_argument("--stop-on", action="append", choices=PHASES, metavar="PHASE",
                        help=f"exit 1 when this phase is entered ({', '.join(PHASES)}); "
                        "repeatable")
    parser.add_argument("--webhook", metavar="URL", help="POST each alert as JSON to URL")
    parser.add_argument("--stop-file", metavar="PATH",
                        help="create this file when a stop condition fires (default condition: "
                        "overfit)")
    parser.add_argument("--check-finite", action="store_true",
                        help="a NaN/inf value of the metric is an alert and a stop condition "
                        "(default: treated as missing)")
    # Defaults come from MonitorConfig, so the command and the library decide alike.
    defaults = {f.name: f.default for f in dataclasses.fields(MonitorConfig)}
    parser.add_argument("--warmup", type=int, default=defaults["warmup"],
                        help="evaluations before any alert (default %(default)s)")
    parser.add_argument("--window", type=int, default=defaults["window"],
                        help="values in the centred median that smooths the metric (odd, "
                        "default %(default)s)")
    parser.add_argument("--z", type=float, default=defaults["z"],
                        help="significance in standard errors (default %(default)s)")
    parser.add_argument("--min-delta", type=float, default=defaults["min_delta_abs"],
                        help="smallest change that counts, in metric units (default %(default)s)")
    parser.add_argument("--poll", type=float, default=0.25, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    path = Path(args.path)
    stop = threading.Event()  # set by SIGINT / SIGTERM: ends watching cleanly
    previous = _install_signal_handlers(stop)
    try:
        module = _sniff(path, args.follow, args.poll, stop)
        if module is None:  # interrupted while waiting for the first records
            return 0
        return _watch(args, path, module, stop)
    finally:
        _restore_signal_handlers(previous)


def _watch(args: argparse.Namespace, path: Path, module: ModuleType,
           stop: threading.Event) -> int:
    from phasewatch.alerts import JsonlSink, StopFile, TextSink, WebhookSink
    from phasewatch.online import PhaseMonitor

    lines_file = _lines_file(module, path)
    if args.follow and lines_file is None:
        raise UsageError(f"{module.FORMAT} logs cannot be followed line by line; run without "
                         "--follow to replay the log as it is")
    metric, direction = _choose_metric(args, module, path, lines_file)
    stop_on = list(args.stop_on or ())
    if args.stop_file and not stop_on:
        stop_on = ["overfit"]
    try:
        monitor = PhaseMonitor(metric=metric, direction=direction, stop_on=stop_on,
                               check_finite=args.check_finite, warmup=args.warmup,
                               window=args.window, z=args.z, min_delta_abs=args.min_delta)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    sinks: list[Any] = [JsonlSink() if args.output == "jsonl" else TextSink()]
    if args.webhook:
        try:
            sinks.append(WebhookSink(args.webhook, source=str(path)))
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    stop_file = StopFile(args.stop_file) if args.stop_file else None
    watcher = _Watcher(monitor, path, stop)
    try:
        records = (watcher.records_from_lines(module, lines_file, args.follow, args.poll)
                   if lines_file is not None else watcher.records_from_run(module, path))
        events = _known_events(module, path)
        for step, values in records:
            while events and step >= events[0][0]:
                monitor.mark_event(*events.pop(0))
            alerts = monitor.update(step, values)
            for alert in alerts:
                for sink in sinks:
                    sink.emit(alert)
            if monitor.should_stop:
                if stop_file is not None:
                    stop_file.trigger(monitor.stop_alert_)
                break
            if stop.is_set():
                break
        watcher.finish()
    finally:
        for sink in sinks:
            sink.close(**({"wait": WEBHOOK_EXIT_WAIT} if isinstance(sink, WebhookSink) else {}))
    _summary(monitor, metric)
    return 1 if monitor.should_stop else 0


class _Watcher:
    """Turns a log into (step, values) records for the monitor, reporting bad input once."""

    def __init__(self, monitor, path: Path, stop: threading.Event):
        self.monitor, self.path, self.stop = monitor, path, stop
        self.bad_lines = 0
        self.warned_missing = False
        self.following_said = False

    def records_from_lines(self, module: ModuleType, file: Path, follow: bool,
                           poll: float) -> Iterator[tuple[int, dict]]:
        from phasewatch.follow import NEW_FILE, LineSource

        source = LineSource(file, follow=follow, poll_interval=poll, stop=self.stop,
                            notice=_warn, on_idle=self._caught_up)
        parser = module.LineParser()
        for lineno, text in source:
            if (lineno, text) == NEW_FILE:
                parser = module.LineParser()
                continue
            try:
                records = parser.feed(text, lineno)
            except (ValueError, TypeError) as exc:
                self._bad_line(file, lineno, str(exc))
                continue
            yield from records
        for note in getattr(parser, "notes", ()):
            _warn(f"{file}: {note}")

    def records_from_run(self, module: ModuleType, path: Path) -> Iterator[tuple[int, dict]]:
        """Formats without a line parser (TensorBoard, W&B, MLflow, trainer_state.json):
        replayed in step order from the resolved run."""
        import numpy as np

        run = module.read(path)
        for warning in run.warnings:
            _warn(f"{path}: {warning}")
        wide = run.wide()
        names = list(wide.columns)
        for step, row in zip(wide.index.to_numpy(), wide.to_numpy(dtype=np.float64)):
            yield int(step), {n: v for n, v in zip(names, row) if not np.isnan(v)}

    def _caught_up(self) -> None:
        """Called each time the follower has read all there is."""
        if not self.following_said:
            self.following_said = True
            _info(f"following {self.path} (caught up after {self.monitor.n_records_} records; "
                  "Ctrl-C to stop)")
        self._check_missing()

    def _bad_line(self, file: Path, lineno: int, reason: str) -> None:
        self.bad_lines += 1
        if self.bad_lines <= MAX_LINE_WARNINGS:
            _warn(f"{file}:{lineno}: skipped a line that is not a valid record: {reason}")
        if self.bad_lines == MAX_LINE_WARNINGS:
            _warn(f"{file}: further bad lines are counted, not shown")

    def _check_missing(self) -> None:
        monitor = self.monitor
        missing = monitor.missing_metrics()
        if self.warned_missing or not missing or monitor.n_records_ == 0:
            return
        from phasewatch.run import unknown_metric_message

        self.warned_missing = True
        for name in missing:
            _warn(unknown_metric_message(name, monitor.metrics_seen)
                  .replace("in this run", "in the records so far"))

    def finish(self) -> None:
        self._check_missing()
        if self.bad_lines > MAX_LINE_WARNINGS:
            _warn(f"{self.path}: skipped {self.bad_lines} lines that are not valid records")
        if self.monitor.ignored_backwards_:
            _warn(f"{self.path}: ignored {self.monitor.ignored_backwards_} values whose step was "
                  "not after the last one seen (a resumed run re-logging steps)")


def _sniff(path: Path, follow: bool, poll: float, stop: threading.Event) -> ModuleType | None:
    """The reader for `path`. When following, a file that exists but is still empty (or too
    short to recognise) is waited for; a path that does not exist is an error (exit 3)."""
    from phasewatch.io import HEAD_BYTES, sniff_format

    told = False
    while True:
        try:
            return sniff_format(path)
        except InputError as exc:
            young = path.is_file() and path.stat().st_size < HEAD_BYTES
            if not (follow and young):
                raise
            if not told:
                _warn(f"{path}: no recognisable records yet ({exc.message}); waiting for them")
                told = True
        if stop.wait(poll):
            return None


def _lines_file(module: ModuleType, path: Path) -> Path | None:
    """The file whose lines the format's LineParser reads, or None if it cannot stream."""
    if not hasattr(module, "LineParser"):
        return None
    if path.is_dir():
        from phasewatch.io import native

        return path / native.METRICS_FILE if module is native else None
    return path


def _choose_metric(args, module: ModuleType, path: Path,
                   lines_file: Path | None) -> tuple[str, str]:
    metric = args.metric
    direction = args.direction
    meta = _run_json(module, path)
    if metric is None and meta.get("performance_metric"):
        metric = str(meta["performance_metric"])
        direction = direction or meta.get("direction")
    if metric is None:
        names = _metric_names(module, path, lines_file)
        aliases = aliases_for(names)
        for role, role_direction in PERFORMANCE_ROLES:
            if role in names or role in aliases:
                metric, direction = role, direction or role_direction
                break
        else:
            if names:
                raise UsageError("no performance metric (eval/accuracy, eval/loss, train/reward "
                                 "or a framework's name for one) in this log; choose one with "
                                 f"--metric (metrics: {', '.join(sorted(names)[:20])})")
            metric = "eval/accuracy"
            _warn(f"{path}: no records yet; watching '{metric}' (use --metric to choose)")
    if direction not in ("max", "min"):
        direction = default_direction(metric)
    return metric, direction


def _known_events(module: ModuleType, path: Path) -> list[tuple[int, str]]:
    """Known boundaries from a native run.json (e.g. the SFT->RL switch), by step."""
    events = []
    for event in _run_json(module, path).get("events") or []:
        try:
            events.append((int(event["step"]), str(event["name"])))
        except (KeyError, TypeError, ValueError):
            continue
    return sorted(events)


def _run_json(module: ModuleType, path: Path) -> dict:
    if module.FORMAT != "native":
        return {}
    folder = path if path.is_dir() else path.parent
    try:
        return module.read_run_json(folder / module.RUN_FILE)
    except InputError:  # a damaged run.json costs the known events, not the watch
        return {}


def _metric_names(module: ModuleType, path: Path, lines_file: Path | None) -> set[str]:
    """Metric names in the log as it is now (the first SCAN_LINES lines of a line format)."""
    if lines_file is None:
        return set(module.read(path).metrics)
    from phasewatch.follow import NEW_FILE, LineSource

    parser, names = module.LineParser(), set()
    for i, (lineno, text) in enumerate(LineSource(lines_file, follow=False, notice=_warn)):
        if i >= SCAN_LINES or (lineno, text) == NEW_FILE:
            break
        try:
            for _, values in parser.feed(text, lineno):
                names.update(k for k, v in values.items() if _is_number(v))
        except (ValueError, TypeError):
            continue
    return names


def _is_number(value: Any) -> bool:
    from phasewatch.run import to_float

    number = to_float(value)
    return number is not None and not math.isnan(number)


def _summary(monitor, metric: str) -> None:
    phase = monitor.phase or "no significant change yet"
    best = "-" if monitor.best_step is None else monitor.best_step
    reason = "" if not monitor.should_stop else f"; stopped: {monitor.stop_reason_.name.lower()}"
    _info(f"watched {monitor.n_records_} records up to step {monitor.last_step_}; {metric}: "
          f"phase {phase}, best step {best}{reason}")


def _install_signal_handlers(stop: threading.Event) -> dict:
    """SIGINT/SIGTERM set `stop`; the loop then ends cleanly (exit 0, or 1 if stopped)."""
    previous = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda signum, frame: stop.set())
    return previous


def _restore_signal_handlers(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def _info(message: str) -> None:
    print(f"phasewatch: {message}", file=sys.stderr, flush=True)
