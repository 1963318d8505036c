"""`Run`: one training run as a tidy long table (step, metric, value) plus metadata.

Every reader produces a `Run`; everything downstream (signals, change points, phases, plots,
alerts) consumes one and never sees a file format. Duplicate records are resolved here, once,
the way real runs produce them (see `RecordCollector.build`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from phasewatch.errors import UsageError
from phasewatch.values import to_float  # the one value conversion (also run.to_float)


@dataclass(frozen=True)
class Event:
    """A known boundary in a run: a resume, the SFT->RL switch, an epoch boundary..."""

    step: int
    name: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": int(self.step), "name": self.name}
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass
class Run:
    """A training run: `table` has columns step (int64), metric (str), value (float64).

    The table holds one value per (step, metric) after duplicate resolution; non-finite values
    (a literal NaN loss) are kept as records, absent keys are simply absent. `aliases` maps the
    canonical metric names of DESIGN.md (e.g. `eval/accuracy`) onto this run's own names (e.g.
    `eval_accuracy`), so both spellings work in `series()`; the originals stay in the table.
    """

    table: pd.DataFrame
    source: str
    format: str
    n_records: int = 0
    name: str | None = None
    algorithm: str | None = None
    performance_metric: str | None = None
    direction: str | None = None
    events: list[Event] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    token_store: Path | None = None
    aliases: dict[str, str] = field(default_factory=dict)

    # ----------------------------------------------------------------- views
    @property
    def metrics(self) -> list[str]:
        """Names of the metrics as the log wrote them, sorted."""
        return sorted(self._rows_by_metric())

    @property
    def steps(self) -> np.ndarray:
        """Distinct steps, ascending."""
        # pd.unique hashes in O(n); np.unique's sort is ~15x slower on a 4M-row table.
        return np.sort(pd.unique(self.table["step"].to_numpy()))

    @property
    def n_steps(self) -> int:
        return int(self.steps.size)

    def _rows_by_metric(self) -> dict[str, np.ndarray]:
        """metric -> row positions in `table`, built once per table (O(n), then O(1) lookups).

        Analyses ask for a dozen series of a table that can hold millions of rows; comparing every
        row's name per call cost ~0.1 s each. Rebuilt if `table` is replaced.
        """
        cache = self.__dict__.get("_row_index")
        if cache is None or cache[0] is not self.table:
            codes, names = pd.factorize(self.table["metric"], sort=False)
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
            index = {name: order[bounds[i]:bounds[i + 1]] for i, name in enumerate(names)}
            cache = (self.table, index)
            self.__dict__["_row_index"] = cache
        return cache[1]

    def own_name(self, name: str) -> str | None:
        """The run's own name for `name` (itself or via a canonical alias), or None if absent."""
        rows = self._rows_by_metric()
        if name in rows:
            return name
        alias = self.aliases.get(name)
        return alias if alias in rows else None

    def resolve_metric(self, name: str) -> str:
        """The run's own name for `name` (itself, or the original behind a canonical alias).

        Raises UsageError listing the metrics that exist, closest to `name` first.
        """
        own = self.own_name(name)
        if own is not None:
            return own
        present = set(self._rows_by_metric())
        raise UsageError(unknown_metric_message(name, sorted(present | set(self.aliases))))

    def series(self, metric: str, finite: bool = True) -> pd.Series:
        """Values of one metric indexed by step (ascending); non-finite dropped unless asked."""
        own = self.resolve_metric(metric)
        rows = self._rows_by_metric()[own]
        values = self.table["value"].to_numpy(dtype=np.float64)[rows]
        steps = self.table["step"].to_numpy(dtype=np.int64)[rows]
        if finite:
            keep = np.isfinite(values)
            values, steps = values[keep], steps[keep]
        order = np.argsort(steps, kind="stable")
        return pd.Series(values[order], index=pd.Index(steps[order], name="step"), name=own)

    def wide(self) -> pd.DataFrame:
        """One row per step, one column per metric (NaN where a metric was not logged)."""
        return self.table.pivot(index="step", columns="metric", values="value").sort_index()

    def metric_summary(self) -> dict[str, dict[str, int | None]]:
        """Per metric: count of finite values, first and last step with a finite value (from
        the row index per metric: a groupby over a 1M-row table cost ~0.3 s more)."""
        finite = np.isfinite(self.table["value"].to_numpy(dtype=np.float64))
        steps = self.table["step"].to_numpy()
        rows_of = self._rows_by_metric()
        out: dict[str, dict[str, int | None]] = {}
        for metric in sorted(rows_of):
            rows = rows_of[metric]
            kept = steps[rows[finite[rows]]]
            if kept.size:
                out[metric] = {"count": int(kept.size), "first_step": int(kept.min()),
                               "last_step": int(kept.max())}
            else:
                out[metric] = {"count": 0, "first_step": None, "last_step": None}
        return out


def unknown_metric_message(name: str, available: Iterable[str]) -> str:
    """'no metric X; metrics in this run, closest first: ...' (the fix is in the message)."""
    available = list(available)
    if not available:
        return f"no metric '{name}': this run has no metrics at all"
    ranked = sorted(
        available,
        key=lambda m: (-difflib.SequenceMatcher(None, name.lower(), m.lower()).ratio(), m),
    )
    shown = ", ".join(ranked[:12]) + (f", ... ({len(ranked)} in all)" if len(ranked) > 12 else "")
    return f"no metric '{name}' in this run; metrics that exist, closest first: {shown}"


class RecordCollector:
    """Collects records `(step, {metric: value})` in file order and resolves them into a Run.

    Readers call `add` once per logged row, in the order the file holds them, then `build`.
    Resolution follows how real runs produce duplicates:
    - several rows for one step with different keys merge;
    - exact double logging collapses;
    - when the step counter goes back (a resumed run re-logging a block), the later record for a
      step supersedes the earlier one, a `resume` event is recorded and a warning says where.
    """

    def __init__(self, source: str | Path, format: str):
        self.source = str(source)
        self.format = format
        self.warnings: list[str] = []
        self._record_steps: list[int] = []
        self._record_lines: list[int] = []
        # Bulk-added records (`add_columns`), kept as arrays; `_record_steps` holds the rest.
        self._bulk_steps: list[np.ndarray] = []
        self._bulk_lines: list[np.ndarray] = []
        self._n_bulk = 0
        # metric -> (record indices, values): per-metric columns, so building needs no
        # per-value Python work and no table of repeated metric-name strings.
        self._columns: dict[str, tuple[list, list]] = {}

    @property
    def n_records(self) -> int:
        return self._n_bulk + len(self._record_steps)

    def warn(self, message: str, line: int | None = None) -> None:
        self.warnings.append(f"line {line}: {message}" if line is not None else message)

    def add(self, step: int, values: Mapping[str, Any], line: int = 0) -> int:
        """Add one logged row; returns how many numeric values it carried."""
        record = self.n_records
        n = 0
        columns = self._columns
        for key, raw in values.items():
            value = to_float(raw)
            if value is None:
                continue
            column = columns.get(key)
            if column is None:
                column = columns[key] = ([], [])
            column[0].append(record)
            column[1].append(value)
            n += 1
        self._record_steps.append(int(step))
        self._record_lines.append(int(line))
        return n

    def add_columns(
        self,
        steps: np.ndarray,
        lines: np.ndarray,
        columns: Mapping[str, tuple[np.ndarray, np.ndarray]],
    ) -> None:
        """Add many records at once: what `add` would do for each, in the same order.

        `steps`/`lines` give one entry per record (file order); `columns` maps a metric to
        (indices into these records, float values). Fast readers use this instead of `add`.
        """
        self._flush_scalar_records()  # rows added one by one so far come first
        offset = self.n_records
        for key, (records, values) in columns.items():
            column = self._columns.get(key)
            if column is None:
                column = self._columns[key] = ([], [])
            column[0].append(np.asarray(records, dtype=np.int64) + offset)
            column[1].append(np.asarray(values, dtype=np.float64))
        self._bulk_steps.append(np.asarray(steps, dtype=np.int64))
        self._bulk_lines.append(np.asarray(lines, dtype=np.int64))
        self._n_bulk += len(steps)

    def _flush_scalar_records(self) -> None:
        """Move rows added one by one into the array chunks, keeping file order."""
        if self._record_steps:
            self._bulk_steps.append(np.asarray(self._record_steps, dtype=np.int64))
            self._bulk_lines.append(np.asarray(self._record_lines, dtype=np.int64))
            self._n_bulk += len(self._record_steps)
            self._record_steps, self._record_lines = [], []

    def build(self, **metadata: Any) -> Run:
        self._flush_scalar_records()
        record_steps = np.concatenate([np.zeros(0, np.int64), *self._bulk_steps])
        record_lines = np.concatenate([np.zeros(0, np.int64), *self._bulk_lines])
        events = list(metadata.pop("events", []))
        warnings = self.warnings + list(metadata.pop("warnings", []))
        events_from_steps, step_warnings = _resume_events(record_steps, record_lines)
        events.extend(events_from_steps)
        warnings.extend(step_warnings)
        table = _resolve(record_steps, self._columns)
        if "aliases" not in metadata:
            from phasewatch.presets import aliases_for

            metadata["aliases"] = aliases_for(self._columns)
        return Run(
            table=table,
            source=self.source,
            format=self.format,
            n_records=self.n_records,
            events=sorted(events, key=lambda e: e.step),
            warnings=warnings,
            **metadata,
        )


def _concat(parts: list, dtype) -> np.ndarray:
    """One array from a column's parts: numbers from `add` and arrays from `add_columns`.

    Order does not matter (rows are sorted by step and record afterwards); records and values
    stay aligned because both lists of a column are filtered the same way.
    """
    arrays = [p for p in parts if isinstance(p, np.ndarray)]
    numbers = [p for p in parts if not isinstance(p, np.ndarray)]
    return np.concatenate([*arrays, np.asarray(numbers, dtype=dtype)]).astype(dtype, copy=False)


def _resolve(record_steps: np.ndarray, columns: dict[str, tuple[list, list]]) -> pd.DataFrame:
    """The tidy table, one row per (step, metric): the latest record in file order wins.

    Sorted by metric then step, like `drop_duplicates(keep="last")` + `sort_values` would give.
    """
    names, steps_out, values_out, counts = [], [], [], []
    for name in sorted(columns):
        records = _concat(columns[name][0], np.int64)
        values = _concat(columns[name][1], np.float64)
        steps = record_steps[records]
        order = np.lexsort((records, steps))  # by step, then file order
        steps, values = steps[order], values[order]
        last = np.ones(steps.size, dtype=bool)
        last[:-1] = steps[1:] != steps[:-1]
        names.append(name)
        steps_out.append(steps[last])
        values_out.append(values[last])
        counts.append(int(last.sum()))
    if not names:
        return empty_table()
    metric = np.repeat(np.array(names, dtype=object), counts)
    return pd.DataFrame(
        {
            "step": np.concatenate(steps_out),
            "metric": pd.Series(metric, dtype=object),
            "value": np.concatenate(values_out),
        }
    )


def _resume_events(steps: np.ndarray, lines: np.ndarray) -> tuple[list[Event], list[str]]:
    """Find where the step counter goes back; each such place is a resume."""
    if steps.size < 2:
        return [], []
    running_max = np.maximum.accumulate(steps)
    back = np.flatnonzero(steps[1:] < running_max[:-1]) + 1
    if back.size == 0:
        return [], []
    # Only the first record of each backwards jump starts a resume.
    starts = back[np.concatenate(([True], np.diff(back) > 1))]
    events, warnings = [], []
    for i in starts:
        prev = int(running_max[i - 1])
        step = int(steps[i])
        where = f"line {int(lines[i])}: " if lines[i] > 0 else ""
        events.append(Event(step=step, name="resume", detail=f"step counter went back from {prev}"))
        warnings.append(
            f"{where}step counter went back from {prev} to {step}; treated as a resumed run "
            "(later records supersede earlier ones for the same step)"
        )
    return events, warnings


def empty_table() -> pd.DataFrame:
    return pd.DataFrame(
        {"step": np.zeros(0, np.int64), "metric": pd.Series([], dtype=object),
         "value": np.zeros(0, np.float64)}
    )
