"""`phasewatch watch PATH`: live phase alerts on a log, replayed from the top or followed.

Argument handling and output only; the watching itself is `phasewatch.live.LiveWatch` (the
same records, metric choice, resume handling and event policy as `analyze`).
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from typing import Any

from phasewatch.commands.options import (
    add_expert_data_argument,
    add_noise_arguments,
    expert_data_option,
    noise_options,
    planned_step,
)
from phasewatch.errors import UsageError
from phasewatch.values import finite_float

HELP = "live phase alerts (disruption, readaptation, overfit...) on a log, replayed or followed"
PHASES = ("disruption", "readaptation", "improvement", "plateau", "overfit")
WEBHOOK_EXIT_WAIT = 5.0  # seconds watch waits at exit for undelivered webhook alerts


def configure(parser: argparse.ArgumentParser) -> None:
    from phasewatch.online.config import MonitorConfig

    parser.add_argument("path", metavar="PATH",
                        help="a log file or run folder of any supported format")
    parser.add_argument("--follow", "-f", action="store_true",
                        help="keep following the log as it grows (waits for it to appear; ends "
                        "when the log says the run finished, after --idle-exit, or on Ctrl-C)")
    parser.add_argument("--idle-exit", type=float, metavar="SECONDS",
                        help="with --follow: end (exit 0) after this long without new records "
                        "(exit 3 if no record was read at all, as a replay of that log)")
    parser.add_argument("--metric", help="performance metric (default: as analyze: the run's "
                        "declared one, else held-out accuracy/score, eval loss, train reward)")
    parser.add_argument("--aggregate", choices=("mean",),
                        help="several validation sets behind the metric: watch their mean (as "
                        "analyze --aggregate)")
    parser.add_argument("--x", choices=("step", "epoch", "tokens", "samples"), dest="x_unit",
                        help="also say where each alert happened in this unit (JSON: an x object;"
                        " the *_step fields stay steps)")
    parser.add_argument("--direction", choices=("max", "min"),
                        help="is higher better? (default: from the run, else the metric's name)")
    parser.add_argument("--format", choices=("text", "jsonl"), default="text", dest="output",
                        help="text: one line per alert; jsonl: one JSON object per alert, then "
                        "one summary object")
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
    parser.add_argument("--z", type=finite_float, default=defaults["z"],
                        help="significance in standard errors (default %(default)s)")
    parser.add_argument("--min-delta", type=finite_float, default=defaults["min_delta_abs"],
                        help="smallest change that counts, in metric units (default %(default)s)")
    parser.add_argument("--planned-steps", type=planned_step, default=None, metavar="STEPS",
                        help="the step the run is planned to end at, in the log's steps "
                        "(default: the log's max_steps / total_training_steps / total_steps / "
                        "steps, if it has one); a fall from the start still going on past the "
                        "first 40%% of it is an overfit. An HF console log without the INFO "
                        "banner counts its steps as epoch x 10,000: give the planned epochs x "
                        "10,000 (30 epochs: 300000)")
    add_noise_arguments(parser)
    add_expert_data_argument(parser)
    parser.add_argument("--poll", type=float, default=0.25, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from phasewatch.alerts import JsonlSink, StopFile, TextSink, WebhookSink
    from phasewatch.live import LiveWatch

    if args.idle_exit is not None and args.idle_exit < 0:
        raise UsageError("--idle-exit must be >= 0 seconds")
    if args.idle_exit is not None and not args.follow:
        from phasewatch.output import warn

        warn("--idle-exit applies to a follow (--follow); a replay ends at the end of the log")
    stop_on = list(args.stop_on or ())
    if args.stop_file and not stop_on:
        stop_on = ["overfit"]
    stop = threading.Event()  # set by SIGINT / SIGTERM: ends watching cleanly
    watcher = LiveWatch(args.path, follow=args.follow, metric=args.metric,
                        direction=args.direction, poll=args.poll, idle_exit=args.idle_exit,
                        aggregate=args.aggregate, x=args.x_unit,
                        stop=stop, stop_on=stop_on, check_finite=args.check_finite,
                        warmup=args.warmup, window=args.window, z=args.z,
                        min_delta_abs=args.min_delta, planned_steps=args.planned_steps,
                        **noise_options(args), **_expert_data(args))
    sinks: list[Any] = [JsonlSink() if args.output == "jsonl" else TextSink()]
    if args.webhook:
        try:
            sinks.append(WebhookSink(args.webhook, source=str(args.path)))
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    stop_file = StopFile(args.stop_file) if args.stop_file else None
    if stop_file is not None:
        stop_file.check()  # a stop file that cannot be written is an error now, not at the stop
    previous = _install_signal_handlers(stop)
    last = None  # the stopping alert as watch gave it (with its saved checkpoint, its x)
    try:
        for last in watcher.alerts():
            for sink in sinks:
                sink.emit(last)
    finally:
        _restore_signal_handlers(previous)
        for sink in sinks:
            sink.close(**({"wait": WEBHOOK_EXIT_WAIT} if isinstance(sink, WebhookSink) else {}))
    if watcher.stopped and stop_file is not None:
        stopping = watcher.monitor.stop_alert_
        same = last is not None and (last.event, last.step) == (stopping.event, stopping.step)
        stop_file.trigger(last if same else stopping)
    if args.output == "jsonl":
        from phasewatch.output import emit_jsonl

        emit_jsonl(watcher.result.to_dict())
    print(f"phasewatch: {watcher.result.describe(watcher.given_path)}", file=sys.stderr, flush=True)
    return 1 if watcher.stopped else 0


def _expert_data(args: argparse.Namespace) -> dict:
    """--expert-data as the monitor's option (`MonitorConfig.no_expert_data`); none for auto,
    which the watch reads from the log as analyze does."""
    expert = expert_data_option(args)
    return {} if expert is None else {"no_expert_data": not expert}


def _install_signal_handlers(stop: threading.Event) -> dict:
    """SIGINT/SIGTERM/SIGHUP (a closed terminal) set `stop`; the loop then ends cleanly with
    its summary (exit 0, or 1 if stopped)."""
    previous = {}
    if threading.current_thread() is not threading.main_thread():
        return previous
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
        previous[sig] = signal.signal(sig, lambda signum, frame: stop.set())
    return previous


def _restore_signal_handlers(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
