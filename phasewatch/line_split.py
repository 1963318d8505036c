"""Numbered text lines from bytes that arrive in pieces of any size (`follow.LineTail` feeds it
what it reads from a file, one splitter per file).

Lines end at \\n, \\r\\n or a lone \\r, as Python's universal newlines count them (a \\r\\n split
across two pieces is one line end); undecodable bytes become U+FFFD; blank lines are counted,
not returned. A line is kept as a list of pieces and joined once, so a line of 100 MB arriving
in 64 KB reads costs no quadratic copying; a line over `max_line` bytes is dropped as soon as
that is known (memory stays bounded), its number added to `too_long` and said in a notice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

MAX_LINE_BYTES = 64 << 20
_EOL = re.compile(rb"\r\n|\r|\n")


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
        self._lineno = 0

    def feed(self, data: bytes) -> Iterator[tuple[int, str]]:
        if self._cr:
            data, self._cr = b"\r" + data, False
        if data.endswith(b"\r"):  # may be the first half of \r\n: decide with the next chunk
            data, self._cr = data[:-1], True
        segments = _EOL.split(data) if b"\r" in data else data.split(b"\n")
        last = segments.pop()
        for segment in segments:
            if self._skipping:  # the end of a line already found too long
                self._skipping = False
                self._lineno += 1
                continue
            if self._pending_len + len(segment) > self.max_line:  # (its last piece tipped it)
                self._parts, self._pending_len = [], 0
                self._skip_too_long()
                self._lineno += 1
                continue
            if self._parts:
                segment = b"".join((*self._parts, segment))
                self._parts, self._pending_len = [], 0
            yield from self._line(segment)
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

    def _line(self, raw: bytes) -> Iterator[tuple[int, str]]:
        self._lineno += 1
        text = raw.decode("utf-8", errors="replace").strip()
        if text:
            yield self._lineno, text

    def finish(self) -> Iterator[tuple[int, str]]:
        """The input is finished: its pending line is complete (its number goes to
        `unterminated` unless it ended at a lone \\r)."""
        ended_by_cr = self._cr
        self._cr = False
        if self._skipping:
            self._skipping = False
            self._lineno += 1
            return
        if self._parts:
            raw = b"".join(self._parts)
            self._parts, self._pending_len = [], 0
            if not ended_by_cr and raw.strip():
                self.unterminated = self._lineno + 1
            yield from self._line(raw)
        elif ended_by_cr:
            self._lineno += 1
