"""Bounded history that lets `PhaseMonitor.rewind(step)` forget the records from `step` on.

A resumed run re-logs steps from its last checkpoint; the records after the resume supersede
the earlier ones (DESIGN.md), so the monitor must behave as if the abandoned records had never
been seen. It keeps snapshots of its state in two tiers: every `noise_window // 8` records (the
last 16) and every `noise_window` records (the last 16). A rewind restores the latest snapshot
taken before any record at or after `step`, then replays the values between that snapshot and
`step` from the ring buffers of the next snapshot (or of the live state): those buffers hold the
last `noise_window` values of each series, and snapshots are never more than `noise_window`
records apart, so the replay is exact. Rewinds further back than the oldest snapshot (16 x
`noise_window` records, 4096 by default) replay what the oldest buffers still hold: approximate.
Not replayed: non-finite values (they never enter a buffer) and known boundaries (`mark_event`)
at or after `step`, which the caller marks again if the resumed run reaches them.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from phasewatch.online.state import MonitorState, SeriesState

if TYPE_CHECKING:
    from phasewatch.online.monitor import PhaseMonitor
    from phasewatch.online.series import Series

TIER_SIZE = 16  # snapshots kept per tier


class History:
    """Snapshots of a monitor's state, in two tiers (see the module docstring)."""

    def __init__(self, noise_window: int):
        self.coarse_every = max(1, noise_window)
        self.fine_every = max(1, noise_window // 8)
        self.fine: deque[tuple[int, MonitorState]] = deque(maxlen=TIER_SIZE)
        self.coarse: deque[tuple[int, MonitorState]] = deque(maxlen=TIER_SIZE)
        self.fed = 0  # records fed since the history began

    def after_record(self, monitor: PhaseMonitor) -> None:
        self.fed += 1
        fine, coarse = self.fed % self.fine_every == 0, self.fed % self.coarse_every == 0
        if fine or coarse:
            snap = (self.fed, monitor.snapshot())
            if fine:
                self.fine.append(snap)
            if coarse:
                self.coarse.append(snap)

    def snapshots(self) -> list[tuple[int, MonitorState]]:
        """All snapshots, oldest first (one object where the tiers coincide)."""
        merged = {count: snap for count, snap in [*self.coarse, *self.fine]}
        return sorted(merged.items(), key=lambda item: item[0])

    def rewind(self, monitor: PhaseMonitor, step: int) -> None:
        snaps = self.snapshots()
        before = [(c, s) for c, s in snaps if s.last_step is not None and s.last_step < step]
        base = before[-1] if before else None
        later = [s for c, s in snaps if base is None or c > base[0]]
        source = later[0] if later else monitor.snapshot()  # holds the values after `base`
        events = [list(e) for e in monitor.events_
                  if (base is None or e[0] > (base[1].last_step or 0)) and e[0] < step]
        monitor.restore(base[1] if base else None)
        self.fine = deque(((c, s) for c, s in self.fine if base and c <= base[0]), maxlen=TIER_SIZE)
        self.coarse = deque(((c, s) for c, s in self.coarse if base and c <= base[0]),
                            maxlen=TIER_SIZE)
        self.fed = base[0] if base else 0
        for record_step, values, train, heldout, beside in _records(monitor, source, step):
            while events and events[0][0] <= record_step:
                monitor.mark_event(*events.pop(0))
            monitor.replay(record_step, values, train, heldout, beside)
        for event in events:
            monitor.mark_event(*event)


def _records(monitor: PhaseMonitor, source: MonitorState, step: int):
    """(step, tracker values, train NLL, held-out NLL, the train loss beside a held-out loss)
    of the values in `source`'s buffers that come after the monitor's (restored) series and
    before `step`, merged by step."""
    series: list[Series | None] = [t.series for t in monitor.trackers_]
    saved: list[SeriesState] = [t.series for t in source.trackers]
    if monitor.nll_gap_ is not None and source.nll_gap is not None:
        series += [monitor.nll_gap_.train, monitor.nll_gap_.heldout]
        saved += [source.nll_gap.train, source.nll_gap.heldout]
    else:  # keep the train loss's column after the NLL pair's
        series += [None, None]
        saved += [SeriesState(), SeriesState()]
    if monitor.train_loss_ is not None and source.train_loss is not None:
        series.append(monitor.train_loss_.series)
        saved.append(source.train_loss.series)
    rows: dict[int, list[float | None]] = {}
    for k, (live, old) in enumerate(zip(series, saved)):
        if live is None:
            continue
        after = live.last_step
        for s, y in zip(old.steps, old.values):
            if (after is None or s > after) and s < step:
                rows.setdefault(s, [None] * len(series))[k] = live.raw(y)
    n = len(monitor.trackers_)
    for s in sorted(rows):
        row = rows[s]
        extra = row[n:] + [None, None, None]
        yield s, row[:n], extra[0], extra[1], extra[2]
