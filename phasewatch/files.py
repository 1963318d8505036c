"""Opening log files safely: `open_regular` never blocks on a FIFO, a socket or a device.

`open()` on a named pipe waits for a writer forever, so a FIFO passed as a log (or found in a
run folder as `metrics.jsonl`, `run.json`, `step_*.npy`, an MLflow metric) would hang any
command. Every reader opens files through `open_regular`: non-blocking, then checked with fstat.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from phasewatch.errors import InputError

#: The UTF-8 byte order mark some Windows tools write before the first line of a text log.
BOM = b"\xef\xbb\xbf"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def open_regular(path: str | Path) -> BinaryIO:
    """`path` opened for binary reading. A FIFO, socket or device is refused with InputError
    instead of blocking forever in open() (it is opened non-blocking and checked first); an
    unreadable file is InputError; a missing file raises FileNotFoundError (a follower waits)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except IsADirectoryError as exc:
        raise InputError("is a folder, a file was expected", path) from exc
    except OSError as exc:
        hint = " (check the file's permissions)" if isinstance(exc, PermissionError) else ""
        raise InputError(f"cannot read: {exc.strerror or exc}{hint}", path) from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(f"is {_kind(mode)}, not a log file; phasewatch reads regular "
                             "files (copy the stream to a file and pass that)", path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_capped(path: str | Path, limit: int) -> bytes | None:
    """The bytes of a file read beside a log (a config its trainer wrote), or None when it holds
    more than `limit`: at most `limit` + 1 bytes are read whatever its size, so a huge or
    hostile file costs no time or memory past the cap. Raises as `open_regular` does (a FIFO is
    refused, not waited on; a missing file is FileNotFoundError)."""
    with open_regular(path) as fh:
        data = fh.read(limit + 1)
    return data if len(data) <= limit else None


def special_files(folder: str | Path, limit: int = 3) -> list[str]:
    """'NAME is a FIFO (named pipe)' for up to `limit` entries of `folder` that are neither files
    nor folders, and 'NAME is empty' for empty files: why a folder whose `metrics.jsonl` is a
    FIFO, or was created and not yet written, holds no log phasewatch can read."""
    found = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        try:
            mode = entry.stat().st_mode
        except OSError:
            continue
        empty = stat.S_ISREG(mode) and entry.stat().st_size == 0
        if empty or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            found.append(f"{entry.name} is {'empty' if empty else _kind(mode)}")
            if len(found) == limit:
                break
    return found


def regular_files(paths: Iterable[Path], not_regular: dict[Path, str]) -> list[Path]:
    """The regular files among `paths` (a folder's `rglob`), sorted: a tracker's metric files,
    read each time the run may have grown. A FIFO, socket or device among them is put in
    `not_regular` with its kind, for the reader to report, and never opened, so it cannot block
    the read; a folder, and a path gone or a dangling link, are passed over."""
    files = []
    for path in paths:
        try:
            mode = path.stat().st_mode
        except OSError:
            continue
        if stat.S_ISREG(mode):
            files.append(path)
        elif not stat.S_ISDIR(mode):
            not_regular.setdefault(path, _kind(mode))
    return sorted(files)
