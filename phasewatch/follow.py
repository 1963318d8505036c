"""Complete lines of a log file, from the top, optionally following it as it grows (`tail -F`).

`LineTail(path)` is the incremental reader: each `read()` yields `(lineno, text)` for the
non-blank complete lines that arrived since the previous call, and the marker `NEW_FILE`
(lineno 0, text None) when the file was truncated or replaced and reading starts again from the
top (a line parser must then be reset: a CSV header comes again). Every line-based reader uses
it, so a batch read, a replay and a follower split lines identically. `LineSource(path,
follow=...)` is the blocking iterator over it that waits for more while following.

- A partial last line (no newline yet) waits for its newline when following; a finished file
  (`final=True`) reads an unterminated last line as it is.
- Lines end at \\n, \\r\\n or a lone \\r (as Python's universal newlines count them), a
  byte-order mark at the start of the file is not part of line 1, and undecodable bytes become
  U+FFFD, so line numbers and texts equal `io.jsonlines.iter_lines`.
- Truncation (the size shrinks below what was read) and rotation (the path now names another
  inode) are detected when the reader reaches the end of what is there; before switching to a
  replaced file the old one is read to its end, so nothing is skipped, and nothing is read twice.
- A path that disappears while following is waited for (a rotation in progress); the reader
  says so once.
Reading is in binary chunks with the byte position kept by the reader, so a line that arrives
in pieces is joined exactly once, whatever the chunk and write boundaries.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from phasewatch.errors import InputError
from phasewatch.output import warn

NEW_FILE = (0, None)
CHUNK = 1 << 16
BOM = b"\xef\xbb\xbf"


class LineTail:
    """Incremental line reader of one path (see the module docstring).

    `follow`: the file may still grow, be truncated or be replaced (checked at its end); a
    missing file is then waited for instead of being an error.
    """

    def __init__(self, path: str | Path, follow: bool = False,
                 notice: Callable[[str], None] = warn):
        self.path = Path(path)
        self.follow = follow
        self.notice = notice
        self._fh = None
        self._pending = b""
        self._lineno = 0
        self._at_start = True
        self._waiting_for_path = False
        self.bytes_read = 0

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _open(self) -> bool:
        try:
            self._fh = open(self.path, "rb")  # noqa: SIM115 - swapped on rotation, closed in close()
        except FileNotFoundError as exc:
            if self.follow:
                return False
            raise InputError("no such file", self.path) from exc
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", self.path) from exc
        return True

    def read(self, final: bool = False) -> Iterator[tuple[int, str | None]]:
        """Lines that arrived since the last call. `final`: the writer is done, so an
        unterminated last line is complete (and no rotation is looked for)."""
        if self._fh is None and not self._open():
            return
        while True:
            chunk = self._fh.read(CHUNK)
            if chunk:
                self.bytes_read += len(chunk)
                if self._at_start:
                    if len(chunk) < len(BOM) and BOM.startswith(chunk):
                        self._fh.seek(-len(chunk), os.SEEK_CUR)  # wait for the whole mark
                        self.bytes_read -= len(chunk)
                        if final:
                            return
                        break
                    self._at_start = False
                    chunk = chunk.removeprefix(BOM)
                lines = (self._pending + chunk).split(b"\n")
                self._pending = lines.pop()
                yield from self._lines(lines)
                continue
            if final or not self.follow:
                if self._pending.strip():
                    yield from self._lines([self._pending])
                self._pending = b""
                return
            change = self._what_changed()
            if change == "gone":
                if not self._waiting_for_path:
                    self.notice(f"{self.path} disappeared; still following: waiting for a "
                                "new file at that path (log rotation?). Ctrl-C to stop.")
                    self._waiting_for_path = True
            elif change == "truncated":
                self.notice(f"{self.path} was truncated; reading it again from its start")
                self._fh.seek(0)
                self._restart()
                yield NEW_FILE
                continue
            elif change == "replaced":
                if self._fh.read(1):  # the writer added to the old file before rotating: read it
                    self._fh.seek(-1, os.SEEK_CUR)
                    continue
                try:
                    new = open(self.path, "rb")  # noqa: SIM115 - swapped in, closed in close()
                except FileNotFoundError:  # moved again in between: look again later
                    return
                if self._pending.strip():  # the old file is finished: its last line is complete
                    yield from self._lines([self._pending])
                self._fh.close()
                self._fh = new
                self.notice(f"{self.path} was replaced (log rotation); reading the new file "
                            "from its start")
                self._restart()
                yield NEW_FILE
                continue
            return

    def _restart(self) -> None:
        self._pending, self._lineno, self._at_start = b"", 0, True
        self._waiting_for_path = False

    def _lines(self, raws: list[bytes]) -> Iterator[tuple[int, str]]:
        for raw in raws:
            if b"\r" in raw:
                parts = raw.removesuffix(b"\r").split(b"\r")  # a lone \r ends a line too
            else:
                parts = (raw,)
            for part in parts:
                self._lineno += 1
                text = part.decode("utf-8", errors="replace").strip()
                if text:
                    yield self._lineno, text

    def _what_changed(self) -> str | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "gone"
        own = os.fstat(self._fh.fileno())
        if (st.st_ino, st.st_dev) != (own.st_ino, own.st_dev):
            return "replaced"
        if st.st_size < self._fh.tell():
            return "truncated"
        return None


class LineSource:
    """Blocking iterator over a `LineTail`: replays the file, or follows it until `stop`."""

    def __init__(self, path: str | Path, follow: bool = False, poll_interval: float = 0.25,
                 stop: threading.Event | None = None,
                 notice: Callable[[str], None] = warn,
                 on_idle: Callable[[], None] | None = None):
        self.path = Path(path)
        self.on_idle = on_idle  # called each time the reader has caught up with the writer
        self.follow = follow
        self.poll_interval = poll_interval
        self.stop = stop or threading.Event()
        self.notice = notice

    def __iter__(self) -> Iterator[tuple[int, str | None]]:
        if not self.path.exists() and not self.follow:
            raise InputError("no such file", self.path)
        tail = LineTail(self.path, follow=self.follow, notice=self.notice)
        try:
            while True:
                yield from tail.read(final=not self.follow)
                if not self.follow or self.stop.is_set():
                    return
                if self.on_idle is not None:
                    self.on_idle()
                self.stop.wait(self.poll_interval)
        finally:
            tail.close()
