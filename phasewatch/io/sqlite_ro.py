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
import time
from pathlib import Path

from phasewatch.errors import InputError, NotReadyError

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_SECONDS = 10.0


class StoreLocked(NotReadyError):
    """The writer held the database locked longer than `BUSY_SECONDS` (a follow that is
    opening the store waits on)."""

    def __init__(self, message: str, path: str | Path | None = None):
        super().__init__(message, path, "its writer to let go of the lock")


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
        error = NotReadyError if _transient(exc) else InputError
        raise error(f"cannot open the SQLite database read-only ({exc})", path) from exc
    return conn


def _locked(exc: sqlite3.Error) -> bool:
    """The writer holds the database locked (longer than the connection's busy timeout)."""
    return any(word in str(exc) for word in ("locked", "busy"))


def _transient(exc: sqlite3.Error) -> bool:
    """A lock, or a page that reads as malformed while a writer creates the file (Trackio's
    project, right after its first commit): gone at a later look."""
    return _locked(exc) or "malformed" in str(exc)


def tables(conn: sqlite3.Connection) -> dict[str, set[str]]:
    """table name -> its column names."""
    names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return {name: {row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')}
            for name in names}


def tables_at(conn: sqlite3.Connection, path: Path) -> dict[str, set[str]]:
    """`tables` of an open store; a database error becomes an InputError naming the file (a
    NotReadyError for a lock or a page still being written)."""
    try:
        return tables(conn)
    except sqlite3.Error as exc:
        error = NotReadyError if _transient(exc) else InputError
        raise error(f"cannot read its tables ({exc})", path) from exc


def schema_of(path: Path) -> dict[str, set[str]] | None:
    """The tables of an SQLite file, or None if it is not a readable SQLite database (for
    sniffing: never raises)."""
    return _probe(path)[0]


def problem_of(path: Path) -> str | None:
    """Why an SQLite file cannot be read (locked by its writer, damaged or cut short), in words
    that say what to do; None if it reads (or is not SQLite)."""
    return _probe(path)[1]


def problem_error(path: Path) -> InputError | None:
    """The error to raise for an SQLite file that cannot be read (`problem_of`), or None. A
    lock held by its writer, or a file that reads as damaged or cut short, is a
    `NotReadyError`: a store its writer is still creating or committing to (Trackio creates
    its project file while a follower may look), which a follow waits for; a replay reports
    it (exit 3)."""
    _, problem, transient = _probe(path)
    if problem is None:
        return None
    if transient:
        return NotReadyError(problem, path, "its writer to finish writing it")
    return InputError(problem, path)


_PROBED: dict[tuple, tuple[tuple[dict[str, set[str]] | None, str | None, bool], float]] = {}
TRANSIENT_KEPT = 2.0  # seconds a lock or a malformed page found is taken as still there


def _probe(path: Path) -> tuple[dict[str, set[str]] | None, str | None, bool]:
    """(tables, problem, whether the problem may pass) of an SQLite file, remembered for the
    file as it is now (inode, size, mtime, and those of its write-ahead log): every store reader sniffs the same file, and a
    database its writer holds locked costs `BUSY_SECONDS` per look."""
    if not is_sqlite(head_of(path)):
        return None, None, False
    try:
        st = Path(path).stat()
    except OSError:
        return None, None, False
    key = (str(Path(path).resolve()), st.st_ino, st.st_size, st.st_mtime_ns, _wal_stamp(path))
    if key in _PROBED:
        found, at = _PROBED[key]
        # a lock or a half-written page may be gone at a later look (a follow looks again)
        if not found[2] or time.monotonic() - at < TRANSIENT_KEPT:
            return found
    found = _look(path)
    if len(_PROBED) > 16:
        _PROBED.clear()
    _PROBED[key] = found, time.monotonic()
    return found


def _wal_stamp(path: Path) -> tuple[int, int] | None:
    """Size and time of the database's write-ahead log: in WAL mode (Trackio) commits go there
    and the file itself keeps its size and time, so a look remembered for the file alone would
    outlive the tables a writer has created since."""
    try:
        st = Path(f"{path}-wal").stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _look(path: Path) -> tuple[dict[str, set[str]] | None, str | None, bool]:
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_SECONDS, check_same_thread=False)
    except sqlite3.Error as exc:
        return None, f"cannot open it read-only ({exc})", False
    try:
        return tables(conn), None, False
    except sqlite3.OperationalError as exc:
        if _locked(exc):
            return None, (f"an SQLite database its writer kept locked for {BUSY_SECONDS:.0f} s "
                          f"({exc}); run this again once the writer has committed"), True
        return None, f"an SQLite database that cannot be read ({exc})", False
    except sqlite3.DatabaseError as exc:
        return None, (f"an SQLite database that is damaged or cut short ({exc}): a copy taken "
                      "while it was being written, or a download that stopped? Copy it again "
                      "once its writer has closed it"), True
    finally:
        conn.close()


def query(conn: sqlite3.Connection, path: Path, table: str, sql: str, args=()) -> list[tuple]:
    """Rows of one statement; a database error becomes an InputError naming file and table."""
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError as exc:
        if _locked(exc):
            raise StoreLocked(f"table {table}: the database stayed locked by its writer for "
                              f"{BUSY_SECONDS:g} s ({exc})", path) from exc
        raise InputError(f"table {table}: {exc}", path) from exc
    except sqlite3.DatabaseError as exc:
        error = NotReadyError if _transient(exc) else InputError
        raise error(f"table {table}: unreadable ({exc})", path) from exc
