"""Opening a log to watch: the reader's `RecordSource` for the path, and, when following, the
wait for the path to appear and hold something recognisable.

`watch --follow` is usually started next to the trainer, before the trainer has created its
folder or written its first line. Exiting with "no such file" there would make the user start
it again by hand, so a follower waits (saying so once on stderr) while waiting can still help:
the path is missing, a folder (files may appear in it), a file still smaller than what the
format sniffer reads, or a store its writer is still creating (`NotReadyError`: MLflow makes
and migrates `mlflow.db` seconds before `start_run`, Trackio's `<project>.db` may hold only
system metrics at first). An MLflow server address is waited for while the server does not answer
(not up yet), not when it answers that there is no such run. A young file whose first line is still being written is not sniffed yet,
since a cut JSON line could pass for another format.

A Hugging Face output folder holds its history in `checkpoint-N/trainer_state.json`, one new
folder per save (older ones deleted under `save_total_limit`), and `trainer_state.json` itself
only once training ends. Following such a folder follows the newest of these files as they
appear (`CheckpointStates`); each holds the previous one's rows and more, so only the new rows
are fed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from phasewatch.errors import InputError, NotReadyError
from phasewatch.io.wrapped import WrappedSource


def open_when_ready(path: Path, follow: bool, notice: Callable[[str], None],
                    say: Callable[[str], None], poll: float, idle_exit: float | None,
                    stop: threading.Event):
    """The source of `path`. Replaying, opened at once (an InputError propagates). Following,
    waits for the path; None if `stop` is set or `idle_exit` seconds pass meanwhile."""
    from phasewatch.io import open_source, url_reader

    told: set[str] = set()
    tries = 0
    started = time.monotonic()
    while True:
        try:
            if follow:
                check_ready(path)
            source = open_source(path, follow=follow, notice=notice)
            if follow and path.is_dir():
                try:
                    check_ready(path)  # again: a W&B run may have appeared while opening
                except InputError:
                    source.close()
                    raise
            if follow and path.is_dir() and source.format == "trainer_state":
                source = CheckpointStates(source, path)
            return source
        except InputError as exc:
            remote = url_reader(path) is not None  # a server: wait only while it does not answer
            not_ready = isinstance(exc, NotReadyError)  # a store its writer is still creating
            if not follow or not (getattr(exc, "transient", False) if remote
                                  else not_ready or may_still_come(path)):
                raise
            if remote:
                kind, message = "remote", f"{exc}; waiting for it (Ctrl-C to stop)"
            elif not path.exists():
                kind = "missing"
                message = f"{path} does not exist yet; waiting for it to appear (Ctrl-C to stop)"
            elif not_ready:
                kind = "not ready"
                message = (f"{path}: {exc.message}; waiting for {exc.waiting_for} "
                           "(Ctrl-C to stop)")
            else:
                kind = "unrecognised"
                message = f"{path}: no recognisable records yet ({exc.message}); waiting for them"
            if kind not in told:  # each kind of wait said once (a path that appears, then a
                told.add(kind)    # store that holds no run yet)
                say(message)
        waited = time.monotonic() - started
        if idle_exit is not None and waited >= idle_exit:
            return None
        # A server not up yet is asked again after a pause growing to 5 s, not every poll.
        pause = min(max(poll, 0.5 * 2 ** tries), 5.0) if remote else poll
        tries += 1
        if stop.wait(pause if idle_exit is None else min(pause, idle_exit - waited)):
            return None


def check_ready(path: Path) -> None:
    """Raise InputError for a file whose first line is not complete yet."""
    from phasewatch.io import HEAD_BYTES, read_head

    if path.is_dir():
        from phasewatch.io.trinity import young_wandb_run

        if young_wandb_run(path):  # a Trinity pair or a plain run: its name will tell
            raise InputError("a W&B run whose first records are not written yet", path)
    if path.is_file():
        head = read_head(path)
        binary = head.startswith(b":W&B") or b"brain.Event" in head[:256]
        if len(head) < HEAD_BYTES and b"\n" not in head and not binary and not is_json(head):
            # said as the replay at the end will say it: an empty file is empty (a console log
            # redirected before the trainer printed anything), not a line half written
            raise InputError("the first line is not complete yet" if head.strip()
                             else "the file is empty", path)


def is_json(data: bytes) -> bool:
    """A whole JSON document on one line (a trainer_state.json written without indent)."""
    from phasewatch.io.jsonlines import loads

    try:
        loads(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    return True


def may_still_come(path: Path) -> bool:
    """Whether waiting can help: the path is missing, a folder, or a file still small."""
    from phasewatch.io import HEAD_BYTES

    if not path.exists() or path.is_dir():
        return True
    try:
        return path.stat().st_size < HEAD_BYTES
    except OSError:
        return True


class CheckpointStates(WrappedSource):
    """A followed trainer_state source that moves to the newest state file of its output
    folder before each read: the folder's own `trainer_state.json` once it exists (written at
    the end), else the newest `checkpoint-N/trainer_state.json`. Everything else is the
    wrapped source's."""

    def __init__(self, source, folder: Path):
        super().__init__(source)
        self._folder = folder

    @property
    def reading(self) -> Path:
        """The state file read last, which the records just fed came from: a resumed run's
        history is in a newer checkpoint than the file the follow began with, and the resume
        warning names this one."""
        return self._source.path

    def newest(self) -> Path | None:
        from phasewatch.folders import newest_checkpoint_state

        final = self._folder / "trainer_state.json"
        if final.is_file():
            return final
        found = newest_checkpoint_state(self._folder)
        return found[0] if found else None

    def read(self, final: bool = True):
        newest = self.newest()
        source = self._source
        if newest is not None and newest != source.path:
            source.path = newest
            source._stamp = None  # a new file: read it whatever its size and time
        yield from source.read(final)
