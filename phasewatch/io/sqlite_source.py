"""One run of a tracker's SQLite store (MLflow's `mlflow.db`, Trackio's `<project>.db`), read
by row id as rows arrive.

Both stores are opened the same way: read-only (`sqlite_ro`), the run picked from the
`store.db/RUN` address, and the connection closed again when the store is not one of theirs or
the run is not there (a store still being created fails here, and a follow opens it again).
Each store says what its tables must hold and which run is wanted (`open_run`); reading the
rows is its own.
"""

from __future__ import annotations

from pathlib import Path

from phasewatch.io import sqlite_ro
from phasewatch.io.source import RecordSource


class SqliteStoreSource(RecordSource):
    """A run of a SQLite store, its connection open from construction to `close`."""

    def __init__(self, path: Path, follow: bool = False, notice=None):
        file, wanted = sqlite_ro.split_member(path)
        super().__init__(file, source=path)
        self.follow = follow
        self.lock_notice = sqlite_ro.LockNotice()
        self.conn = sqlite_ro.connect(file)
        try:  # a store still being created may fail here: close what was opened
            self.open_run(sqlite_ro.tables_at(self.conn, file), wanted, file)
        except BaseException:
            self.conn.close()
            raise
        self.last_rowid = 0  # the last row read: a follow reads the rows after it
        self.bad: list[str] = []  # rows that could not be read, said at the end

    def open_run(self, schema: dict[str, set[str]] | None, wanted: str | None,
                 file: Path) -> None:
        """Check that `schema` is this store's (raise `InputError` if not) and choose the
        run (`wanted`: the name or id after `store.db/`, None where none was given)."""
        raise NotImplementedError

    def _q(self, table: str, sql: str, args=()):
        return sqlite_ro.query(self.conn, self.path, table, sql, args)

    def close(self) -> None:
        self.conn.close()
