"""A followed PyTorch Lightning logger folder whose run is resumed while it is followed.

`Trainer.fit(ckpt_path=...)` logs the resumed run into a new `version_N` that continues the one
a follow of the folder reads (`lightning_versions`: a replay of the folder then reads them as
one run). The follow stayed on the crashed version's log, which no longer grows: it ended at
--idle-exit with none of the resumed run's alerts. `ResumesFollowed` looks at the logger's
folder when its versions change and, once a new version continues the log it reads, follows
that version's log: its records go back to the step the resume went back
to, which the monitor rewinds to, as a replay of the folder does, so their alerts are the same
(as a Hugging Face Trainer's `runs/` follow moves on to a new start's folder).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from phasewatch.errors import InputError
from phasewatch.io.wrapped import WrappedSource

CHECK_EVERY = 2.0
"""Seconds between looks at the versions while only their sizes change and the read log grows
(its twin grows with it all run long; each look reads the logs compared); at once when a
version folder appears, or a version grows while the read log does not (a resume's first
records: its folder appears before them, and a look every 2 s lost the race with an --idle-exit
of 2 s)."""


class ResumesFollowed(WrappedSource):
    """The followed source of the folder `given`, moving on to the log of a version that
    resumes it (`reading` names the log read last), and from that one to a version resuming it
    in turn: never to a twin of the version read (`lightning_versions.resumed_by`)."""

    def __init__(self, source, given: Path, logger: Path, say: Callable[[str], None]):
        super().__init__(source)
        self._given, self._logger, self._say = given, logger, say
        # nothing looked at yet: the first read looks (a version written between the folder's
        # opening and this wrapping resumes the log unseen otherwise)
        self._stamp: tuple = ()
        self._checked = 0.0

    @classmethod
    def of(cls, source, given: Path, say: Callable[[str], None]):
        """`source` wrapped when its log is in a Lightning version folder, else itself."""
        from phasewatch.lightning_versions import version_of

        version = version_of(Path(getattr(source, "file", None) or source.path))
        return source if version is None else cls(source, given, version.parent, say)

    @property
    def reading(self) -> Path:
        return Path(getattr(self._source, "file", None) or self._source.path)

    def read(self, final: bool = True):
        idle = True
        for record in self._source.read(final):
            idle = False
            yield record
        if self._moved(idle):
            yield from self._source.read(final)

    def _versions_stamp(self) -> tuple:
        """The logger folder's versions and their files' sizes, less the followed log's: what
        changes when another version is written."""
        reading = self.reading
        out = []
        try:
            versions = sorted(p for p in self._logger.iterdir() if p.is_dir())
        except OSError:
            return ()
        for version in versions:
            try:
                files = sorted((f.name, f.stat().st_size) for f in version.iterdir()
                               if f.is_file() and f != reading)
            except OSError:
                continue
            out.append((version.name, tuple(files)))
        return tuple(out)

    def _moved(self, idle: bool) -> bool:
        from phasewatch.lightning_versions import open_log, resumed_by

        stamp = self._versions_stamp()
        new_version = [name for name, _ in stamp] != [name for name, _ in self._stamp]
        if stamp == self._stamp or not (new_version or idle) \
                and time.monotonic() - self._checked < CHECK_EVERY:
            return False
        self._stamp, self._checked = stamp, time.monotonic()
        try:
            log = resumed_by(self.reading)
        except InputError:
            return False  # a version being created: looked at again when it changes
        if log is None:
            return False
        source = open_log(log, follow=True)
        source.on_bad_line = self._source.on_bad_line
        self._source.close()
        self._source = source
        self._stamp = self._versions_stamp()
        self._say(f"{self._given}: {log.parent.name if log.is_file() else log.name} resumes the "
                  f"run (Trainer.fit with ckpt_path): following "
                  f"{log.relative_to(self._logger.parent)}")
        return True
