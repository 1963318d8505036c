"""`Run`: one training run as a tidy long table (step, metric, value) plus metadata.

Every reader produces a `Run`; everything downstream (signals, change points, phases, plots,
alerts) consumes one and never sees a file format. Duplicate records are resolved here, once,
the way real runs produce them (see `RecordCollector.build`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from phasewatch.branch_cuts import MAX_MARKS, Mark, columns_between, triplets_between
from phasewatch.errors import UsageError
from phasewatch.records import Columns, ColumnStore
from phasewatch.resumes import MAX_RESUMES, ResumeScan, interleaved_note, resume_points, went_back
from phasewatch.run_table import columns_to_table, empty_table, table_to_columns
from phasewatch.step_rows import row_warnings
from phasewatch.step_union import step_union
from phasewatch.step_units import at
from phasewatch.stepseries import StepSeries
from phasewatch.text_cells import TextCells, take_numbers
from phasewatch.unknown_metric import unknown_metric_message
from phasewatch.values import MAX_VALUE, to_float  # noqa: F401 - the one conversion, also run.to_float

if TYPE_CHECKING:  # pandas is imported where a table or a pandas Series is asked for
    import pandas as pd


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

    A run read from a log holds its values as per-metric columns (`from_columns`); `table` is
    built from them only when asked for, since the long table costs 24 bytes a value (a 2 GB
    log's table alone was as big as the file). `column`, `metrics`, `steps` and
    `metric_summary` work on the columns without pandas, which is imported only for `table`,
    `series` and `wide` (the import alone took longer than analysing a 100k-step run).
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
    step_unit: str = "step"
    """What the steps count when the reader knows it is not training steps: "epoch" for Keras'
    History, a table whose only counter is `epoch`, Keras' TensorBoard `epoch_*` tags. Only the
    words change (`xaxis.step_unit`); the steps are the numbers the log gave."""
    printed_names: dict[str, str] = field(default_factory=dict)
    """A name as the log printed it -> this run's own name for it, where the reader read it
    under another: `accelerate_console` reads `metric.compute()`'s `accuracy` as
    `eval_accuracy`, the evaluation's, as HF's Trainer names it. `--metric` takes the printed
    name too (`own_name`), said once (`resolve_metric`)."""
    finished: bool = False
    """The log says the run ended (a trainer_state.json at its max_steps, HF's final
    `train_runtime` row, a run.json status...): its plan, if it states one, is not what is
    left to come (`whole_plan.unfinished_note`)."""
    ended_by: str | None = None
    """What the log says ended the run where it is no end the trainer planned (`ENDINGS` of
    `early_end`: "crash", "interrupt", "kill", "early stop"), for the note on a run that ends
    before its plan (`early_end.why_short`); None where the log does not say."""
    end_note: str | None = None
    """The reader's own warning of what ended the run, where it gave one (detectron2's crash):
    the note that the log ends before its plan says it too, and replaces it (`said_once`)."""

    @classmethod
    def from_columns(cls, columns: Columns, source: str, format: str, **metadata: Any) -> Run:
        """A run over resolved columns: metric -> (distinct steps ascending, values)."""
        run = cls(None, source, format, **metadata)  # type: ignore[arg-type]
        # a records.ResolvedColumns is kept as it is (its packed metrics have no dict entries)
        run.__dict__["_columns"] = (None, columns if hasattr(columns, "step_arrays") else dict(columns))
        return run

    def _get_table(self) -> pd.DataFrame:
        table = self.__dict__.get("_table")
        if table is None:
            columns = self.columns()
            table = self.__dict__["_table"] = columns_to_table(columns)
            self.__dict__["_columns"] = (table, columns)
        return table

    def _set_table(self, table: pd.DataFrame | None) -> None:
        self.__dict__["_table"] = table
        self.__dict__.pop("_columns", None)

    # ----------------------------------------------------------------- views
    def columns(self) -> Columns:
        """metric -> (steps ascending, values), every row of the metric (arrays are shared:
        do not write to them). Built once from `table` when the run was made from one."""
        cache = self.__dict__.get("_columns")
        if cache is not None and (cache[0] is None or cache[0] is self.__dict__.get("_table")):
            return cache[1]
        table = self.__dict__.get("_table")
        columns = table_to_columns(table if table is not None else empty_table())
        self.__dict__["_columns"] = (table, columns)
        return columns

    @property
    def metrics(self) -> list[str]:
        """Names of the metrics as the log wrote them, sorted."""
        return sorted(self.columns())

    @property
    def steps(self) -> np.ndarray:
        """Distinct steps, ascending."""
        union = self._step_union()
        return union.copy() if any(union is s for s, _ in self.columns().values()) else union

    @property
    def n_steps(self) -> int:
        return int(self._step_union().size)

    def _step_union(self) -> np.ndarray:
        """Distinct steps, ascending; may be one of the columns' own arrays (do not write)."""
        resolved = self.__dict__.get("_columns", (False,))[0] is None  # each sorted, distinct
        return step_union(self.columns(), resolved)

    def own_name(self, name: str) -> str | None:
        """The run's own name for `name` (itself, via a canonical alias, or the name the log
        printed it under: `printed_names`), or None if absent."""
        columns = self.columns()
        if name in columns:
            return name
        alias = self.aliases.get(name, self.printed_names.get(name))
        return alias if alias in columns else None

    def resolve_metric(self, name: str) -> str:
        """The run's own name for `name` (itself, the original behind a canonical alias, the
        name a printed one is read under, or HF's other spelling: the last two said once).

        Raises UsageError listing the metrics that exist, closest to `name` first.
        """
        own, said = self.own_name(name), None
        if own is not None and own != name and name not in self.aliases:  # `printed_names`
            said = f"--metric {name}: the log prints {name}, read as {own}: the output names it so"
        elif own is None and (own := self.hf_spelling(name)) is not None:
            said = f"--metric {name}: this log names it {own}"
        if own is not None:
            # said once per log and name: resolved again and again
            if said and (self.source, name) not in _SPELLINGS_SAID:
                _SPELLINGS_SAID.add((self.source, name))
                from phasewatch.output import warn

                warn(said)
            return own
        # listed: the log's names, as read and as printed (both `inspect` shows); a role name
        # (`eval/loss`) only leads to the name it stands for
        listed = set(self.columns()) | set(self.printed_names)
        roles = {k: v for k, v in self.aliases.items() if v in listed}
        raise UsageError(unknown_metric_message(name, sorted(listed), roles))

    def hf_spelling(self, name: str) -> str | None:
        """The run's one metric that is `name` in HF's other spelling (`eval_x` / `eval/x`,
        `presets.hf_spelling`) when neither `name` nor an alias of it is present, else None.
        Only a name asked for (`resolve_metric`) falls back to it, never a role the choice of
        a metric tries."""
        if self.own_name(name) is not None:
            return None
        from phasewatch.presets import hf_spelling

        return hf_spelling(name, self.columns())

    def column(self, metric: str, finite: bool = True) -> StepSeries:
        """Values of one metric by step (ascending) as numpy arrays, under the run's own name;
        non-finite values (and values beyond +-`MAX_VALUE`) dropped unless asked. The arrays
        are read-only (they may be the run's own, shared between metrics)."""
        own = self.resolve_metric(metric)
        steps, values = self.columns()[own]
        if finite:
            keep = np.abs(values) <= MAX_VALUE  # False for NaN and infinities too
            if not keep.all():
                values, steps = values[keep], steps[keep]
        steps, values = steps.view(), values.view()
        steps.flags.writeable = values.flags.writeable = False
        return StepSeries(own, steps, values)

    def series(self, metric: str, finite: bool = True) -> pd.Series:
        """Values of one metric as a `pandas.Series` indexed by step (ascending), named by the
        run's own name; non-finite dropped unless asked. (`column` gives numpy arrays.)"""
        return self.column(metric, finite).to_pandas()

    def wide(self) -> pd.DataFrame:
        """One row per step, one column per metric (NaN where a metric was not logged)."""
        return self.table.pivot(index="step", columns="metric", values="value").sort_index()

    def metric_summary(self) -> dict[str, dict[str, int | None]]:
        """Per metric (sorted by name): count of finite values, first and last step with a finite
        value (None when it has none)."""
        from phasewatch.metric_table import STEP_FIELDS, metric_table

        return metric_table(self.columns()).as_dicts(STEP_FIELDS)


# `table` is a dataclass field (Run(table=...), dataclasses.replace) and a lazy property.
Run.table = property(Run._get_table, Run._set_table)  # type: ignore[assignment]


_SPELLINGS_SAID: set[tuple[str, str]] = set()  # (source, --metric) said in HF's other spelling


class RecordCollector:
    """Collects records `(step, {metric: value})` in file order and resolves them into a Run.

    Readers call `add` once per logged row, in the order the file holds them, then `build`.
    Resolution follows how real runs produce duplicates:
    - several rows for one step with different keys merge;
    - exact double logging collapses; several rows of a metric at one step: `step_rows`;
    - when a metric's step counter goes back to step s (a run resumed from an earlier
      checkpoint), its earlier records from s on are the abandoned branch's and are dropped
      (`records._latest_per_step`), a `resume` event is recorded and a warning says where.
    Values are stored as compact per-metric columns (`records.ColumnStore`), never as rows.
    """

    def __init__(self, source: str | Path, format: str):
        self.source = str(source)
        self.format = format
        self.warnings: list[str] = []
        self._n_records = 0
        self._store = ColumnStore()
        self._text = TextCells()  # values that are not numbers (`text_cells`)
        self._resumes = ResumeScan()
        self._marks: dict[int, Mark] = {}  # found resume (index) -> the store before it
        # (step, step before) where some metric's own counter went back, kept over builds: a
        # build resolves the store without the abandoned branches, so a later one cannot see it
        self._counters_went_back: set[tuple[int, int]] = set()
        # names a record's line in warnings: "line N", or in a log joined from several files
        # the file and its own line (`RotatedLog.where`)
        self.where: Callable[[int], str] | None = None

    @property
    def n_records(self) -> int:
        return self._n_records

    def warn(self, message: str, line: int | None = None) -> None:
        self.warnings.append(f"line {line}: {message}" if line is not None else message)

    def add(self, step: int, values: Mapping[str, Any], line: int = 0) -> int:
        """Add one logged row; returns how many numeric values it carried."""
        step = int(step)
        found = self._resumes.found
        n_found = len(found)
        self._resumes.one(step, int(line))
        if len(found) > n_found:
            self._mark(n_found)
        if type(values) is not dict and hasattr(values, "as_columns"):
            names, floats = values.as_columns()  # a records_sparse.Row: millions of items
            self._store.add_row(step, names, floats)
            self._n_records += 1
            return len(names)
        self._n_records += 1
        return take_numbers(values, step, int(line), self._store.add, self._text)

    def not_a_number(self, key: str, raw: Any, line: int) -> None:
        """A value `to_float` did not read (a bulk reader's): text is said where the metric's
        other values are numbers (`text_cells`)."""
        self._text.note(key, raw, int(line))

    def _mark(self, found: int) -> None:
        """Mark the store where the stream went back (`branch_cuts`), before the record that
        went back is stored."""
        if len(self._marks) < MAX_MARKS:
            self._marks[found] = self._store.mark()

    def _pieces(self, steps: np.ndarray, lines: np.ndarray) -> Iterator[tuple[int, int]]:
        """(first, end) of each run of records between the points where the stream goes back;
        the store is marked at each (`branch_cuts`) once the run before it is stored."""
        n_found = len(self._resumes.found)
        first = 0
        for k, back in enumerate(self._resumes.block(steps, lines)):
            if back > first:
                yield first, back
            self._mark(n_found + k)
            first = back
        if steps.size > first:
            yield first, steps.size

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
        steps = np.asarray(steps, dtype=np.int64)
        for first, end in self._pieces(steps, np.asarray(lines, dtype=np.int64)):
            piece = columns_between(columns, first, end, steps.size)
            self._store.add_block(steps[first:end], piece)
        self._n_records += int(steps.size)

    def add_triplets(self, steps: np.ndarray, lines: np.ndarray, names: list[str],
                     records: np.ndarray, values: np.ndarray) -> None:
        """Many records of a few values each (a new metric name on every line), as `add`
        would take them: value k is metric `names[k]` of record `records[k]` (file order)."""
        steps = np.asarray(steps, dtype=np.int64)
        records = np.asarray(records, dtype=np.int64)
        for first, end in self._pieces(steps, np.asarray(lines, dtype=np.int64)):
            names_in, records_in, values_in = triplets_between(names, records, values, first, end)
            self._store.add_triplets(names_in, steps[records_in], values_in)
        self._n_records += int(steps.size)

    def build(self, **metadata: Any) -> Run:
        events = list(metadata.pop("events", []))
        warnings = self.warnings + list(metadata.pop("warnings", []))
        found = self._resumes.found
        # a step the stream went back to where no metric's own counter went back is another
        # counter's step (epochs beside batches), not a resume
        if found:
            self._counters_went_back |= self._store.counters_went_back()
        points = resume_points(found, list(self._counters_went_back)) if found else []
        interleaved = len(points) > MAX_RESUMES
        kept = set() if interleaved else set(points)
        columns = self._store.resolve([(f[0], mark) for i, f in enumerate(found)
                                       if f in kept and (mark := self._marks.get(i))])
        self._marks = {}
        warnings.extend(row_warnings(self._store.row_notes, [p[:2] for p in points]))
        warnings.extend(self._text.warnings(lambda m: m in columns and len(columns[m][0]) > 0,
                                             self.where))
        if interleaved:
            warnings.append(interleaved_note(points, self.where))
            points = []
        for step, prev, line in sorted(points, key=lambda p: (p[2] <= 0, p[2])):  # file order
            where = "" if line <= 0 else f"{self.where(line)}: " if self.where else f"line {line}: "
            events.append(Event(step=step, name="resume", detail=f"step counter went back from {prev}"))
            unit = metadata.get("step_unit", "step")
            warnings.append(f"{where}{went_back(prev, step, unit)}: the earlier records from "
                            f"{at(step, unit)} on are dropped")
        if metadata.get("step_unit", "step") in ("step", "record") \
                and not any(e.name == "epoch_boundary" for e in events):
            from phasewatch.epochs import epoch_events

            events.extend(epoch_events(columns, warnings,
                                       [e.step for e in events if e.name == "sft_to_rl"]))
        if "aliases" not in metadata:
            from phasewatch.epoch_twins import run_aliases

            metadata["aliases"] = run_aliases(self._store.names(), columns)
        if not metadata.get("algorithm"):  # most logs do not name it; their trainers' metrics do
            from phasewatch.algorithm_names import infer_algorithm

            metadata["algorithm"] = infer_algorithm(self._store.names(), metadata.get("config") or {})
        return Run.from_columns(
            columns,
            source=self.source,
            format=self.format,
            n_records=self.n_records,
            events=sorted(events, key=lambda e: e.step),
            warnings=warnings,
            **metadata,
        )
