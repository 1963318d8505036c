"""`Run`: one training run as a tidy long table (step, metric, value) plus metadata.

Every reader produces a `Run`; everything downstream (signals, change points, phases, plots,
alerts) consumes one and never sees a file format. Duplicate records are resolved here, once,
the way real runs produce them (see `RecordCollector.build`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from phasewatch.errors import UsageError


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
        return sorted(self.table["metric"].unique().tolist())

    @property
    def steps(self) -> np.ndarray:
        """Distinct steps, ascending."""
        return np.unique(self.table["step"].to_numpy())

    @property
    def n_steps(self) -> int:
        return int(self.steps.size)

    def resolve_metric(self, name: str) -> str:
        """The run's own name for `name` (itself, or the original behind a canonical alias).

        Raises UsageError listing the metrics that exist, closest to `name` first.
        """
        present = set(self.table["metric"].unique().tolist())
        if name in present:
            return name
        if name in self.aliases and self.aliases[name] in present:
            return self.aliases[name]
        raise UsageError(unknown_metric_message(name, sorted(present | set(self.aliases))))

    def series(self, metric: str, finite: bool = True) -> pd.Series:
        """Values of one metric indexed by step (ascending); non-finite dropped unless asked."""
        own = self.resolve_metric(metric)
        rows = self.table[self.table["metric"] == own]
        values = rows["value"].to_numpy(dtype=np.float64)
        steps = rows["step"].to_numpy(dtype=np.int64)
        if finite:
            keep = np.isfinite(values)
            values, steps = values[keep], steps[keep]
        order = np.argsort(steps, kind="stable")
        return pd.Series(values[order], index=pd.Index(steps[order], name="step"), name=own)

    def wide(self) -> pd.DataFrame:
        """One row per step, one column per metric (NaN where a metric was not logged)."""
        return self.table.pivot(index="step", columns="metric", values="value").sort_index()

    def metric_summary(self) -> dict[str, dict[str, int | None]]:
        """Per metric: count of finite values, first and last step with a finite value."""
        finite = self.table[np.isfinite(self.table["value"].to_numpy())]
        out: dict[str, dict[str, int | None]] = {}
        grouped = finite.groupby("metric", observed=True)["step"].agg(["count", "min", "max"])
        for metric in self.metrics:
            if metric in grouped.index:
                row = grouped.loc[metric]
                out[metric] = {
                    "count": int(row["count"]),
                    "first_step": int(row["min"]),
                    "last_step": int(row["max"]),
                }
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


def to_float(value: Any) -> float | None:
    """A log value as a float: numbers, bools, numeric strings ('0.5', 'NaN', 'Infinity').

    Returns None for values that are not numbers (text, lists, dicts, null): those are not
    metrics and are left out rather than stored as NaN, so sparse keys stay sparse.
    """
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 40:
            return None
        try:
            return float(text)
        except ValueError:
            return None
    if isinstance(value, (np.integer, np.floating)):
        return float(value)
    return None


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
        self._value_records: list[int] = []
        self._metrics: list[str] = []
        self._values: list[float] = []

    @property
    def n_records(self) -> int:
        return len(self._record_steps)

    def warn(self, message: str, line: int | None = None) -> None:
        self.warnings.append(f"line {line}: {message}" if line is not None else message)

    def add(self, step: int, values: Mapping[str, Any], line: int = 0) -> int:
        """Add one logged row; returns how many numeric values it carried."""
        record = len(self._record_steps)
        n = 0
        for key, raw in values.items():
            value = to_float(raw)
            if value is None:
                continue
            self._value_records.append(record)
            self._metrics.append(key)
            self._values.append(value)
            n += 1
        self._record_steps.append(int(step))
        self._record_lines.append(int(line))
        return n

    def build(self, **metadata: Any) -> Run:
        record_steps = np.asarray(self._record_steps, dtype=np.int64)
        events = list(metadata.pop("events", []))
        warnings = self.warnings + list(metadata.pop("warnings", []))
        events_from_steps, step_warnings = _resume_events(
            record_steps, np.asarray(self._record_lines, dtype=np.int64)
        )
        events.extend(events_from_steps)
        warnings.extend(step_warnings)

        value_records = np.asarray(self._value_records, dtype=np.int64)
        table = pd.DataFrame(
            {
                "step": record_steps[value_records] if value_records.size else np.zeros(0, np.int64),
                "metric": pd.Series(self._metrics, dtype=object),
                "value": np.asarray(self._values, dtype=np.float64),
            }
        )
        # Later records supersede earlier ones (file order == list order).
        table = table.drop_duplicates(subset=["step", "metric"], keep="last")
        table = table.sort_values(["metric", "step"], kind="stable").reset_index(drop=True)
        if "aliases" not in metadata:
            from phasewatch.presets import aliases_for

            metadata["aliases"] = aliases_for(table["metric"].unique().tolist())
        return Run(
            table=table,
            source=self.source,
            format=self.format,
            n_records=self.n_records,
            events=sorted(events, key=lambda e: e.step),
            warnings=warnings,
            **metadata,
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


def is_finite_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
