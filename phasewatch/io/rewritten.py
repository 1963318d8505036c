"""The base of the readers of a file its writer rewrites whole as the run goes on."""

from __future__ import annotations

from pathlib import Path

from phasewatch.io.source import Record, RecordSource


class RewrittenFileSource(RecordSource):
    """A file its writer rewrites whole (a JSON list of records, SB3's `evaluations.npz`): read
    again only when its stamp (mtime, size) changes, and the records given from the first that
    differs from those given before. A restarted run that rewrites it with fewer records
    differs at its first one, and its records go back to an earlier step, a resume the
    consumer resolves (a count of the records given before lost them until the new run had
    logged more)."""

    def __init__(self, path: Path, follow: bool = False):
        super().__init__(path)
        self.follow = follow
        self.info.name = self.path.stem
        self._stamp: tuple[int, int] | None = None
        self._given: list[Record] = []

    def stamp(self) -> tuple[int, int] | None:
        """The file's (mtime, size), or None when it is the one read last (OSError if it
        cannot be read)."""
        st = self.path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        return None if stamp == self._stamp else stamp

    def fresh(self, stamp: tuple[int, int], records: list[Record]) -> list[Record]:
        """The records not given before, now that the file with `stamp` holds `records`."""
        k = 0
        for old, new in zip(self._given, records):
            if (old.step, dict(old.values)) != (new.step, dict(new.values)):
                break
            k += 1
        self._stamp, self._given = stamp, records
        return records[k:]
