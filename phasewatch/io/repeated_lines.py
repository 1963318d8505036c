"""Console lines printed again, each right after itself: what a line-based reader merged.

Every process of a distributed run that prints its log prints the same lines (W2SSL's
`outputs/log.txt`: two ranks, each `Epoch: [0][1000/2502] ... Loss 5.9953e+01` twice, their
`Time` and `Data` apart). The collector reads a step's equal rows once (exact double logging
collapses silently, `step_rows`), so the values are right, but `inspect` said "1206 records,
600 distinct steps" and nothing of why. A record that repeats the one before it from another
line (the same step and values, the run's clocks aside: each rank times its own batches) is
counted here, and one warning says how many were read once and where.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phasewatch.output import counted
from phasewatch.timing_names import is_timing
from phasewatch.values import to_float

LINES_SHOWN = 3


class RepeatedRecords:
    """Counts the records that repeat the record before them, from another line."""

    def __init__(self) -> None:
        self._previous: tuple[int, int, Mapping[str, Any]] | None = None  # (line, step, values)
        self._timing: dict[str, bool] = {}  # name -> is_timing(name), asked once a name
        self.lines: list[int] = []  # the lines of the repeats
        self.records = 0

    def see(self, step: int, values: Mapping[str, Any], line: int) -> None:
        """One record, in the order the log holds them (compared only with one of its step:
        most records are not, and cost nothing more)."""
        self.records += 1
        previous, self._previous = self._previous, (line, step, values)
        if previous is not None and previous[1] == step and previous[0] != line:
            measured = self._measured(values)
            if measured and measured == self._measured(previous[2]):
                self.lines.append(line)

    def _measured(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The `values` read as numbers (as the collector reads them), but the run's clocks
        (each rank times its own batches; `dt: 101ms`, no number, is not read at all)."""
        timing = self._timing
        for name in values.keys() - timing.keys():
            timing[name] = is_timing(name)
        return {name: value for name, value in values.items()
                if not timing[name] and to_float(value) is not None}

    def note(self) -> str | None:
        """The warning that says what was merged, or None when nothing repeated."""
        if not self.lines:
            return None
        n = len(self.lines)
        shown = ", ".join(str(line) for line in self.lines[:LINES_SHOWN])
        more = f" and {n - LINES_SHOWN} more" if n > LINES_SHOWN else ""
        return (f"{n} of {counted(self.records, 'record')} repeat the record just before them "
                f"(the same step and values, timings aside; {'line' if n == 1 else 'lines'} "
                f"{shown}{more}): each is read once (several processes printing one log, such "
                "as the ranks of a distributed run, or a logger given its handler twice)")
