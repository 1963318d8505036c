"""Numbered text lines from bytes that arrive in pieces of any size (`follow.LineTail` feeds it
what it reads from a file, one splitter per file).

Lines end at \\n, \\r\\n or a lone \\r, as Python's universal newlines split them (a \\r\\n split
across two pieces is one line end), but are numbered as the file's lines, by its newlines, as
`sed -n`, `grep -n` and an editor number them: a progress bar redrawn with lone \\r before a
record on one line of a console log is the record's own line (trial 40b: an HF console log's
record on line 58 was said to be on "line 1026", its 1026th \\r-or-\\n-ended piece).
Undecodable bytes become U+FFFD; blank lines are counted, not returned. A line is kept as a
list of pieces and joined once, so a line of 100 MB arriving in 64 KB reads costs no quadratic
copying; a line over `max_line` bytes is dropped as soon as that is known (memory stays
bounded), its number added to `too_long` and said in a notice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

MAX_LINE_BYTES = 64 << 20
_EOL = re.compile(rb"(\r\n|\r|\n)")  # captured: a lone \r ends a piece, not a numbered line


class LineSplitter:
    """`feed(piece)` yields `(lineno, text)` for each complete non-blank line; `finish()` the
    last one when the input ends without a newline."""

    def __init__(self, path: Path, notice: Callable[[str], None], too_long: list[int],
                 max_line: int = MAX_LINE_BYTES):
        self.path = path  # named in the notices
        self.notice = notice
        self.too_long = too_long  # line numbers of lines skipped for their length (shared)
        self.max_line = max_line
        self.unterminated: int | None = None  # number of a last line that had no newline
        self._parts: list[bytes] = []  # the pending (unterminated) line, in pieces
        self._pending_len = 0
        self._cr = False  # the pending line ended at a \r that may be the start of \r\n
        self._skipping = False  # the pending line is over max_line: dropped
        self._lineno = 0  # newlines read: the pending piece is on line _lineno + 1

    def feed(self, data: bytes) -> Iterator[tuple[int, str]]:
        if self._cr:
            data, self._cr = b"\r" + data, False
        if data.endswith(b"\r"):  # may be the first half of \r\n: decide with the next chunk
            data, self._cr = data[:-1], True
        if b"\r" in data:
            parts = _EOL.split(data)
            segments, newline = parts[::2], [end != b"\r" for end in parts[1::2]]
        else:
            segments = data.split(b"\n")
            newline = [True] * (len(segments) - 1)
        last = segments.pop()
        for segment, ends_line in zip(segments, newline):
            if self._skipping:  # the end of a line already found too long
                self._skipping = False
                self._lineno += ends_line
                continue
            if self._pending_len + len(segment) > self.max_line:  # (its last piece tipped it)
                self._parts, self._pending_len = [], 0
                self._skip_too_long()
                self._lineno += ends_line
                continue
            if self._parts:
                segment = b"".join((*self._parts, segment))
                self._parts, self._pending_len = [], 0
            yield from self._line(segment, ends_line)
        self._pending(last)

    def _pending(self, piece: bytes) -> None:
        if self._skipping or not piece:
            return
        self._parts.append(piece)
        self._pending_len += len(piece)
        if self._pending_len > self.max_line:
            self._parts, self._pending_len, self._skipping = [], 0, True
            self._skip_too_long()

    def _skip_too_long(self) -> None:
        """Record and say that the line being read (the next number) is over `max_line`."""
        lineno = self._lineno + 1
        self.too_long.append(lineno)
        self.notice(f"{self.path}:{lineno}: line longer than {self.max_line >> 20} MB; "
                    "skipped (not a log record?)")

    def _line(self, raw: bytes, ends_line: bool = True) -> Iterator[tuple[int, str]]:
        """The piece `raw` as (the number of the line it is on, its text), unless blank;
        `ends_line`: a newline ends it (not a lone \\r), so the next piece is on the next line."""
        lineno = self._lineno + 1
        self._lineno += ends_line
        text = raw.decode("utf-8", errors="replace").strip()
        if text:
            yield lineno, text

    def finish(self) -> Iterator[tuple[int, str]]:
        """The input is finished: its pending line is complete (its number goes to
        `unterminated` unless it ended at a lone \\r)."""
        ended_by_cr = self._cr
        self._cr = False
        if self._skipping:
            self._skipping = False
            return
        if self._parts:
            raw = b"".join(self._parts)
            self._parts, self._pending_len = [], 0
            if not ended_by_cr and raw.strip():
                self.unterminated = self._lineno + 1
            yield from self._line(raw, ends_line=False)
