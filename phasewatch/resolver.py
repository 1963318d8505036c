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
from typing import Any


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
        self.can_rewind = hasattr(monitor, "rewind")

    def _followed(self, keys) -> bool:
        followed = self.followed | set(self.monitor.resolved_.values())
        return any(key in followed for key in keys)

    def feed(self, step: int, values: Mapping[str, Any], group: str = "") -> tuple[list, int | None]:
        """Alerts of this record, and the step the monitor rewound to (or None)."""
        latest = self.latest.get(group)
        if latest is None or step > latest[0]:
            self.latest[group] = (step, dict(values))
            return self.monitor.update(step, values), None
        last_step, merged = latest
        if step == last_step:
            changed = {k: v for k, v in values.items() if k not in merged or not _same(merged[k], v)}
            if not changed:
                return [], None  # exact double logging
            superseded = [k for k in changed if k in merged]
            merged.update(changed)
            if superseded and self._followed(superseded) and self.can_rewind:
                self.monitor.rewind(step)
                return self.monitor.update(step, merged), step
            return self.monitor.update(step, changed), None
        # The step counter went back: a resumed run re-logging from an earlier checkpoint.
        self.on_resume(last_step, step)
        self.latest[group] = (step, dict(values))
        rewound = None
        if self.can_rewind:
            self.monitor.rewind(step)
            rewound = step
        return self.monitor.update(step, values), rewound


def _same(a: Any, b: Any) -> bool:
    if a == b:
        return True
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
