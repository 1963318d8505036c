"""Cells of a numeric metric that are not numbers: skipped, and said.

A reader hands the collector its rows' values as written; a value that is no number is no
point of a curve. Where a metric is text throughout (a model's name, fastai's `time` as
`00:12`, a date), it is no metric and nothing is said. But where the other values of that
metric are numbers, a cell that is not one (`0.6x`, `0.7a1`: a damaged log, or a writer that
printed a unit) is a reading lost, and the user must learn which (trial 61: a CSV cell `0.6x`
left `inspect` showing 58 values against 59 for the column beside it, with nothing said).
Cells that say a value is absent (`None`, `null`, `n/a`, fastai's `#na#`) are not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from phasewatch.values import to_float

ABSENT = frozenset({"", "none", "null", "na", "n/a", "#na#", "-", "--"})
MAX_NAMED = 5  # metrics named in the warning
MAX_NUMBERED = 100_000  # metrics a watch keeps as having numbers (a log of millions of names)


class TextCells:
    """The first cell that is no number of each metric, and how many there were."""

    def __init__(self) -> None:
        self._first: dict[str, tuple[int, str]] = {}  # metric -> (line, cell)
        self._count: dict[str, int] = {}

    def note(self, metric: str, cell: Any, line: int) -> None:
        """A value of `metric` at `line` that `values.to_float` did not read: said when it is
        text (a null, a list, a nested object is no reading lost)."""
        if not isinstance(cell, str) or cell.strip().lower() in ABSENT:
            return
        first = self._first.get(metric)
        if first is None or 0 < line < first[0]:  # the bulk reader takes rows out of order
            self._first[metric] = (line, cell)
        self._count[metric] = self._count.get(metric, 0) + 1

    def warnings(self, has_numbers: Callable[[str], bool],
                 where: Callable[[int], str] | None = None) -> list[str]:
        """One warning naming the metrics that had cells that are not numbers and have numbers
        (`has_numbers(metric)`: offline, in the run's resolved columns, where a resume may have
        dropped every number a metric had), each with its count and first such cell."""
        damaged = sorted((m for m in self._first if has_numbers(m)),
                         key=lambda m: (self._first[m][0], m))  # in file order
        if not damaged:
            return []

        def said(metric: str) -> str:
            line, cell = self._first[metric]
            at = (where(line) if where else f"line {line}") if line else "a record"
            count = self._count[metric]
            first = f"at {at}" if count == 1 else f"the first at {at}"
            return f"{count} of {metric} ({first}: {cell[:40]!r})"

        shown = ", ".join(said(m) for m in damaged[:MAX_NAMED])
        more = f", and of {len(damaged) - MAX_NAMED} more metrics" \
            if len(damaged) > MAX_NAMED else ""
        text = (f"skipped values that are not numbers where the metric's other values are: "
                f"{shown}{more}; each is a reading lost (check the log there)")
        return [text]


def take_numbers(values: Mapping[str, Any], step: int, line: int,
                 add: Callable[[str, int, float], None], cells: TextCells) -> int:
    """`add(name, step, number)` for each value of a record that `values.to_float` reads, a
    value it does not read noted in `cells`; how many were numbers. The one loop over a
    record's values of `RecordCollector.add` (`add`: its store's) and `WatchedCells.add`."""
    n = 0
    for key, raw in values.items():
        value = to_float(raw)
        if value is None:
            cells.note(key, raw, line)
        else:
            add(key, step, value)
            n += 1
    return n


class WatchedCells:
    """What `RecordCollector.add` notes of each record's values, record by record, for a live
    watch, which collects no run: the cells of text among a metric's numbers, said at the
    watch's end in `analyze`'s words (a `0.6x` cell was said by `analyze` and not by `watch`,
    replayed or followed). Bounded: the metrics with text cells, and up to MAX_NUMBERED names
    known to have numbers."""

    def __init__(self) -> None:
        self.cells = TextCells()
        self.numbered: set[str] = set()

    def add(self, values: Mapping[str, Any], line: int) -> None:
        if type(values) is not dict and hasattr(values, "as_columns"):
            return  # a records_sparse.Row: floats already
        take_numbers(values, 0, int(line), self._numbered, self.cells)

    def _numbered(self, key: str, step: int, value: float) -> None:
        """A metric with a number (`take_numbers`' `add`): kept up to MAX_NUMBERED names."""
        if len(self.numbered) < MAX_NUMBERED:
            self.numbered.add(key)

    def warnings(self, where: Callable[[int], str] | None = None) -> list[str]:
        return self.cells.warnings(self.numbered.__contains__, where)
