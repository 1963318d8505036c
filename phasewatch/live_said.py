"""Each alert said once by a watch: a rewind re-feeds records the monitor has seen.

A file rewritten whole (Lightning's CSVLogger adding a column, a truncation, a run resumed with
the same values) makes the monitor rewind and decide again: the alerts it repeats were given
already, and a replay of the final file gives them once.
"""

from __future__ import annotations

from typing import Any


class SaidAlerts:
    """The alerts given so far (a few per run), by what makes two of them one decision."""

    def __init__(self) -> None:
        self._keys: set[tuple] = set()

    def first_time(self, alert: Any) -> bool:
        """Whether `alert` is new, not one given already: the same phase of the
        same metric from the same onset with the same checkpoint to keep, decided again after a
        rewind, at the same step (a value re-logged there: its level, in the message, may
        differ by the re-logged value) or at another (two writers interleaving their records,
        the counter going back one record at each line: a loss's plateau since step 1940, best
        2010, was said at step 2840 and again at step 2830, llamafactory-sft-rameyjm7-loss). A
        rise's checkpoint is its latest best, which moves as it goes on: the same rise from the
        same onset is one decision whatever its best (a clear rise said at step 70, best 70, was
        said again at step 60, best 60, after the writer a record behind rewound it). The onset
        is the one the decisions measured (`Alert.decided_onset`): the one a disruption's alert
        says may be read from the values around its fall, which the re-logged values move."""
        rising = alert.event in ("improvement", "readaptation")
        onset = alert.onset_step if alert.decided_onset is None else alert.decided_onset
        key = (alert.event, onset, None if rising else alert.best_step, alert.metric)
        if key in self._keys:
            return False
        self._keys.add(key)
        return True
