"""Complete lines of a log file, from the top, optionally following it as it grows (`tail -F`).

`LineTail(path)` is the incremental reader: each `read()` yields `(lineno, text)` for the
non-blank complete lines that arrived since the previous call, and the marker `NEW_FILE`
(lineno 0, text None) when reading starts again at the top of a file (a truncated file, a
rotated sibling, the new file after a rotation: a line parser must then be reset, a CSV header
comes again). Every line-based reader uses it, so a batch read, a replay and a follower split
lines identically. `LineSource(path, follow=...)` is the blocking iterator over it.

Lines end at \\n, \\r\\n or a lone \\r (as Python's universal newlines count them), a byte-order
mark at the start of a file is not part of line 1, and undecodable bytes become U+FFFD, so line
numbers and texts equal `io.jsonlines.iter_lines`. A partial last line waits for its newline
while following; a finished file (`final=True`) reads an unterminated last line as it is and
records its number in `unterminated` (a reader can say it may be cut).

Following cannot lose a record, whatever the log rotation does (the cases log shippers such as
Filebeat and Fluent Bit handle):
- the file is tracked by its inode and the bytes read; before each read its size and content
  (the first bytes, and the bytes just before the read position) are compared with what was
  read, so a truncation is noticed even when the file has grown past the old position again
  before the next poll (the copytruncate race). The bytes written before the truncation are
  read from the fresh copy (`log.1`) when there is one.
- when the path names another inode (rename rotation, `create`), the old file is drained to
  its end and kept open until it has been quiet for `rotate_wait` seconds (the writer may
  still hold it), or until the new file has data while the old one gave none; then
  files rotated in between that were never read (`log.1`, `log.2`,
  `log-20240101`: several rotations within one poll) are read oldest first, then the new file.
- a path that disappears is waited for (a rotation in progress); the reader says so once.
- a line is accumulated in pieces without quadratic copying, up to `max_line` bytes; a longer
  line is skipped with a warning and counted in `too_long` (memory stays bounded): the
  splitting is `line_split.LineSplitter`'s, one per file.
Files are opened with `files.open_regular`: a FIFO or a device is refused, never waited on.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from phasewatch.errors import InputError
from phasewatch.files import BOM, open_regular
from phasewatch.line_split import MAX_LINE_BYTES, LineSplitter
from phasewatch.output import warn

if TYPE_CHECKING:  # threading is imported by LineSource (following), not by every read
    import threading

NEW_FILE = (0, None)
CHUNK = 1 << 16
ROTATE_WAIT = 2.0
FINGERPRINT = 256
COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4", ".tmp")


class LineTail:
    """Incremental line reader of one path (see the module docstring).

    `follow`: the file may still grow, be truncated or be replaced; a missing file is then
    waited for instead of being an error. `rotate_wait`: seconds a rotated-away file must be
    quiet before the reader moves on to the next one. `max_line`: longest line kept, in bytes.
    `on_truncate`: told the notice of a truncation instead of `notice`, just before the
    `NEW_FILE` it reads the file again from (`io.reread`: said only if the records differ).
    """

    def __init__(self, path: str | Path, follow: bool = False,
                 notice: Callable[[str], None] = warn, rotate_wait: float = ROTATE_WAIT,
                 max_line: int = MAX_LINE_BYTES, clock: Callable[[], float] = time.monotonic,
                 on_truncate: Callable[[str], None] | None = None):
        self.path = Path(path)
        self.follow = follow
        self.notice = notice
        self.on_truncate = on_truncate or notice
        self.rotate_wait = rotate_wait
        self.max_line = max_line
        self.clock = clock
        self.bytes_read = 0
        self.unterminated: int | None = None  # line number of an unterminated last line
        self.too_long: list[int] = []  # line numbers of lines skipped for their length
        self._fh: BinaryIO | None = None
        self._id: tuple[int, int] | None = None
        self._known: set[tuple[int, int]] = set()  # files read, or rotated before we started
        self._waiting_for_path = False
        self._last_growth = 0.0
        self._reset_file_state()

    def _reset_file_state(self) -> None:
        self._offset = 0
        self._head = b""  # the first FINGERPRINT bytes of the file, as read
        self._tail = b""  # the last FINGERPRINT bytes read
        self._lines = LineSplitter(self.path, self.notice, self.too_long, self.max_line)
        self._at_start = True
        self._rewritten = False  # changed under the reader in the middle of a read

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    # ------------------------------------------------------------------ opening
    def _open_path(self) -> bool:
        try:
            fh = open_regular(self.path)
        except FileNotFoundError as exc:
            if self.follow:
                return False
            raise InputError("no such file", self.path) from exc
        first = self._id is None
        self._adopt(fh)
        if first and self.follow:  # rotated files already there are history, not ours
            self._known |= {ident for ident, _ in self._siblings()}
        return True

    def _adopt(self, fh: BinaryIO) -> None:
        self.close()
        self._fh = fh
        st = os.fstat(fh.fileno())
        self._id = (st.st_dev, st.st_ino)
        self._known.add(self._id)
        self._reset_file_state()
        self._last_growth = self.clock()
        self._waiting_for_path = False

    def _unread_siblings(self, siblings: list[tuple[tuple[int, int], Path]] | None = None
                         ) -> Iterator[tuple[tuple[int, int], Path, BinaryIO]]:
        """(identity, path, open file) of each rotated copy not read yet, oldest write first
        (of `siblings`, a listing made earlier, or of those there now)."""
        for ident, sibling in self._siblings() if siblings is None else siblings:
            if ident in self._known:
                continue
            try:
                fh = open_regular(sibling)
            except (FileNotFoundError, InputError):
                continue
            yield ident, sibling, fh

    def _siblings(self) -> list[tuple[tuple[int, int], Path]]:
        """Rotated copies beside the path (`log.1`, `log-20240101`...), oldest write first."""
        found = []
        name = self.path.name
        try:
            entries = list(os.scandir(self.path.parent))
        except OSError:
            return []
        for entry in entries:
            other = entry.name
            if (other == name or not other.startswith(name) or other[len(name)] not in ".-_"
                    or other.endswith(COMPRESSED)):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                found.append((st.st_mtime_ns, (st.st_dev, st.st_ino), Path(entry.path)))
        return [(ident, path) for _, ident, path in sorted(found)]

    # ------------------------------------------------------------------ reading
    def read(self, final: bool = False) -> Iterator[tuple[int, str | None]]:
        """Lines that arrived since the last call. `final`: the writer is done, so an
        unterminated last line is complete and a rotated file need not be waited for."""
        if self._fh is None and not self._open_path():
            return
        before = self.bytes_read
        if self.follow:
            yield from self._check_rewritten()
        while True:
            yield from self._read_to_end(final)
            if self._rewritten:
                yield from self._truncated()
                continue
            if not self.follow:
                yield from self._flush_last()
                return
            change = self._what_changed()
            if change == "truncated":
                yield from self._truncated()
                continue
            if change is None or (change == "gone" and not final):
                if change == "gone" and not self._waiting_for_path:
                    self.notice(f"{self.path} disappeared; still following: waiting for a "
                                "new file at that path (log rotation?). Ctrl-C to stop.")
                    self._waiting_for_path = True
                if final:
                    yield from self._flush_last()
                return
            if change == "gone":  # final, and nothing replaced it
                yield from self._flush_last()
                return
            # replaced: drain the old file until it has been quiet for rotate_wait, or until
            # the new file has data and the old one gave nothing in this read (the writer
            # has moved on: waiting longer would only delay the new lines)
            if not final and self._should_wait(grew=self.bytes_read > before):
                return
            yield from self._flush_last()
            for _, sibling, fh in self._unread_siblings():
                self._adopt(fh)
                self.notice(f"{self.path}: reading {sibling.name}, rotated before it was read "
                            "(several rotations between two reads)")
                yield NEW_FILE
                yield from self._read_to_end(final=True)
                yield from self._flush_last()
            try:
                fh = open_regular(self.path)
            except FileNotFoundError:  # moved again in between: look again later
                return
            self._adopt(fh)
            self.notice(f"{self.path} was replaced (log rotation); reading the new file "
                        "from its start")
            yield NEW_FILE
            # A copy that appeared while the rotated files were read (their lines are used as
            # they come) holds the new file's first lines, truncated before it was opened.
            yield from self._unread_copies()

    def _should_wait(self, grew: bool) -> bool:
        """Whether to keep reading the rotated-away file before the new one: while it still
        grows or the new file is empty (or not there yet), up to `rotate_wait` after its last
        growth."""
        if self.clock() - self._last_growth >= self.rotate_wait:
            return False
        if grew:
            return True  # the old file is still being written
        try:
            return os.stat(self.path).st_size == 0
        except OSError:
            return True

    def _read_to_end(self, final: bool) -> Iterator[tuple[int, str]]:
        fh = self._fh
        first = True
        while True:
            # The caller uses each line before the next is split (a monitor starting up can
            # take a second): a file rewritten whole meanwhile (Lightning's CSVLogger adding a
            # column) must not be read on from the old position as if it had grown.
            if self.follow and not first and self._offset and self._changed(fh.fileno()):
                self._rewritten = True
                return
            first = False
            chunk = fh.read(CHUNK)
            if not chunk:
                return
            if (self._at_start and len(chunk) < len(BOM) and BOM.startswith(chunk)
                    and self.follow and not final):
                fh.seek(-len(chunk), os.SEEK_CUR)  # wait for the whole byte-order mark
                return
            self._last_growth = self.clock()
            self.bytes_read += len(chunk)
            self._offset += len(chunk)
            if len(self._head) < FINGERPRINT:
                self._head += chunk[:FINGERPRINT - len(self._head)]
            self._tail = (chunk if len(chunk) >= FINGERPRINT
                          else self._tail + chunk)[-FINGERPRINT:]
            if self._at_start:
                self._at_start = False
                chunk = chunk.removeprefix(BOM)
            yield from self._lines.feed(chunk)

    def _flush_last(self) -> Iterator[tuple[int, str]]:
        """The file is finished: its pending line is complete."""
        for line in self._lines.finish():  # (at most one; `unterminated` set before it comes)
            if self._lines.unterminated is not None:
                self.unterminated = self._lines.unterminated
            yield line

    # ------------------------------------------------------------------ changes
    def _what_changed(self) -> str | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "gone"
        except OSError:
            return None
        if (st.st_dev, st.st_ino) != self._id:
            return "replaced"
        if st.st_size < self._fh.tell():
            return "truncated"
        return None

    def _check_rewritten(self) -> Iterator[tuple[int, str | None]]:
        """Truncated since the last read, even if it has grown past our position again: the
        size is smaller, or the bytes at the top or just before our position changed."""
        if self._offset == 0:  # nothing read from this file yet: no fingerprint to compare
            yield from self._unread_copies()
            return
        fd = self._fh.fileno()
        size = os.fstat(fd).st_size
        if size < self._offset or self._changed(fd):
            yield from self._truncated()

    def _changed(self, fd: int, offset: int | None = None) -> bool:
        offset = self._offset if offset is None else offset
        try:
            head = os.pread(fd, len(self._head), 0)
            tail = os.pread(fd, len(self._tail), offset - len(self._tail))
        except OSError:
            return True
        return head != self._head or tail != self._tail

    def _unread_copies(self) -> Iterator[tuple[int, str | None]]:
        """Rotated files that appeared while nothing of the current file was read: copies
        (copytruncate) of lines written and emptied between two reads. Read each whole, then
        the current file from its top."""
        current, found = self._fh, False
        for ident, sibling in self._siblings():
            if ident in self._known:
                continue
            self._known.add(ident)
            try:
                fh = open_regular(sibling)
            except (FileNotFoundError, InputError):
                continue
            found = True
            self.notice(f"{self.path}: reading {sibling.name}, a copy made before anything of "
                        "the file was read (copytruncate)")
            self._fh = fh
            self._reset_file_state()
            yield from self._read_to_end(final=True)
            yield from self._flush_last()
            fh.close()
            yield NEW_FILE
        if found:
            self._fh = current
            self._fh.seek(0)
            self._reset_file_state()

    def _truncated(self) -> Iterator[tuple[int, str | None]]:
        """Read what the copy made before the truncation holds past our position (logrotate
        copytruncate), then the file again from its top."""
        recovered = ""
        siblings = self._siblings()
        for ident, sibling, fh in self._unread_siblings(siblings):
            if (os.fstat(fh.fileno()).st_size < self._offset
                    or self._changed(fh.fileno())):
                fh.close()
                continue
            self._known.add(ident)
            fh.seek(self._offset)
            current, self._fh = self._fh, fh
            yield from self._read_to_end(final=True)
            self._fh = current
            fh.close()
            recovered = f" (after reading the end of the copy {sibling.name})"
            break
        # Every rotated file there then is a copy of what was read (copytruncate): never read
        # again. One made since (the copy's lines are used as they come) is a copy of lines
        # written after the truncation, truncated again: read before the file.
        self._known |= {ident for ident, _ in siblings}
        yield from self._flush_last()
        self.on_truncate(f"{self.path} was truncated; reading it again from its start{recovered}")
        self._fh.seek(0)
        self._reset_file_state()
        self._last_growth = self.clock()
        yield NEW_FILE
        yield from self._unread_copies()


class LineSource:
    """Blocking iterator over a `LineTail`: replays the file, or follows it until `stop`
    (then reads what is left as a finished log)."""

    def __init__(self, path: str | Path, follow: bool = False, poll_interval: float = 0.25,
                 stop: threading.Event | None = None,
                 notice: Callable[[str], None] = warn,
                 on_idle: Callable[[], None] | None = None, rotate_wait: float = ROTATE_WAIT,
                 max_line: int = MAX_LINE_BYTES):
        self.path = Path(path)
        self.on_idle = on_idle  # called each time the reader has caught up with the writer
        self.follow = follow
        self.poll_interval = poll_interval
        if stop is None:
            import threading

            stop = threading.Event()
        self.stop = stop
        self.notice = notice
        self.rotate_wait = rotate_wait
        self.max_line = max_line

    def __iter__(self) -> Iterator[tuple[int, str | None]]:
        if not self.path.exists() and not self.follow:
            raise InputError("no such file", self.path)
        tail = LineTail(self.path, follow=self.follow, notice=self.notice,
                        rotate_wait=self.rotate_wait, max_line=self.max_line)
        try:
            while True:
                if self.stop.is_set():
                    yield from tail.read(final=True)
                    return
                yield from tail.read(final=not self.follow)
                if not self.follow:
                    return
                if self.on_idle is not None:
                    self.on_idle()
                self.stop.wait(self.poll_interval)
        finally:
            tail.close()
