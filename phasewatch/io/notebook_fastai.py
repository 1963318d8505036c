"""fastai's `Learner` progress table in a notebook's HTML output, as one run per cell.

In a notebook, fastai's `ProgressCallback` (`fastai.callback.progress`, drawn by fastprogress'
`NBMasterBar`) shows each `fit` (`fit_one_cycle`, `fine_tune`'s two fits, `fit_flat_cos`...) as a
display updated in place: a progress bar over the epochs while it runs, and a table written by
fastprogress' `text2html_table` with the Recorder's `metric_names`:

    epoch  train_loss  valid_loss  error_rate  time
    0      0.180385    0.023942    0.006766    00:16

The first column counts the fit's epochs from 0; `train_loss` is the smoothed training loss,
`valid_loss` the loss on the validation set, and every other metric (`error_rate`, `accuracy`,
`rmse`...) is computed on the validation set too (the Recorder's `train_metrics=True` adds
`train_<metric>` columns, which name themselves). Those are read as `valid_<metric>`
(`valid_accuracy`, `valid_error_rate`), so the presets take them for held-out metrics and a
bare `accuracy` is not mistaken for a train accuracy. `time` (the epoch's duration) is not a
metric; `#na#` (no validation set) is an absent value.

A cell's fits train one learner one after the other (`fine_tune(4)` shows a table of its one
frozen epoch, then one of its 4 unfrozen epochs): the cell's tables are one run, each later
table's epochs counted on from the last epoch of the one before (a warning says so). A bar
still showing above the last table (a fit interrupted, or saved while it ran) gives the planned
last epoch, and says the run did not finish.
"""

from __future__ import annotations

from phasewatch.io.notebook_html import Table, not_numbers_note, table_row
from phasewatch.io.source import Record

EPOCH = "epoch"
MARKER = "<th>train_loss</th>"  # in fastprogress' table header: the HTML is parsed only then
NOT_METRICS = ("time",)
ABSENT = ("#na#", "", "none", "nan")
HELD_OUT_PREFIXES = ("valid_", "train_")
MAX_SHOWN = 5


def is_fastai(table: Table) -> bool:
    """fastprogress' table: `epoch` first, `train_loss` among the columns (HF's has `Step` or
    `Epoch` and `Training Loss`; a DataFrame's first header is its index, often empty)."""
    return bool(table.columns) and table.columns[0] == EPOCH and "train_loss" in table.columns


def metric_key(column: str) -> str:
    """A column's metric name: the losses and `train_`/`valid_` metrics as written, any other
    metric (computed on the validation set) as `valid_<metric>`."""
    return column if column.startswith(HELD_OUT_PREFIXES) else "valid_" + column


def _absent(cell: str) -> bool:
    """A fastai table cell with no value (`#na#`: no validation set)."""
    return cell.strip().lower() in ABSENT


def cell_run(number: int, found: list[Table], fmt: str):
    """The run a cell's fastai tables show (`notebook_cells.BookRun`)."""
    from phasewatch.io.notebook_cells import BookRun

    run = BookRun(number, fmt, [], step_unit=EPOCH)
    offset = 0
    bad: list[tuple[int, int, str]] = []
    text: list[tuple[int, str, str]] = []
    for k, table in enumerate(found, 1):
        columns = table.columns
        keys = [None if c in NOT_METRICS else metric_key(c) for c in columns[1:]]
        last = None
        for row, cells in enumerate(table.rows, 1):
            try:
                epoch, values, cell_text = table_row(cells, columns, keys, _absent)
            except ValueError as exc:
                bad.append((k, row, str(exc)))
                continue
            text.extend((row, column, cell) for column, cell in cell_text)
            last = epoch
            if values:
                run.records.append(Record(offset + epoch, values, 0))
        if k < len(found) and last is not None:
            offset += last + 1
    if len(found) > 1:
        run.warnings.append(f"cell {number}: {len(found)} fastai tables (fits one after the "
                            "other, as fine_tune's frozen and unfrozen epochs): read as one run, "
                            "each table's epochs counted on from the one before")
    if bad:
        rows = ", ".join(f"{k}:{r}" for k, r, _ in bad[:MAX_SHOWN]) + (", ..." if len(bad) > MAX_SHOWN else "")
        run.warnings.append(f"cell {number}: skipped {len(bad)} table rows (table:row {rows}; "
                            f"first: {bad[0][2]})")
    if text:
        run.warnings.append(not_numbers_note(number, text))
    bar = found[-1].progress
    if bar is not None and bar.total and bar.value is not None and bar.value < bar.total:
        run.config["planned_steps"] = offset + bar.total - 1
    else:
        run.finished = True
    return run
