"""The Hugging Face Trainer's progress table in a notebook's HTML output, back to its log rows.

In a notebook the Trainer (and TRL, which uses it) shows its progress with transformers'
`NotebookProgressCallback` (`utils/notebook.py`): one display, updated in place, holding a
progress bar (`<progress value='V' max='MAX_STEPS'>` and a label `[V/MAX 01:23, Epoch 2/3]`)
and a table written by `text_to_html_table`. The table's first column is `Step`, or `Epoch`
with `eval_strategy="epoch"` (then its rows are at `int(state.epoch)`), then `Training Loss`,
`Validation Loss` when there is an evaluation, then each other evaluation metric as
`on_evaluate` names it: the key without its `eval_` prefix, its words capitalised and joined by
spaces (`eval_mean_token_accuracy` -> `Mean Token Accuracy`). Floats are printed with 6
decimals, a value not logged yet as `No log` (or `No Log`).

`trainer_key` maps a column back to the Trainer's own key (`Training Loss` -> `loss`,
`Validation Loss` -> `eval_loss`, `Mean Token Accuracy` -> `eval_mean_token_accuracy`), so the
presets and the metric choice treat the table as they treat the run's `trainer_state.json`.
`str.capitalize` lowercased the rest of each word: `eval_rougeL` comes back as `eval_rougeL`
only because it is listed in `CASED` (the other capitals are lost). Unsloth patches the
callback to show its training rows' keys too (GRPO's `reward`, `kl`, DPO's `rewards / chosen`):
such lower-case columns are the keys as logged.

Parsed with the standard library's `html.parser` (markup only: nothing in it is run).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser

from phasewatch.io.lines import as_step
from phasewatch.values import to_float

STEP_COLUMNS = ("Step", "Epoch")
TRAIN_LOSS = "Training Loss"
VALIDATION_LOSS = "Validation Loss"
NO_LOG = ("no log",)
EVAL_PREFIX = "eval_"
# Metric keys with capitals that `str.capitalize` lowercased (HF examples' ROUGE keys).
CASED = {"rougel": "rougeL", "rougelsum": "rougeLsum"}
# `[400/400 01:23, Epoch 3/3]`: the progress label; the epochs planned after the slash.
LABEL_EPOCHS = re.compile(r"Epoch\s+[\d.]+\s*/\s*(\d+(?:\.\d+)?)")


def trainer_key(column: str) -> str:
    """The Trainer's log key of a progress-table column: the inverse of `on_evaluate`'s naming,
    up to the capitals it lost (`F1 Macro` -> `eval_f1_macro`; `Weighted f1`, a word that
    `capitalize` left in lower case, was one part with a space: `eval_weighted f1`). A column
    in lower case is a training log key as Unsloth's table writes it, its `/` spaced
    (`rewards / chosen` -> `rewards/chosen`, `reward`, `kl`)."""
    if column == TRAIN_LOSS:
        return "loss"
    if column == VALIDATION_LOSS:
        return EVAL_PREFIX + "loss"
    if column[:1].islower():
        return column.replace(" / ", "/")
    parts: list[str] = []
    for word in column.split(" "):
        if parts and word[:1].islower():
            parts[-1] += " " + word
        elif word:
            parts.append(word)
    key = "_".join(part.lower() for part in parts)
    return EVAL_PREFIX + CASED.get(key, key)


@dataclass
class Progress:
    """A progress bar: `<progress value= max=>` and the label after it."""

    value: int | None
    total: int | None
    label: str = ""

    @property
    def planned_epochs(self) -> float | None:
        found = LABEL_EPOCHS.search(self.label)
        return float(found.group(1)) if found else None


@dataclass
class Table:
    """A table's header (its first row of `<th>` cells) and its data rows (`<td>` cells)."""

    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    progress: Progress | None = None  # the bar drawn before it in the same display

    @property
    def is_training(self) -> bool:
        """The Trainer's progress table: `Step` or `Epoch` first, `Training Loss` beside it
        (an evaluation's own one-row table starts with `Training Loss`; a DataFrame with its
        index column starts with an empty header)."""
        return bool(self.columns) and self.columns[0] in STEP_COLUMNS \
            and TRAIN_LOSS in self.columns


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self.bars: list[Progress] = []
        self._rows: list[tuple[bool, list[str]]] | None = None
        self._row: list[str] | None = None
        self._header = True
        self._cell: list[str] | None = None
        self._label: Progress | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "progress":
            found = dict(attrs)
            self._label = Progress(_int(found.get("value")), _int(found.get("max")))
            self.bars.append(self._label)
        elif tag == "table":
            self._label = None
            self._rows = []
        elif tag == "tr" and self._rows is not None:
            self._row, self._header = [], True
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._header = self._header and tag == "th"
        elif tag == "div":
            self._label = None

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._rows is not None:
            self._rows.append((self._header, self._row))
            self._row = None
        elif tag == "table" and self._rows is not None:
            self._close_table()
        elif tag == "div":
            self._label = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._label is not None:
            self._label.label += data

    def _close_table(self) -> None:
        rows, self._rows = self._rows or [], None
        if not rows:
            return
        header, columns = rows[0]
        table = Table(columns if header else [], progress=self.bars[0] if self.bars else None)
        table.rows = [cells for _, cells in (rows[1:] if header else rows)]
        self.tables.append(table)

    def close(self) -> None:
        super().close()
        if self._rows is not None:  # a table cut off (a damaged output): its complete rows
            self._close_table()


def tables(html: str) -> list[Table]:
    """The tables of an HTML output, each with the first progress bar of the output (the
    training tracker's: the evaluation's child bar comes after the table)."""
    parser = _Parser()
    try:
        parser.feed(html)
        parser.close()
    except AssertionError as exc:  # html.parser's check of a `<![...]>` marked section
        raise ValueError(f"HTML that cannot be parsed ({exc})") from None
    return parser.tables


def _int(text: str | None) -> int | None:
    try:
        return int(str(text).strip())
    except ValueError:
        return None


def is_no_log(cell: str) -> bool:
    return cell.strip().lower() in NO_LOG


def table_row(cells: Sequence[str], columns: Sequence[str], keys: Sequence[str | None],
              absent: Callable[[str], bool]) -> tuple[int, dict[str, float], list[tuple[str, str]]]:
    """One progress-table row (the HF Trainer's or fastai's) as its step, its values under
    `keys` (a None key is no metric; a cell `absent` says so is no value) and the (column,
    cell) pairs that are no number. ValueError saying why the row cannot be read: more cells
    than columns (fewer: columns a later evaluation added) or a step that is no whole number."""
    if not cells or len(cells) > len(columns):
        raise ValueError(f"{len(cells)} cells under {len(columns)} columns")
    try:
        step = as_step(cells[0])
    except ValueError:
        raise ValueError(f"its {columns[0]} {cells[0][:40]!r} is not a whole number") from None
    values: dict[str, float] = {}
    text: list[tuple[str, str]] = []
    for key, column, cell in zip(keys, columns[1:], cells[1:]):
        if key is None or absent(cell):
            continue
        value = to_float(cell)
        if value is None:
            text.append((column, cell))
        else:
            values[key] = value
    return step, values, text


def not_numbers_note(number: int, text: Sequence[tuple[int, str, str]]) -> str:
    """The warning for a cell's table values that are no numbers ((row, column, cell) each)."""
    row, column, cell = text[0]
    return (f"cell {number}: left out {len(text)} table values that are not numbers (first: "
            f"row {row}, {column}: {cell[:40]!r})")
