"""Duplicate and resume resolution for a live monitor: `RecordCollector`'s policy, one record
at a time, with bounded state.

Offline, `run.RecordCollector` merges the rows of one step, collapses exact double logging and
lets the later record for a step supersede the earlier one (a resumed run). `Resolver` does the
same in front of a `PhaseMonitor`: it keeps only the merged values of the latest step of each
step counter, and when a step is superseded it calls `monitor.rewind(step)` and feeds the
superseding values, so the monitor ends where a monitor fed only the surviving records ends.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from itertools import repeat
from typing import TYPE_CHECKING, Any

from phasewatch.values import to_float

if TYPE_CHECKING:  # io.source imports run.py (pandas): not on the import path of a watch
    from phasewatch.io.source import Record

MAX_TRACKED_NAMES = 100_000  # metrics whose latest step is kept (a log of millions of names)


class Resolver:
    """`RecordCollector`'s duplicate/resume policy, one record at a time, bounded state (the
    merged values of the latest step of each step counter)."""

    def __init__(self, monitor, on_resume: Callable[[int, int], None]):
        self.monitor = monitor
        self.on_resume = on_resume
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

    def feed(self, step: int, values: Mapping[str, Any], group: str = "") -> tuple[list, int | None]:
        """Alerts of this record, and the step the monitor rewound to (or None)."""
        latest = self.latest.get(group)
        back_from = self._went_back_from(step, values, group)
        if back_from is not None:
            # The step counter went back: a resumed run re-logging from an earlier checkpoint.
            self.on_resume(back_from, step)
            self.latest[group] = (step, dict(values))
            rewound = None
            if self.can_rewind:
                self.monitor.rewind(step)
                rewound = step
            return self.monitor.update(step, values), rewound
        if latest is None or step != latest[0]:
            # a later step, or another counter's (a file counting epochs beside batches)
            self.latest[group] = (step, dict(values))
            return self.monitor.update(step, values), None
        merged = latest[1]
        changed = {k: v for k, v in values.items() if k not in merged or not same_value(merged[k], v)}
        if not changed:
            return [], None  # exact double logging
        superseded = [k for k in changed if k in merged]
        merged.update(changed)
        if superseded and self._followed(superseded) and self.can_rewind:
            self.monitor.rewind(step)
            return self.monitor.update(step, merged), step
        return self.monitor.update(step, changed), None


def same_value(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN (a re-logged NaN is no new value)."""
    if a == b:
        return True
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)


class RelogMerger:
    """Holds the last record read while the next one read with it may print the same row again
    at the same step with other values (several episodes ending at one step, each printing its
    return): the later value supersedes the earlier one before the monitor sees either, as
    `RecordCollector` keeps the later one offline. Fed one by one, each re-logged value made the
    monitor rewind and refit its last values: minutes for a log of a few thousand lines."""

    def __init__(self):
        self.held: Record | None = None

    def hold(self, record: Record) -> list[Record]:
        """The records to feed now: none while `record` re-logs the held one (merged into it),
        else the held one, and `record` is held in its place."""
        held = self.held
        if held is not None and relogs(record, held):
            self.held = replace(held, values={**held.values, **record.values})
            return []
        self.held = record
        return [] if held is None else [held]

    def flush(self) -> list[Record]:
        """The held record, final: all that has arrived is read, or the watch ends."""
        held, self.held = self.held, None
        return [] if held is None else [held]


def relogs(record: Record, held: Record) -> bool:
    """Whether `record` is `held`'s row printed again at the same step of the same counter
    with other values: no metric of its own (a row of other metrics, a final summary row, is
    fed as a row of its own), and some value changed (`Resolver`'s supersede case; an exact
    double collapses there)."""
    if record.step != held.step or record.group != held.group:
        return False
    values = held.values
    if any(key not in values for key in record.values):
        return False
    return any(not same_value(values[key], value) for key, value in record.values.items())
