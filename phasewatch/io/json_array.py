"""A JSON array read element by element: a file cut off mid-write keeps its complete rows.

`trainer_state.json`'s `log_history` is such an array: decoding it one row at a time (not the
whole document at once) gives each row its line number (`LineCounter`), keeps the rows before a
truncation, and lets a damaged row be skipped where the caller asks for that.
"""

from __future__ import annotations

import json
from typing import Any

from phasewatch.io.jsonlines import DECODER

_WS = " \t\r\n"


def iter_array(text: str, start: int, damaged: list[tuple[int, int]] | None = None):
    """(offset, element) for each element of the JSON array whose '[' is at `start`.

    Stops at the closing ']'; raises ValueError(offset) at the first row (or separator) that
    is not valid. With a `damaged` list, a damaged row is skipped instead: reading goes on at
    the next '{' where a row decodes, and (damage offset, resume offset) is appended to the
    list; ValueError only when no row follows the damage (a truncated file).
    Decoding element by element (not the whole document at once) is what lets a truncated
    file keep its complete rows and gives each row its line number.
    """
    i = start + 1
    n = len(text)
    first = True
    while True:
        while i < n and text[i] in _WS:
            i += 1
        if i < n and text[i] == "]":
            return
        bad = None
        if not first:
            if i >= n or text[i] != ",":
                bad = i
            else:
                i += 1
                while i < n and text[i] in _WS:
                    i += 1
        if bad is None:
            try:
                element, end = DECODER.raw_decode(text, i)
            except (json.JSONDecodeError, RecursionError):
                bad = i  # where the unreadable row starts
        if bad is not None:
            resumed = None if damaged is None else _resync(text, bad)
            if resumed is None:
                raise ValueError(bad)
            damaged.append((bad, resumed[0]))
            i, element, end = resumed[0], resumed[1], resumed[2]
        yield i, element
        i = end
        first = False


def _resync(text: str, damage: int) -> tuple[int, Any, int] | None:
    """(offset, row, end) of the first object after `damage` that decodes, or None."""
    j = damage
    while True:
        j = text.find("{", j + 1)
        if j < 0:
            return None
        try:
            element, end = DECODER.raw_decode(text, j)
        except (json.JSONDecodeError, RecursionError):
            continue
        if isinstance(element, dict):
            return j, element, end


class LineCounter:
    """Line number of increasing offsets in one text, without rescanning from the start."""

    def __init__(self, text: str) -> None:
        self.text, self.offset, self.line = text, 0, 1

    def __call__(self, offset: int) -> int:
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line
