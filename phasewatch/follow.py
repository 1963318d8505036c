"""Complete lines of a log file, from the top, optionally following it as it grows (`tail -F`).

`LineSource(path, follow=...)` yields `(lineno, text)` for each non-blank complete line, and the
marker `NEW_FILE` (lineno 0, text None) when the file was truncated or replaced and reading
starts again from the top (a line parser must then be reset: a CSV header comes again).

- A partial last line (no newline yet) waits for its newline when following; a finished file
  (no follow) reads an unterminated last line as it is.
- Truncation (the size shrinks below what was read) and rotation (the path now names another
  inode) are detected when the reader reaches the end of what is there; before switching to a
  replaced file the old one is read to its end, so nothing is skipped, and nothing is read twice.
- A path that disappears while following is waited for (a rotation in progress); the source says
  so once on stderr.
Reading is in binary chunks with the byte position kept by the source, so a line that arrives
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


class LineSource:
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
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - swapped on rotation, closed in finally
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", self.path) from exc
        lineno = 0
        pending = b""
        waiting_for_path = False
        try:
            while True:
                chunk = fh.read(CHUNK)
                if chunk:
                    lines = (pending + chunk).split(b"\n")
                    pending = lines.pop()
                    for raw in lines:
                        lineno += 1
                        text = _decode(raw)
                        if text:
                            yield lineno, text
                    continue
                # At the end of what is there now.
                if not self.follow:
                    if pending.strip():
                        yield lineno + 1, _decode(pending)
                    return
                if self.stop.is_set():
                    return
                change = self._what_changed(fh)
                if change == "gone":
                    if not waiting_for_path:
                        self.notice(f"{self.path} disappeared; still following: waiting for a "
                                    "new file at that path (log rotation?). Ctrl-C to stop.")
                        waiting_for_path = True
                elif change == "truncated":
                    self.notice(f"{self.path} was truncated; reading it again from its start")
                    fh.seek(0)
                    pending, lineno = b"", 0
                    yield NEW_FILE
                    continue
                elif change == "replaced":
                    if fh.read(1):  # the writer added to the old file before rotating: read it
                        fh.seek(-1, os.SEEK_CUR)
                        continue
                    try:
                        new = open(self.path, "rb")  # noqa: SIM115 - swapped in, closed in finally
                    except FileNotFoundError:  # moved again in between: look again later
                        self.stop.wait(self.poll_interval)
                        continue
                    if pending.strip():  # the old file is finished: its last line is complete
                        yield lineno + 1, _decode(pending)
                    fh.close()
                    fh = new
                    self.notice(f"{self.path} was replaced (log rotation); reading the new file "
                                "from its start")
                    pending, lineno, waiting_for_path = b"", 0, False
                    yield NEW_FILE
                    continue
                if self.on_idle is not None:
                    self.on_idle()
                self.stop.wait(self.poll_interval)
        finally:
            fh.close()

    def _what_changed(self, fh) -> str | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "gone"
        own = os.fstat(fh.fileno())
        if (st.st_ino, st.st_dev) != (own.st_ino, own.st_dev):
            return "replaced"
        if st.st_size < fh.tell():
            return "truncated"
        return None


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").strip()
