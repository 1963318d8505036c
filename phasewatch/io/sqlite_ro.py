"""Read-only access to the SQLite stores trackers write (MLflow's `mlflow.db`, Trackio's
`<project>.db`), with the standard library's sqlite3.

The database is opened with a read-only URI (`file:...?mode=ro`), so phasewatch never writes
to, or locks for writing, a store a trainer is still writing. Trackio runs in WAL mode, where
readers and the writer do not block each other (SQLite keeps the `-wal` / `-shm` files beside
the database for readers too, as it does for any connection); MLflow uses SQLite's
default rollback journal, where a read holds a shared lock only while a query runs (each query
here is one short statement) and a commit in progress makes a read wait up to `BUSY_SECONDS`.

Also here: the `store.db/RUN` address of one run inside a single-file store (the path goes on
beneath the file, which no real path can), used by both stores.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from phasewatch.errors import InputError

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_SECONDS = 10.0


class StoreLocked(InputError):
    """The writer held the database locked longer than `BUSY_SECONDS`."""


class LockNotice:
    """Whether the current lock of a store followed live has been reported: one warning per
    lock, however many polls it lasts (`cleared` once a read goes through)."""

    def __init__(self) -> None:
        self.said = False

    def locked(self, source, exc: StoreLocked, final: bool) -> None:
        """A store followed live that its writer holds locked for a while (a long commit) is
        read again at the next poll, with one warning per lock; read whole (or at the run's
        end), the lock is the input's problem (`exc`, exit 3)."""
        if not source.follow or final:
            raise exc
        if not self.said:
            self.said = True
            source.warn(f"{exc.message}; still following: "
                        "reading on once the writer lets go")

    def cleared(self) -> None:
        self.said = False


def is_sqlite(head: bytes) -> bool:
    return head.startswith(SQLITE_MAGIC)


def split_member(path: Path) -> tuple[Path, str | None]:
    """(database file, run) of `store.db/RUN`, or (path, None) for the file itself.

    The run may itself contain "/" (a run name such as `grpo/seed1`): everything after the
    deepest existing file is the run."""
    path = Path(path)
    if path.is_file():
        return path, None
    for parent in path.parents:
        if parent.is_file():
            return parent, path.relative_to(parent).as_posix()
        if parent.exists():
            break
    return path, None


def head_of(path: Path, size: int = 100) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


def connect(path: Path) -> sqlite3.Connection:
    """A read-only connection (InputError naming the file if it cannot be opened)."""
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_SECONDS, check_same_thread=False)
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.Error as exc:
        raise InputError(f"cannot open the SQLite database read-only ({exc})", path) from exc
    return conn


def tables(conn: sqlite3.Connection) -> dict[str, set[str]]:
    """table name -> its column names."""
    names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return {name: {row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')}
            for name in names}


def schema_of(path: Path) -> dict[str, set[str]] | None:
    """The tables of an SQLite file, or None if it is not a readable SQLite database (for
    sniffing: never raises)."""
    return _probe(path)[0]


def problem_of(path: Path) -> str | None:
    """Why an SQLite file cannot be read (locked by its writer, damaged or cut short), in words
    that say what to do; None if it reads (or is not SQLite)."""
    return _probe(path)[1]


_PROBED: dict[tuple, tuple[dict[str, set[str]] | None, str | None]] = {}


def _probe(path: Path) -> tuple[dict[str, set[str]] | None, str | None]:
    """(tables, problem) of an SQLite file, remembered for the file as it is now (inode, size,
    mtime): every store reader sniffs the same file, and a database its writer holds locked
    costs `BUSY_SECONDS` per look."""
    if not is_sqlite(head_of(path)):
        return None, None
    try:
        st = Path(path).stat()
    except OSError:
        return None, None
    key = (str(Path(path).resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _PROBED:
        if len(_PROBED) > 16:
            _PROBED.clear()
        _PROBED[key] = _look(path)
    return _PROBED[key]


def _look(path: Path) -> tuple[dict[str, set[str]] | None, str | None]:
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_SECONDS, check_same_thread=False)
    except sqlite3.Error as exc:
        return None, f"cannot open it read-only ({exc})"
    try:
        return tables(conn), None
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return None, (f"an SQLite database its writer kept locked for {BUSY_SECONDS:.0f} s "
                          f"({exc}); run this again once the writer has committed")
        return None, f"an SQLite database that cannot be read ({exc})"
    except sqlite3.DatabaseError as exc:
        return None, (f"an SQLite database that is damaged or cut short ({exc}): a copy taken "
                      "while it was being written, or a download that stopped? Copy it again "
                      "once its writer has closed it")
    finally:
        conn.close()


def query(conn: sqlite3.Connection, path: Path, table: str, sql: str, args=()) -> list[tuple]:
    """Rows of one statement; a database error becomes an InputError naming file and table."""
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreLocked(f"table {table}: the database stayed locked by its writer for "
                              f"{BUSY_SECONDS:g} s ({exc})", path) from exc
        raise InputError(f"table {table}: {exc}", path) from exc
    except sqlite3.DatabaseError as exc:
        raise InputError(f"table {table}: unreadable ({exc})", path) from exc
