"""The Trainer's history in a followed output folder: which file a follow of the folder reads,
said once (`said_followed`), and the newest state file as checkpoints are saved
(`CheckpointStates`), or the new run's log when the folder's trainer_state.json turns out to
be a previous run's (`stale_state`). Opened by `live_open.open_when_ready`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from phasewatch.errors import InputError
from phasewatch.io.wrapped import WrappedSource


def said_followed(source, folder: Path, say: Callable[[str], None]):
    """The source of a followed folder (a `CheckpointStates` for the Trainer's history), once
    it has said which file of the folder it follows."""
    # a line source's file (a native run's source path is its folder, its file metrics.jsonl)
    file = getattr(source, "file", None) or getattr(source, "path", None)
    shown = relative(Path(file), folder) if file is not None else "its log"
    shown = "its log" if shown == "." else shown
    if source.format == "llamafactory":  # (the trial 40c follow said it was what a replay read)
        say(f"{folder}: following {shown}, LLaMA-Factory's log as the run trains (a replay and "
            "`analyze` of the finished folder read its trainer_state.json: the same loss and "
            "eval_loss)")
        return source
    if source.format == "csv_splits":  # its files, those of the other splits still to come
        shown = " and ".join(file.name for file in source.files) + " (and another split's CSV " \
            "file when it appears)"
    if source.format != "trainer_state":
        say(f"{folder}: following {shown}, the folder's log (as a replay and `analyze` of it "
            "read it)")
        from phasewatch.lightning_follow import ResumesFollowed

        return ResumesFollowed.of(source, folder, say)  # a Lightning version: its resumes
    if source.warnings and source.warnings[-1].startswith("history from "):
        source.warnings.pop()  # the folder's choice, said here for a follow
    if Path(file).parent == folder:
        say(f"{folder}: following {shown}, the Trainer's history")
    else:
        say(f"{folder}: following {shown}, the Trainer's history (as a replay and `analyze` "
            "of the folder read it), and each newer checkpoint's as it is saved "
            "(trainer_state.json once save_state() writes it); the follow ends at the "
            "checkpoint saved at the run's max_steps, at --idle-exit (longer than the time "
            "between saves) or when stopped")
    return CheckpointStates(source, folder, say)


def relative(path: Path, folder: Path) -> str:
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)


class CheckpointStates(WrappedSource):
    """A followed trainer_state source that moves to the newest state file of its output
    folder before each read: the folder's own `trainer_state.json` once it exists (written at
    the end), else the newest `checkpoint-N/trainer_state.json`. Everything else is the
    wrapped source's."""

    def __init__(self, source, folder: Path, say: Callable[[str], None] = lambda text: None):
        super().__init__(source)
        self._folder = folder
        self._say = say
        self._stamp: tuple | None = None
        self._stale: str | None = None  # why the folder's trainer_state.json is a previous run's
        self._moved = False  # now following the new run's log of another kind

    @property
    def reading(self) -> Path:
        """The state file read last, which the records just fed came from: a resumed run's
        history is in a newer checkpoint than the file the follow began with, and the resume
        warning names this one."""
        return self._source.path

    def newest(self) -> Path | None:
        from phasewatch.folders import newest_checkpoint_state

        final = self._folder / "trainer_state.json"
        if final.is_file() and not self._stale:
            return final
        found = newest_checkpoint_state(self._folder, bool(self._stale))
        return found[0] if found else None

    def _previous_run(self) -> str | None:
        """`stale_state.previous_run` of the folder, asked again when the folder changes; the
        first time it is found, said, and the previous run's end forgotten."""
        from phasewatch.stale_state import folder_stamp, previous_run

        stamp = folder_stamp(self._folder)
        if stamp != self._stamp:
            self._stamp = stamp
            stale = previous_run(self._folder)
            if stale and not self._stale:
                self._source.info.finished = False  # that run's end is not this one's
            self._stale = stale
        return self._stale

    def _move(self, stale: str) -> bool:
        """Follow the new run's log when it is no trainer_state.json (LLaMA-Factory's
        trainer_log.jsonl); False while the folder has none (or only checkpoints)."""
        from phasewatch.folders import single_run
        from phasewatch.io import open_source

        try:
            found = single_run(self._folder)
        except InputError:
            return False
        if found.path.name == "trainer_state.json" or not found.path.is_file():
            return False
        source = open_source(found.path, follow=True, notice=lambda message: None)
        source.on_bad_line = self._source.on_bad_line
        self._source.close()
        self._source, self._moved = source, True
        self._say(f"{self._folder}: {stale}: following {relative(found.path, self._folder)}, "
                  "the new run's log")
        return True

    def read(self, final: bool = True):
        if not self._moved:
            told = self._stale
            if self._previous_run() and not self._move(self._stale) and not told:
                self._say(f"{self._folder}: {self._stale}: following the new run's checkpoints "
                          "as they are saved")
        if self._moved:
            yield from self._source.read(final)
            return
        newest = self.newest()
        source = self._source
        if self._stale and newest is None:
            return  # only the previous run's history: wait for the new run's first save
        if newest is not None and newest != source.path:
            if newest.parent == self._folder:
                self._say(f"{self._folder}: following trainer_state.json, written by "
                          "save_state(): the Trainer's whole history")
            source.path = newest
            source._stamp = None  # a new file: read it whatever its size and time
        yield from source.read(final)
