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

from collections.abc import Callable, Mapping, Sized

ABSENT = frozenset({"", "none", "null", "na", "n/a", "#na#", "-", "--"})
MAX_NAMED = 5  # metrics named in the warning


class TextCells:
    """The first cell that is no number of each metric, and how many there were."""

    def __init__(self) -> None:
        self._first: dict[str, tuple[int, str]] = {}  # metric -> (line, cell)
        self._count: dict[str, int] = {}

    def note(self, metric: str, cell: str, line: int) -> None:
        """A value of `metric` at `line` that `values.to_float` did not read."""
        if cell.strip().lower() in ABSENT:
            return
        first = self._first.get(metric)
        if first is None or 0 < line < first[0]:  # the bulk reader takes rows out of order
            self._first[metric] = (line, cell)
        self._count[metric] = self._count.get(metric, 0) + 1

    def warnings(self, columns: Mapping[str, tuple[Sized, Sized]],
                 where: Callable[[int], str] | None = None) -> list[str]:
        """One warning naming the metrics that had cells that are not numbers and have numbers
        in the run's `columns` (metric -> (steps, values), as resolved: a resume may have
        dropped every number a metric had), each with its count and first such cell."""
        damaged = sorted((m for m in self._first if m in columns and len(columns[m][0])),
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
