"""A saved Jupyter notebook's outputs, cell by cell, as the training runs they show.

`read_book(path)` parses the `.ipynb` (nbformat 4: JSON, read with `json` only; nothing in the
notebook is run, unpickled or evaluated) and finds, in cell order:
  - each Hugging Face / TRL progress table in a `text/html` output (`notebook_html`): one run,
    format `notebook`, its rows at the table's `Step` (or `Epoch`, then the run counts epochs)
    under the Trainer's own keys; the progress bar's `max` is the planned length, its value at
    `max` says the run finished; `TrainOutput(global_step=N, ..., metrics={...})` in the same
    cell (the value of `trainer.train()`, or printed) is the final summary row at step N, as
    in `trainer_state.json`;
  - fastai's `Learner` progress tables in a cell's `text/html` outputs (`notebook_fastai`):
    one run per cell, its steps the epochs;
  - in a cell without such a table, the text its stream outputs printed (stdout and stderr,
    in order), when one of the console readers' `sniff_text` takes it (`printed_log`): one
    run, read by that reader's own `Source` and `LineParser` from the text (format: that
    reader's, such as `hf_console`); line numbers count the lines of the cell's printed output.
Cells are numbered from 1, top to bottom, markdown cells included. A cell or output that is
not what nbformat writes is skipped and reported (`Book.problems`); a table row that cannot
be read is skipped and reported with the run.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasewatch.errors import BAD_LINE_ERRORS, InputError
from phasewatch.files import open_regular
from phasewatch.io import notebook_fastai as fastai
from phasewatch.io.notebook_html import (
    TRAIN_LOSS,
    Table,
    is_no_log,
    not_numbers_note,
    table_row,
    tables,
    trainer_key,
)
from phasewatch.io.printed_log import MIN_PRINTED_RECORDS, located, read_printed
from phasewatch.io.source import Record
from phasewatch.values import to_float

FORMAT = "notebook"
TRAIN_OUTPUT = re.compile(r"TrainOutput\(global_step=(\d+),\s*training_loss=[^,]*,\s*"
                          r"metrics=(\{[^{}]*\})\)")
MAX_SHOWN = 5


@dataclass
class BookRun:
    """One training run shown by a notebook."""

    cell: int
    format: str
    records: list[Record]
    warnings: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    step_unit: str = "step"
    finished: bool = False
    declared: tuple[str | None, str | None] = (None, None)  # `printed_log.PrintedLog`'s
    printed_names: dict[str, str] = field(default_factory=dict)  # and its `printed_names`


@dataclass
class Book:
    runs: list[BookRun]
    problems: list[str]  # cells and outputs skipped, each `cell N: why`
    code_cells: int = 0
    with_outputs: int = 0
    single_rows: list[int] = field(default_factory=list)
    """Cells that show one log row and no curve: a printed `trainer.evaluate()` or summary
    dict, a `TrainOutput` without a progress table (said when the notebook has no run)."""


def load(path: Path) -> dict[str, Any]:
    """The notebook's JSON document; InputError naming the line where it is not valid JSON."""
    with open_regular(path) as fh:
        text = fh.read().decode("utf-8-sig", errors="replace")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"the notebook is not valid JSON ({exc.msg}; cut off while it was "
                         "saved?)", path, exc.lineno) from None
    if isinstance(doc, dict) and "worksheets" in doc and "cells" not in doc:
        raise InputError("an nbformat 3 notebook; convert it with `jupyter nbconvert --to "
                         "notebook --nbformat 4 FILE` and read the result", path)
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        raise InputError("not a Jupyter notebook: no 'cells' list", path)
    return doc


def text_of(value: Any) -> str:
    """nbformat's multi-line string: a string, or a list of strings (lines) to join."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    raise TypeError(f"text that is neither a string nor a list of strings ({type(value).__name__})")


def read_book(path: Path) -> Book:
    doc = load(path)
    book = Book([], [])
    for number, cell in enumerate(doc["cells"], 1):
        try:
            if not isinstance(cell, dict):
                raise TypeError("not a JSON object")
            if cell.get("cell_type") != "code":
                continue
            book.code_cells += 1
            outputs = cell.get("outputs", [])
            if not isinstance(outputs, list):
                raise TypeError("its 'outputs' is not a list")
        except BAD_LINE_ERRORS as exc:
            book.problems.append(f"cell {number}: skipped ({exc})")
            continue
        if outputs:
            book.with_outputs += 1
            book.runs.extend(_cell_runs(path, number, outputs, book))
    return book


def _cell_runs(path: Path, number: int, outputs: list, book: Book) -> list[BookRun]:
    problems = book.problems
    found: list[Table] = []
    fits: list[Table] = []  # fastai's tables
    printed: list[str] = []
    plain: list[str] = []
    error = None
    for k, output in enumerate(outputs, 1):
        try:
            if not isinstance(output, dict):
                raise TypeError("not a JSON object")
            kind = output.get("output_type")
            if kind == "stream":
                printed.append(text_of(output.get("text", "")))
            elif kind in ("display_data", "execute_result", "update_display_data"):
                data = output.get("data", {})
                if not isinstance(data, dict):
                    raise TypeError("its 'data' is not an object")
                html = text_of(data["text/html"]) if "text/html" in data else ""
                if TRAIN_LOSS in html or fastai.MARKER in html:  # else not parsed: a DataFrame's HTML is large
                    parsed = tables(html)
                    found.extend(t for t in parsed if t.is_training)
                    fits.extend(t for t in parsed if fastai.is_fastai(t))
                if "text/plain" in data:
                    plain.append(text_of(data["text/plain"]))
            elif kind == "error":
                error = f"{output.get('ename', 'error')}: {str(output.get('evalue', ''))[:120]}"
        except BAD_LINE_ERRORS as exc:
            problems.append(f"cell {number}: output {k} skipped ({exc})")
    text = "".join(printed)
    if found:
        runs = [_table_run(number, table) for table in found]
        _add_summary(runs[-1], "\n".join([*plain, text]))
    elif fits:
        runs = [fastai.cell_run(number, fits, FORMAT)]
    else:
        runs = [run for run in [_printed_run(path, number, text, problems)] if run is not None]
        if runs and len(runs[0].records) < MIN_PRINTED_RECORDS:
            runs = []  # `print(trainer.evaluate())`: one row, no curve
            book.single_rows.append(number)
        elif not runs and TRAIN_OUTPUT.search("\n".join([*plain, text])):
            book.single_rows.append(number)
    for run in runs if error else ():
        run.warnings.append(f"cell {number}: the cell stopped with an error ({error})")
    return runs


def _absent(cell: str) -> bool:
    """A Trainer table cell with no value: empty, or `No log`."""
    return not cell or is_no_log(cell)


def _table_run(number: int, table: Table) -> BookRun:
    columns = table.columns
    unit = "epoch" if columns[0] == "Epoch" else "step"
    keys = [trainer_key(c) for c in columns[1:]]
    run = BookRun(number, FORMAT, [], step_unit=unit)
    bad: list[tuple[int, str]] = []
    text: list[tuple[int, str, str]] = []
    for row, cells in enumerate(table.rows, 1):
        try:
            step, values, cell_text = table_row(cells, columns, keys, _absent)
        except ValueError as exc:
            bad.append((row, str(exc)))
            continue
        text.extend((row, column, cell) for column, cell in cell_text)
        if values:
            run.records.append(Record(step, values, 0))
    if bad:
        rows = ", ".join(str(r) for r, _ in bad[:MAX_SHOWN]) + (", ..." if len(bad) > MAX_SHOWN else "")
        run.warnings.append(f"cell {number}: skipped {len(bad)} of {len(table.rows)} table rows "
                            f"(rows {rows}; first: row {bad[0][0]}: {bad[0][1]})")
    if text:
        run.warnings.append(not_numbers_note(number, text))
    bar = table.progress
    if bar is not None and bar.total:
        if unit == "step":
            run.config["max_steps"] = bar.total
        elif bar.planned_epochs is not None and float(bar.planned_epochs).is_integer():
            run.config["planned_steps"] = int(bar.planned_epochs)
        run.finished = bar.value is not None and bar.value >= bar.total
    return run


def _add_summary(run: BookRun, text: str) -> None:
    """`TrainOutput(global_step=N, training_loss=..., metrics={...})`: the Trainer's final
    summary row (`train_runtime`, `train_loss`...) at step N (epochs: at its epoch), as the
    last row of `trainer_state.json` holds it. Its dict is read with `ast.literal_eval`."""
    found = TRAIN_OUTPUT.findall(text)
    if not found:
        return
    global_step, metrics_text = found[-1]
    try:
        metrics = ast.literal_eval(metrics_text)
        if not isinstance(metrics, dict):
            raise TypeError("not a dict")
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        run.warnings.append(f"cell {run.cell}: the TrainOutput's metrics cannot be read "
                            f"({type(exc).__name__}); left out")
        return
    values = {str(k): v for k, v in metrics.items() if to_float(v) is not None}
    if run.step_unit == "epoch":
        epoch = to_float(metrics.get("epoch"))
        if epoch is None:
            return
        step = round(epoch)
    else:
        step = int(global_step)
    run.records.append(Record(step, values, 0))
    run.finished = True


def in_cell(number: int, message: str, line: int | None = None) -> str:
    """`cell N: message`, or `cell N, line L: message` (also for a `line L: ` message)."""
    return located(f"cell {number}", message, line)


def _printed_run(path: Path, number: int, text: str, problems: list[str]) -> BookRun | None:
    """The run a cell printed, read by the first console reader whose `sniff_text` takes it."""
    try:
        printed = read_printed(path, text)
    except InputError as exc:
        problems.append(in_cell(number, exc.message, exc.line))
        return None
    if printed is None:
        return None
    return BookRun(number, printed.format, printed.records,
                   [in_cell(number, w) for w in printed.warnings], printed.config,
                   printed.step_unit, printed.finished, printed.declared, printed.printed_names)
