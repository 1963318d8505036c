"""Duplicate and resume resolution for a live monitor: `RecordCollector`'s policy, one record
at a time, with bounded state.

Offline, `run.RecordCollector` merges the rows of one step, collapses exact double logging,
reads a metric logged several times at one step as `step_rows` says (the mean of k rows a
step, else the later row; a run-average summary row left out), and drops the abandoned branch
of a resumed run (a metric's records from the step its counter went back to). `Resolver` does
the same in front of a `PhaseMonitor` (`step_rows.LiveRows` per followed metric): it keeps only the merged values of the latest step of each
step counter, and when a step is superseded it calls `monitor.rewind(step)` (which forgets
everything from that step on) and feeds the superseding values, so the monitor ends where a
monitor fed only the surviving records ends.

The rows of one step are merged before the monitor sees them (`Pending`): a step reaches the
monitor once, with its merged values, when a record of another step arrives (or the caller
says all that has arrived is read, `flush`). A GRPO console script prints its loss once per
prompt group, 3-40 times a step, with rows of other metrics between the re-logs: fed one by
one, each re-logged value made the monitor rewind and refit (watch took 7 times as long as
analyze on such a log); merged, the step is fitted once, with the value analyze keeps. Only a
value superseding one the monitor has already been fed (a resumed run, or a re-log read after
the read that fed its step) costs a rewind.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from phasewatch.step_rows import LiveRows, summary_warning
from phasewatch.values import to_float

MAX_TRACKED_NAMES = 100_000  # metrics whose latest step is kept (a log of millions of names)


@dataclass
class Pending:
    """The values of one step not fed to the monitor yet: the rows of the step read so far
    (`Resolver.latest`'s merged values themselves, later values superseding earlier ones), or,
    when the monitor was fed the step's earlier rows (`partial`), the values it has not seen."""

    group: str
    step: int
    values: dict[str, Any]
    partial: bool = False  # the monitor was fed this step's earlier rows


class Resolver:
    """`RecordCollector`'s duplicate/resume policy, one record at a time, bounded state (the
    merged values of the latest step of each step counter, and the step not fed yet), but
    for a log whose followed metric has steps of several different rows: what was fed since,
    a value a step of the followed metrics, to feed it again when the steps must be read
    otherwise (`_read_again`: grpo-drgrpo-aser-reward's 200 steps of 4 rows).

    `on_resume(previous, step)` is told of a step counter going back; `before_step(step)` is
    called before the monitor can be fed anything at `step` (known boundaries up to it are
    marked then), `on_rewind(step)` after the monitor rewound to `step`."""

    def __init__(self, monitor, on_resume: Callable[[int, int], None],
                 before_step: Callable[[int], None] = lambda step: None,
                 on_rewind: Callable[[int], None] = lambda step: None,
                 on_rows: Callable[[str], None] = lambda message: None):
        self.monitor = monitor
        self.on_rows = on_rows  # told how a metric's several rows at one step are read
        self.on_resume = on_resume
        self.before_step = before_step
        self.on_rewind = on_rewind
        self.followed = {*monitor.config.metrics}
        for name in (monitor.config.nll_train, monitor.config.nll_heldout):
            if name:
                self.followed.add(name)
        self.latest: dict[str, tuple[int, dict[str, Any]]] = {}  # group -> (step, merged values)
        # per metric the step of its latest value: a record below the latest step is a
        # resume only if one of its metrics goes back (a TensorBoard file may count epochs for
        # some tags beside batches for others), as `RecordCollector` decides offline
        self.metric_steps: dict[str, dict[str, int]] = {}  # group -> {metric: step}
        self._top: dict[str, int] = {}  # group -> the highest of its metrics' steps
        self.can_rewind = hasattr(monitor, "rewind")
        self.pending: Pending | None = None
        # Records read and watched: every row, as `inspect` counts the log's records (a row
        # of a per-group log is a reading; an exact double is a row of the file too).
        self.records = 0
        # Per (group, followed metric) its rows at one step (`step_rows.LiveRows`): the mean
        # of k rows a step, a run-average summary row left out, as offline.
        self.rows: dict[tuple[str, str], LiveRows] = {}
        # What the monitor was fed since the rows of a step first differed: (step, followed
        # values fed, {metric: (the mean of its rows, the later row)} where it had several),
        # so that the steps fed can be read otherwise once it is known how (`_read_again`).
        self.fed: list[tuple[int, dict[str, Any], dict[str, tuple[float, float]]]] | None = None
        self._said_rows: set[tuple[str, str, str]] = set()
        self._resumed = (0, -1)  # the block the latest resume logs again: its re-logs are its
        # The log re-logs a followed value at one step: a step is held across reads until the
        # next one begins (see `flush`).
        self.relogs_followed = False

    def _followed(self, keys) -> bool:
        followed = self.followed | set(self.monitor.resolved_.values())
        return any(key in followed for key in keys)

    def _went_back_from(self, step: int, values: Mapping[str, Any], group: str) -> int | None:
        """The latest step of this record's metrics when one of them had a value at a later
        step (the step counter went back for it), else None. Notes the record's steps; after a
        resume, the abandoned branch's are forgotten, so the re-logged block's other metrics
        (an evaluation at 600 after a resume from 930 to 500) are not resumes again."""
        steps = self.metric_steps.setdefault(group, {})
        top = self._top.get(group)
        back_from = None
        if top is not None and step < top:  # below some metric's latest step: which ones?
            back_from = max((before for key, value in values.items()
                             if (before := steps.get(key)) is not None and before > step
                             and to_float(value) is not None), default=None)
            if back_from is not None:
                for key in [key for key, at in steps.items() if at >= step]:
                    del steps[key]
                top = max(steps.values(), default=None)
        if len(steps) < MAX_TRACKED_NAMES:
            steps.update(zip(values, repeat(step)))
        else:
            steps.update((key, step) for key in values if key in steps)
        self._top[group] = step if top is None else max(top, step)
        return back_from

    def feed(self, step: int, values: Mapping[str, Any], group: str = "") -> list:
        """Take one record; returns the alerts of the step it completed (usually none)."""
        pending = self.pending
        alerts = []
        values, changes = self._read_rows(step, values, group)
        if pending is not None and (pending.step != step or pending.group != group):
            if changes:
                self._settle(pending, changes)
            alerts = self.flush()  # a record of another step: the held one is complete
            if self.monitor.should_stop:
                # that step stopped the watch: this record is not watched, nor counted (a
                # follow that read up to the stopping step counts what a replay counts)
                return alerts
        self.records += 1
        self.before_step(step)
        if changes:
            alerts = alerts + self._read_again(changes)
        back_from = self._went_back_from(step, values, group)
        if back_from is not None:
            self._resumed = (step, back_from)
            # The step counter went back: a resumed run re-logging from an earlier checkpoint.
            self.on_resume(back_from, step)
            self._rewind(step)
            self._new_row(step, values, group)
            return alerts
        latest = self.latest.get(group)
        if latest is None or step != latest[0]:
            # a later step, or another counter's (a file counting epochs beside batches)
            self._new_row(step, values, group)
            return alerts
        merged = latest[1]
        changed = {k: v for k, v in values.items() if k not in merged or not same_value(merged[k], v)}
        if not changed:
            return alerts  # exact double logging
        superseded = [k for k in changed if k in merged]
        merged.update(changed)
        followed = bool(superseded) and self._followed(superseded)
        self.relogs_followed = self.relogs_followed or followed
        pending = self.pending
        if followed and self.can_rewind and (pending is None or pending.partial):
            # the monitor was fed this step's followed value already (before a read ended, or
            # before another counter's record): forget the step and feed it again, merged
            self._rewind(step)
            self.pending = Pending(group, step, merged)
        elif pending is None:  # new metrics at a step fed already, or values not followed
            self.pending = Pending(group, step, changed, partial=True)
        elif pending.partial:
            pending.values.update(changed)
        # else the step is not fed yet: its pending values are `merged`, no rewind needed
        return alerts

    def flush(self, read_over: bool = False) -> list:
        """Feed the held step; its alerts. `read_over`: called because all that has arrived is
        read, not because another step began. The step is fed then (a follow raises its
        alerts without waiting for the next step), unless this log re-logs a followed value
        at one step: the step is held until the next begins, or the watch ends (`flush()`),
        so a follow feeds each step once, with the value a replay of the final file feeds."""
        pending = self.pending
        if pending is None or (read_over and self.relogs_followed):
            return []
        self.pending = None
        if self.fed is not None:
            fed = {k: v for k, v in pending.values.items() if self._followed((k,))}
            # the other readings of the step, should its metric be read otherwise later
            alternatives = {}
            for (group, key), rows in self.rows.items():
                if group == pending.group and key in fed:
                    if rows.step == pending.step:
                        alternatives[key] = (rows.mean, rows.last)
                    elif rows.done is not None and rows.done[0] == pending.step:
                        alternatives[key] = rows.done[1:]
            self.fed.append((pending.step, fed, alternatives))
        return self.monitor.update(pending.step, pending.values)

    def _read_rows(self, step: int, values: Mapping[str, Any],
                   group: str) -> tuple[Mapping[str, Any], dict[str, str]]:
        """`values` with each followed metric's reading of its step so far (`LiveRows`: the
        mean of its rows where it reads means, without a run-average summary row), and the
        metrics whose steps fed before must be read otherwise ("means" or "later")."""
        out = None
        changes: dict[str, str] = {}
        for key in self.followed | set(self.monitor.resolved_.values()):
            raw = values.get(key)
            value = None if raw is None else to_float(raw)
            if value is None:
                continue
            rows = self.rows.get((group, key))
            if rows is None:
                rows = self.rows[(group, key)] = LiveRows()
            before = rows.last if rows.step == step and rows.n else None
            k, last_step = rows.k, rows.step
            read, change = rows.take(step, value)
            if change is not None:
                changes[key] = change
            if change == "later":
                self._say_rows(group, key, "later", f"{key}: step {step if rows.n > k else last_step} "
                               f"has not the {k} rows each step had before: the later row of "
                               "each step is read (the steps fed the mean of their rows are "
                               "fed again)")
            if rows.means and rows.differed_at is not None:  # (equal rows: exact repeats)
                self._say_rows(group, key, "means", f"{key}: {rows.k} rows at each step, with "
                               f"different values at step {rows.differed_at} (one per prompt "
                               "group, rank or batch): the mean of its rows per step is read "
                               "while every step has as many")
            if read is None:
                self._say_rows(group, key, "summary", summary_warning(key, step, value, rows.n_all))
            elif before is not None and not rows.means and rows.k == 1 \
                    and not same_value(before, value) \
                    and not self._resumed[0] <= step <= self._resumed[1]:
                self._say_rows(group, key, "later", f"{key}: logged again at step {step} with "
                               "another value: the later row of each step is kept")
            if before is not None and self.fed is None and not same_value(rows.mean, value):
                self.fed = []  # rows of one step differ: what is fed is logged from now on
            if read is None or not same_value(read, value):
                out = dict(values) if out is None else out
                if read is None:
                    del out[key]  # a run-average summary row: no reading
                else:
                    out[key] = read
        return (values if out is None else out), changes

    def _say_rows(self, group: str, key: str, kind: str, message: str) -> None:
        """`on_rows(message)`, once per metric and `kind` of message."""
        said = (group, key, kind)
        if said not in self._said_rows:
            self._said_rows.add(said)
            self.on_rows(message)

    def _settle(self, pending: Pending, changes: dict[str, str]) -> None:
        """The held step, complete, reads its metrics as `changes` say (its first step's mean
        once the next has as many rows; its later row once it had fewer than the steps
        before): it is fed so, with no rewind."""
        for key, change in changes.items():
            rows = self.rows.get((pending.group, key))
            if rows is not None and rows.done is not None and rows.done[0] == pending.step \
                    and key in pending.values:
                pending.values[key] = rows.done[1 if change == "means" else 2]

    def _read_again(self, changes: dict[str, str]) -> list:
        """The metrics of `changes` read the steps fed so far otherwise (`LiveRows`): "means",
        the mean of the rows of each step (its first step was fed its later row), or "later",
        the later row (offline reads a metric the same way at every step). The monitor is
        rewound to the first step fed another value and fed the steps again. Alerts."""
        log = self.fed or []
        first = None
        for i, (_, fed, alternatives) in enumerate(log):
            for key, change in changes.items():
                if key in alternatives:
                    value = alternatives[key][0 if change == "means" else 1]
                    if first is None and not same_value(value, fed.get(key)):
                        first = i
                    fed[key] = value
        if first is None or not self.can_rewind:
            return []
        self._rewind(log[first][0])
        alerts = []
        for step, fed, _ in log[first:]:
            self.before_step(step)
            alerts += self.monitor.update(step, fed)
        return alerts

    def _new_row(self, step: int, values: Mapping[str, Any], group: str) -> None:
        merged = dict(values)
        self.latest[group] = (step, merged)
        self.pending = Pending(group, step, merged)  # one dict: merged as the step's rows come

    def _rewind(self, step: int) -> None:
        if self.can_rewind:
            self.monitor.rewind(step)
            self.on_rewind(step)


def same_value(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN (a re-logged NaN is no new value)."""
    if a == b:
        return True
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
