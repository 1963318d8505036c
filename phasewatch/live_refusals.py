"""Why a watch ends in an error instead of a summary: options the monitor cannot take (refused
before any file is read), no record read, or the `--metric` asked for is not in the log. The
same errors a replay of that log (and `analyze`) gives, so a CI step cannot take a watch of
nothing for a clean run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from phasewatch.live_result import seconds

if TYPE_CHECKING:
    from phasewatch.live import LiveWatch


def refuse_bad_options(metric: str | None, direction: str | None, idle_exit: float | None,
                       monitor_options: Mapping[str, Any]) -> None:
    """A watch's options checked before any file is read: a usage error (exit 2) for a negative
    `idle_exit`, an option `MonitorConfig` has no field for (naming the fields it has), or a
    value it refuses, rather than a failure after the log has been opened and waited for."""
    from phasewatch.errors import UsageError
    from phasewatch.online import MonitorConfig

    if idle_exit is not None and idle_exit < 0:
        raise UsageError("idle_exit must be >= 0 seconds")
    try:
        MonitorConfig(metric=metric or "eval/accuracy", direction=direction, **monitor_options)
    except TypeError as exc:  # an option MonitorConfig has no field for
        names = ", ".join(f.name for f in fields(MonitorConfig) if f.name != "metric")
        raise UsageError(f"{exc}; the monitor's options are {names}") from exc
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def refuse_no_records(watch: LiveWatch, reason: str) -> None:
    """The watch ends and not one record was read (a W&B run that never called
    `wandb.log`, a TensorBoard file of hyperparameters only, a CSV header, a path that
    never appeared): exit 3, as a replay of that log gives, not a watch of nothing that
    exits 0. A replay raises the reader's own error, as `analyze` does; a follow that
    ended idle or at the run's end says it read no record in so many seconds, then the
    replay's error."""
    if watch.monitor is not None or watch.choice.held:
        return
    from phasewatch.errors import InputError
    from phasewatch.io import read_run

    try:
        read_run(watch.path)  # raises the InputError naming the file and what it lacks
    except InputError as exc:
        if not watch.follow:
            raise
        replayed: InputError | None = exc
    else:
        if not watch.follow:
            return
        replayed = None
    why = {"finished": "the log says the run finished",
           "crashed": "the log says the run crashed"}.get(reason, reason)
    raise InputError(f"no record was read from {watch.given_path} in {seconds(watch.result.waited)}"
                     f" of following ({why})" + (f"; {replayed}" if replayed else "")
                     + (IDLE_BEFORE_START if reason == "idle" and _never_appeared(watch) else "")
                     ) from replayed


def _never_appeared(watch: LiveWatch) -> bool:
    """The followed local path does not exist (an address, mlflow+http://..., is not a path)."""
    return "://" not in watch.given_path and not watch.path.exists()


# what to do when the path never appeared (trial 33: `watch --follow --idle-exit 60` started
# before `phasewatch train`, which pre-trained for ~95 s before it created the run folder; a
# Lightning CSVLogger or `wandb.init` took more than 5 s to create theirs in a live trial)
IDLE_BEFORE_START = (". To wait longer for it to appear, give a longer --idle-exit (idle_exit "
                     "in Python): a trainer creates its log only once it has set up (a model "
                     "loaded, a Lightning logger or wandb.init started), and the reference "
                     "trainer (`phasewatch train`) pre-trains its starting policy, once per seed "
                     "(then cached), before it creates the run folder")


def refuse_missing_metric(watch: LiveWatch) -> None:
    """The whole log is read and the --metric asked for is not in it: a usage error (exit
    2, as `analyze` gives), not a watch of the other signals under the asked name. While
    following, a metric not logged yet may still come: that is only a warning."""
    option = watch.metric_option
    if option is None or watch.set_mean is not None or any(c in option for c in "*?["):
        return
    if watch.monitor is not None:
        names = watch.monitor.metrics_seen
        missing = bool(watch.monitor.missing_metrics())
    else:
        names = list(watch.choice.names)
        missing = not watch.choice.ready(watch.source)
    if missing and names:
        from phasewatch.errors import UsageError
        from phasewatch.unknown_metric import unknown_metric_message

        watch.warned_missing = True  # the error says it; no warning besides
        raise UsageError(unknown_metric_message(option, names))
