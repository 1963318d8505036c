"""How a line of a CSV / TSV log splits into cells, and what its first lines say of it: the
delimiter (a spreadsheet's `;` where the decimal mark is a comma), a table of numbers logged row
by row without a step column, a first line of numbers with no header (`headerless_hint`).
The cell-level rules the CSV reader (`io.csv`) and its sniffing share; the layouts of particular
tools are in `csv_layouts`.
"""

from __future__ import annotations

import csv as _csv
import re

from phasewatch.io.jsonlines import first_line


def is_number(cell: str) -> bool:
    """Whether a CSV cell is a number, a decimal comma's too (`0,5`: the CSV reader's test)."""
    try:
        float(cell.replace(",", "."))
    except ValueError:
        return False
    return True


def split_cells(line: str, delimiter: str) -> list[str]:
    try:
        return next(_csv.reader([line], delimiter=delimiter), [])
    except _csv.Error as exc:  # a cell over csv's field limit (131,072 characters), a NUL...
        raise ValueError(f"not a CSV row ({exc})") from None


def without_empty_extra(cells: list[str], width: int) -> tuple[list[str], int | None] | None:
    """A row one cell longer than its header of `width` cells, where that cell is an empty one:
    the row without it, and where it was: None for the last (a trailing separator, `1,0.5,`),
    else its place (a doubled separator, `0.28<TAB><TAB>0.95`, the row's only empty cell: old
    Flair's `loss.tsv` rows; the reader takes it at the place the first row has it). None for any
    other row: an extra cell that holds a value, or one among several empty cells, is no row
    of this header."""
    if len(cells) != width + 1:
        return None
    if not cells[-1].strip():
        return cells[:-1], None
    empty = [i for i, cell in enumerate(cells) if not cell.strip()]
    if len(empty) != 1:
        return None
    return cells[:empty[0]] + cells[empty[0] + 1:], empty[0]


def delimiter_of(header: str) -> str:
    """',' unless the header holds more tabs or semicolons (a spreadsheet saved in a locale
    whose decimal mark is a comma separates cells with ';')."""
    return max((",", "\t", ";"), key=header.count)  # the first of the most frequent


DECIMAL_COMMA = re.compile(r"^\s*[+-]?\d+,\d*(?:[eE][+-]?\d+)?\s*$")


def headerless_hint(head: bytes) -> str:
    """'' or what to add to "unknown log format" for a table whose first line is numbers (`1,46.98`:
    a script's `progress.csv` written without a header): phasewatch cannot tell which column is
    the step and which a metric, nor name them."""
    found = first_line(head)
    if found is None:
        return ""
    # the header's rule picks ',' in `1;49,22` (a comma as many times as ';'): a row of numbers
    # in a decimal-comma locale is told by the delimiter that splits it into numbers
    for delimiter in dict.fromkeys((delimiter_of(found[0]), ";", "\t", ",")):
        cells = [c.strip() for c in split_cells(found[0], delimiter)]
        if len(cells) >= 2 and all(is_number(c) for c in cells):
            break
    else:
        return ""
    shown = "<TAB>" if delimiter == "\t" else delimiter
    return (f"; its first line ({found[0].strip()[:40]!r}) is a row of numbers: a table needs a "
            f"header row naming its columns, such as 'step{shown}accuracy' (add it as the first "
            "line)")


def numbered_table(names: list[str], row: list[str]) -> bool:
    """Whether a header without a step column and the row after it make a table of numbers
    logged row by row (read with the row number as the step): a header of names
    (`names_only`; or after a pandas index's unnamed column, `index_header`, whose
    values number the rows), the row as many cells, of numbers (`numbers_only`), one at least a
    number. A table of records whose cells are words (a run list, a data set) is none."""
    return ((names_only(names) or index_header(names)) and len(row) == len(names)
            and any(is_number(c) for c in row) and numbers_only(row))


def names_only(cells: list[str]) -> bool:
    """Whether a header of at least two cells is all names: none empty, none a number."""
    return len(cells) >= 2 and all(c and not is_number(c) for c in cells)


def numbers_only(cells: list[str]) -> bool:
    """Whether a row's cells are all numbers or empty (a row of a numbered table)."""
    return all(is_number(c) or not c.strip() for c in cells)


def index_header(names: list[str]) -> bool:
    """Whether a header is a pandas frame's, its index unnamed (`csv_layouts`' module
    docstring): an empty first cell, then names (none empty, none a number)."""
    return len(names) >= 2 and names[0] == "" and all(c and not is_number(c) for c in names[1:])
