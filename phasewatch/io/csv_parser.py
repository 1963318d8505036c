"""The line parser of a CSV / TSV table (`io.csv`): its header, then one record a row.

Stateful, header first, as a follower meets the lines: the header decides the step column (or
the row number, or a pandas index), the delimiter and the columns' names, and every row after
it is read by them. The header's layouts live here with it: a title line above it
(`csv_layouts`), a W&B panel export's `"<run> - <metric>"` columns (the run prefix dropped where
the file holds one run, kept where it holds several), TensorBoard's `Wall time,Step,Value` (the
value named after the file), fastai's and a split's file names, the header written again by a
logger restarted in append mode, and a file that starts with a row after a rotation (the header
of the file before it). What the file's folder and its run add (Lightning's hparams.yaml and
after-fit evaluations, an Ultralytics run's args.yaml, HF's evaluation after training) is the
source's (`io.csv.Source`), which feeds this parser lines: apart, so each reads as one job.
"""

from __future__ import annotations

import re
from typing import Any

from phasewatch.io import rl_scores
from phasewatch.io.csv_cells import (
    DECIMAL_COMMA,
    delimiter_of,
    index_header,
    is_number,
    names_only,
    numbers_only,
    split_cells,
    without_empty_extra,
)
from phasewatch.io.csv_epochs import EpochSteps, step_of
from phasewatch.io.csv_layouts import (
    EpochEndRows,
    fastai_columns,
    title_line,
    under_split,
)
from phasewatch.io.lines import RecordWithoutStep, as_step, find_step_key
from phasewatch.io.wandb_counter import WANDB_STEP, Passes
from phasewatch.step_units import EPOCH_ROWS
from phasewatch.xaxis import NUMBERED_UNIT, step_unit_of_keys

WANDB_COLUMN = re.compile(r"^(?P<run>.+?) - (?P<metric>.+)$")
TENSORBOARD_COLUMNS = ["Wall time", "Step", "Value"]


class LineParser:
    """Stateful: the first line fed is the header; every later line is one record."""

    def __init__(self, value_name: str = "Value", file_name: str = "") -> None:
        self.notes: list[str] = []
        self.run_name: str | None = None
        self.value_name = value_name  # the metric a TensorBoard CSV's "Value" column holds
        self.file_name = file_name  # fastai's `history.csv` (`csv_layouts.fastai_columns`)
        self.printed_names: dict[str, str] = {}  # `loss` -> `valid_loss` (`under_split`)
        self.declared: tuple[str, str] | None = None  # PFRL's `mean` (`io.rl_scores`)
        self._columns: list[str] | None = None
        self._header: list[str] = []  # the header's cells as written (`_header_again`)
        self._step_index: int | None = -1  # None: no step column, the row number is the step
        self._rows = 0  # the rows read, the next one's step where there is no step column
        self._delimiter = ","
        self.step_unit = "step"  # "epoch" when the step column is `epoch`
        self._previous: LineParser | None = None  # the file before this one (`next_file`)
        self._passes: Passes | None = None  # a W&B export's counter beside its `_step`
        self._wandb_step_index = -1
        self._passes_note: list[str] = []  # its note, replaced at each new pass
        self._title = False  # a title line above the header was passed over (`csv_layouts`)
        self._hinted = ""  # the delimiter that title named (Excel's `sep=;`), if it did
        self._epoch_end: EpochEndRows | None = None  # sentence-transformers' `epoch,steps`
        self._epochs: EpochSteps | None = None  # a step column `epoch` (`io.csv_epochs`)
        self.fractional_epochs = False  # one is known to come (`csv_epochs.fractional_ahead`)
        self._doubled_at: int | None = None  # the first row's doubled separator, if it had one
        self._row_read = False  # a row was matched to the header (`_without_empty_extra`)

    def next_file(self) -> LineParser:
        """The parser of the file that continues this one's log (the file truncated and
        written again, or the current file after its rotated parts): it reads a header again,
        or, where the file starts with a row (logrotate's copytruncate leaves the writer
        appending rows, with no header; trial 34), this file's header."""
        parser = LineParser(self.value_name, self.file_name)
        parser._previous = self if self._columns is not None else None
        return parser

    @property
    def header_read(self) -> bool:
        return self._columns is not None

    @property
    def epochs(self) -> EpochSteps | None:
        """The steps of an `epoch` step column, where the header has one."""
        return self._epochs

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if self._columns is None:
            if not self._title and (sep := title_line(line)) is not None:
                self._title, self._hinted = True, sep
                self.notes.append(f"line {lineno} ({line.strip()[:40]!r}) is a title above the "
                                  "header, not a row")
                return []
            try:
                self._read_header(line)
            except ValueError:
                if not self._continues(line):
                    raise
                return self.feed(line, lineno)
            return []
        cells = split_cells(line, self._delimiter)
        if self._step_index is None:
            if [c.strip() for c in cells] == self._header:  # the header written again
                return []
        elif not is_number(cells[self._step_index] if self._step_index < len(cells) else "") \
                and self._header_again(cells, lineno):  # rows: no cost
            return []
        if self._delimiter == ";":  # '0,5' is 0.5 in such a file
            cells = [c.replace(",", ".") if DECIMAL_COMMA.match(c) else c for c in cells]
        if len(cells) != len(self._columns):
            cells = self._without_empty_extra(cells, lineno)
        self._row_read = True
        if self._step_index is None:
            step, self._rows = self._rows, self._rows + 1
        else:
            self._summary_row(cells)
            step, self.step_unit = step_of(self._epochs, cells[self._step_index], self.step_unit)
            if self._passes is not None:
                step = self._counted_on(step, cells[self._wandb_step_index])
        values = {
            name: cell
            for i, (name, cell) in enumerate(zip(self._columns, cells))
            if (i != self._step_index or self.step_unit == EPOCH_ROWS) and name and cell.strip()
        }
        if self._epoch_end is None or self._step_index is None:
            return [(step, values)]
        found = self._epoch_end.records(step, values, cells, lineno)  # an evaluator CSV's
        self.step_unit = "epoch" if self._epoch_end.by_epoch else self.step_unit
        return found

    def flush(self) -> list[tuple[int, dict[str, Any]]]:
        """At the file's end, the rows an evaluator CSV's first epoch held (`EpochEndRows`)."""
        return self._epoch_end.end() if self._epoch_end is not None else []

    def _without_empty_extra(self, cells: list[str], lineno: int) -> list[str]:
        """A row with one empty cell more than the header, read without it
        (`csv_cells.without_empty_extra`). A doubled separator is a writer's layout, in every
        row at one place: taken where the first row has it (and said, as it lines the cells
        after it up with the header), then only there; in a later row alone, an absent value
        beside a value the header does not name cannot be told from it: refused, as any other
        row of another length."""
        found = without_empty_extra(cells, len(self._columns))
        at = found[1] if found is not None else None
        if found is None or (at is not None and at != self._doubled_at and self._row_read):
            raise ValueError(f"{len(cells)} cells where the header has {len(self._columns)}")
        kept = found[0]
        if at is not None and self._doubled_at is None:
            self._doubled_at = at
            where = f"after {self._header[at - 1]}" if 0 < at <= len(self._header) else "first"
            self.notes.append(f"line {lineno}: one empty cell more than the header, {where} (a "
                              "doubled separator): rows like it are read without that cell")
        return kept

    def _summary_row(self, cells: list[str]) -> None:
        """A whole row whose step cell is a word (`final,,,5.98`: a script's test perplexity
        after its epochs) is a summary, no cut write (a cut row has fewer cells): its values,
        with no step to put them at, are not read (`RecordWithoutStep`)."""
        cell = cells[self._step_index].strip()
        if cell and not is_number(cell):
            named = [n for i, (n, v) in enumerate(zip(self._columns, cells))
                     if i != self._step_index and n and v.strip()][:5]
            raise RecordWithoutStep(
                f"the word {cell!r} in its step column {self._header[self._step_index]}, no "
                f"number (a summary row{', with ' + ', '.join(named) if named else ''})")

    def _counted_on(self, step: int, wandb_step: str) -> int:
        """The step of a W&B export's row whose own counter starts again each pass while
        `_step` rises (`wandb_counter` rule 3: the run's `.wandb` file reads the same)."""
        passes = self._passes
        restarts = len(passes.starts)
        step = passes.step(step, as_step(wandb_step) if is_number(wandb_step) else None)
        if len(passes.starts) != restarts:
            self.notes[:] = [n for n in self.notes if n not in self._passes_note] + \
                [passes.note(self._header[self._step_index])]
            self._passes_note = self.notes[-1:]
        return step

    def _header_again(self, cells: list[str], lineno: int) -> bool:
        """Whether the row `cells` is the header written again: a script that opens its log
        in append mode writes its header at every start (`csv.DictWriter.writeheader` on a
        restart, or twice at its first), with the columns it has then. A row of names (no cell
        a number) that names the header's step column as its own step column is such a header,
        no record (a row of words that is no header stays a bad line). The same one is
        passed over without a word (nothing is lost: it was "skipped, not a valid record:
        step is not an integer: 'step'"); other columns (a restart that logs one metric more)
        become the header of the rows after it, which the old one would all skip for their
        count of cells, the new metric with them; a note says which columns came or went."""
        names = [c.strip() for c in cells]
        if names == self._header:
            return True
        if any(is_number(c) for c in names) or find_step_key(names) != self._header[self._step_index]:
            return False
        before = [c for c in self._columns or () if c]
        self._take_header(names)
        added = [c for c in self._columns if c and c not in before]
        dropped = [c for c in before if c not in self._columns]
        changes = "; ".join(part for part in (
            f"now with {', '.join(added[:5])}" if added else "",
            f"without {', '.join(dropped[:5])}" if dropped else "") if part) or "in another order"
        self.notes.append(f"line {lineno} writes the header again, with other columns ({changes}): "
                          "a logger restarted in append mode; the rows after it are read by it")
        return True

    def _continues(self, line: str) -> bool:
        """Whether `line`, the first of a file without a header, is a row of the file before
        it (as many cells, a step where its step column is): then that file's header is
        taken."""
        previous = self._previous
        if previous is None or previous._columns is None:
            return False
        cells = split_cells(line, previous._delimiter)
        if len(cells) != len(previous._columns):
            return False
        if previous._step_index is None:
            if not numbers_only(cells):
                return False
        else:
            try:
                as_step(cells[previous._step_index])
            except (TypeError, ValueError):
                return False
        self._columns, self._step_index = previous._columns, previous._step_index
        self._epochs = previous._epochs
        self._rows = previous._rows
        self._delimiter, self.step_unit = previous._delimiter, previous.step_unit
        self.run_name = previous.run_name
        self._header = previous._header
        self.notes.append("a file without a header after the rotation or truncation of the "
                          "log: read with the header of the file before it")
        return True

    def _read_header(self, line: str) -> None:
        line = line.lstrip("\ufeff")  # a byte-order mark when a follower reads raw lines
        self._delimiter = self._hinted or delimiter_of(line)
        self._take_header([c.strip() for c in split_cells(line, self._delimiter)])

    def _take_header(self, columns: list[str]) -> None:
        step_key = find_step_key(columns)
        indexed = step_key is None and index_header(columns)
        if step_key is None and not (names_only(columns) or indexed):
            raise ValueError("the header has no step-like column (step, global_step, _step, ...)")
        self._header = columns
        if indexed:  # a pandas frame's unnamed index: its values number the rows
            self._step_index = 0
            self.step_unit = NUMBERED_UNIT
            self.notes.append("no step-like column in the header; its unnamed first column (a "
                              "pandas DataFrame's index, written by to_csv) numbers the rows: "
                              "read as the step")
        elif step_key is None:  # `numbered_table`: rows of numbers, numbered
            self._step_index = None
            self.step_unit = NUMBERED_UNIT
            self.notes.append("no step-like column (step, global_step, _step, iteration, ...) in "
                              "the header; using the row number as the step")
        else:
            self._epoch_end = EpochEndRows(columns, step_key, self.notes)
            self._step_index = columns.index(step_key)
            self.step_unit = step_unit_of_keys([step_key])
            self._epochs = EpochSteps(self.notes, self.fractional_epochs) \
                if step_key.lower() == "epoch" else None
            if step_key != WANDB_STEP and WANDB_STEP in columns:
                self._passes = Passes()
                self._wandb_step_index = columns.index(WANDB_STEP)
        if (declared := rl_scores.declared_score(columns, self.file_name)) and not self.declared:
            self.declared = declared
            self.notes.append(rl_scores.NOTE)
        if columns == TENSORBOARD_COLUMNS:
            self._columns = ["", "Step", self.value_name]
            return
        self._columns = fastai_columns(columns, self.file_name) \
            or self._drop_wandb_run_prefix(columns)
        # a file named for its split (`valid.csv`): its bare `loss` is read as `valid_loss`
        self._columns, renamed, note = under_split(self._columns, self.file_name, self._step_index)
        self.printed_names.update(renamed)
        self.notes += [note] if note and note not in self.notes else []
        repeated = sorted({c for c in self._columns if c and self._columns.count(c) > 1})
        if repeated:
            self.notes.append(f"the header names {', '.join(repeated[:5])} more than once: the "
                              "last such column is read (rename the others to keep them)")

    def _drop_wandb_run_prefix(self, columns: list[str]) -> list[str]:
        matches = [WANDB_COLUMN.match(c) for i, c in enumerate(columns) if i != self._step_index]
        if not matches or not all(matches):
            return columns
        runs = sorted({m.group("run") for m in matches})
        if len(runs) > 1:
            self.notes.append(
                f"this W&B export holds {len(runs)} runs ({', '.join(runs[:5])}); "
                "metric names keep their '<run> - ' prefix"
            )
            return columns
        self.run_name = runs[0]
        return [
            c if i == self._step_index else WANDB_COLUMN.match(c).group("metric")
            for i, c in enumerate(columns)
        ]
