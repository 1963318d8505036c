"""The numbers behind a figure, so it can be redrawn with other tools (`plot --data out.csv`).

Each figure keeps a `FigureData` (`figure_data(fig)`) that the drawing code fills with exactly
what it drew: raw points, smoothed lines, seed means and confidence bands, baselines, phase
bands, recommended stops, left-out outliers. One long table, one row per drawn point:

    panel, run, metric, kind, step, value, end_step

`kind` is raw, smoothed, mean, ci_low, ci_high, baseline, stop, outlier or phase:<name> (a band
from `step` to `end_step`; `value` empty). `panel` counts the axes from the top-left, from 0.

A figure drawn with its x axis in another unit (`plot --x epoch|tokens|samples`, or an HF
console log, read in epochs) gets two more columns named after the unit, e.g. `epoch` and
`end_epoch`: the x a reader of the figure sees. `step` stays, the key back to the log. Runs
compared on such an axis are each placed by their own log's counter (`place`): a row's unit
is then its run's.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

COLUMNS = ("panel", "run", "metric", "kind", "step", "value", "end_step")
_ATTRIBUTE = "phasewatch_data"


@dataclass
class FigureData:
    rows: list[tuple] = field(default_factory=list)
    unit: str | None = None                       # x unit other than the step (see set_x_unit)
    to_unit: Callable[[float], float] | None = None
    # (first row, end row, step -> unit) of the rows of one run placed by its own counter
    placed: list[tuple[int, int, Callable[[float], float]]] = field(default_factory=list)

    @property
    def columns(self) -> tuple[str, ...]:
        return COLUMNS if self.unit is None else (*COLUMNS, self.unit, f"end_{self.unit}")

    def set_x_unit(self, unit: str, to_unit: Callable[[float], float] | None) -> None:
        """The figure's x axis shows `unit` (`to_unit(step)`, or each run's own: `place`): its
        columns join the table."""
        self.unit, self.to_unit = unit, to_unit

    def place(self, first: int, end: int, to_unit: Callable[[float], float]) -> None:
        """Rows `first`..`end` (one run's, or one seed group's) take their unit from
        `to_unit`, their own log's counter, not the figure's."""
        self.placed.append((first, end, to_unit))

    def table(self) -> list[tuple]:
        """The rows as written: with the unit's columns when the x axis is not in steps."""
        if self.unit is None:
            return list(self.rows)
        ats = [self.to_unit] * len(self.rows)
        for first, end, to_unit in self.placed:
            ats[first:end] = [to_unit] * (end - first)
        return [(*row, _num(None if row[4] is None or at is None else at(row[4])),
                 _num(None if row[6] is None or at is None else at(row[6])))
                for row, at in zip(self.rows, ats)]

    def add(self, panel: int, run: str, metric: str, kind: str, steps: Iterable[float],
            values: Iterable[float] | None = None, end_steps: Iterable[float] | None = None) -> None:
        steps = list(steps)
        values = [None] * len(steps) if values is None else list(values)
        ends = [None] * len(steps) if end_steps is None else list(end_steps)
        for step, value, end in zip(steps, values, ends):
            self.rows.append((panel, run, metric, kind, _num(step), _num(value), _num(end)))

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.table(), columns=list(self.columns))

    def write_csv(self, path: str | Path) -> Path:
        path = Path(path)
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(self.columns)
            for row in self.table():
                writer.writerow(["" if v is None else _text(v) for v in row])
        return path


def attach(fig) -> FigureData:
    data = FigureData()
    setattr(fig, _ATTRIBUTE, data)
    return data


def figure_data(fig) -> FigureData:
    """The data a phasewatch figure was drawn from (empty for other figures)."""
    return getattr(fig, _ATTRIBUTE, None) or FigureData()


def save_data(fig, path: str | Path) -> Path:
    """Write the figure's data as CSV (columns `COLUMNS`, plus the x unit's when it has one)."""
    return figure_data(fig).write_csv(path)


def _num(value):
    if value is None:
        return None
    value = float(value)
    if not np.isfinite(value):
        return None
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _text(value) -> str:
    return repr(value) if isinstance(value, float) else str(value)
