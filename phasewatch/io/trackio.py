"""Trackio projects (`report_to="trackio"` in TRL / transformers): one SQLite file per project,
`$TRACKIO_DIR/<project>.db` (default `$HF_HOME/trackio/`), and its Parquet export
`<project>.parquet`. Read with the standard library's sqlite3; no trackio package is needed.

Table `metrics(id, run_id, timestamp, run_name, step, metrics)`: one row per `trackio.log`
call, `metrics` a JSON object (text or bytes) where NaN and +-inf are the strings "NaN",
"Infinity", "-Infinity". Older databases have no `run_id`; runs are told apart by
`run_name` (a resumed run keeps its name). The `configs` table holds each run's config.

Steps: transformers' Trackio callback logs without `step=`, so the `step` column counts log
calls; the trainer's own step is the `train/global_step` in the JSON, used when present (a
later row without it, such as the callback's `on_predict` metrics, is at the last one).

PATH is the database when it holds one run, else `<project>.db/RUN_NAME` (several runs without
a choice is an error listing them). The database is in WAL mode: it is opened read-only and
reading never blocks the writer. Followed, each read asks for the rows added since the last
one (`id` grows). Trackio writes no "finished" status, so a follow ends with `--idle-exit` or
Ctrl-C. The Parquet export (one column per metric plus `run_name`, `step`) needs pyarrow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from phasewatch.errors import InputError
from phasewatch.io import sqlite_ro
from phasewatch.io.mlflow_sqlite import choose_run
from phasewatch.io.source import Record, RecordSource, collect
from phasewatch.io.sqlite_source import SqliteStoreSource
from phasewatch.run import Run

FORMAT = "trackio"
MEMBERS = True  # `project.db/RUN_NAME` names one run of several
STEP_KEY = "train/global_step"
REQUIRED = {"metrics": {"run_name", "step", "metrics"}}
PARQUET_MAGIC = b"PAR1"
SIDECARS = ("_system.parquet", "_configs.parquet", "_traces.parquet")  # not the metrics
PARQUET_BOOKKEEPING = ("id", "run_id", "timestamp", "run_name", "step", "log_id", "space_id")


def is_project(schema: dict[str, set[str]] | None) -> bool:
    return schema is not None and all(
        table in schema and columns <= schema[table] for table, columns in REQUIRED.items())


def sniff(path: Path, head: bytes) -> bool:
    file, _ = sqlite_ro.split_member(path)
    if not file.is_file():
        return False
    if file.name.endswith(".parquet"):
        return not file.name.endswith(SIDECARS) and _is_trackio_parquet(file)
    return is_project(sqlite_ro.schema_of(file))


def _is_trackio_parquet(file: Path) -> bool:
    """Parquet whose footer names Trackio's columns (checked without pyarrow: the footer's
    Thrift metadata holds the column names as plain bytes)."""
    try:
        with open(file, "rb") as fh:
            if fh.read(4) != PARQUET_MAGIC:
                return False
            fh.seek(-8, 2)
            tail = fh.read(8)
            length = int.from_bytes(tail[:4], "little")
            if tail[4:] != PARQUET_MAGIC or length <= 0:
                return False
            fh.seek(-8 - length, 2)
            footer = fh.read(length)
    except OSError:
        return False
    return b"run_name" in footer and b"step" in footer


def members(file: Path) -> list[str]:
    """The run names of a project database or its Parquet export, first logged first (for
    expanding a project into its runs as `file/RUN_NAME`). The export needs pyarrow to list
    its runs; without it the file stays one PATH (reading it then says what to install)."""
    if not sqlite_ro.is_sqlite(sqlite_ro.head_of(file)):
        try:
            import pyarrow.parquet as pq

            names = pq.read_table(file, columns=["run_name"]).column("run_name").to_pylist()
        except Exception:  # noqa: BLE001 - no pyarrow or a bad file: read it as one PATH
            return []
        return list(dict.fromkeys(str(n) for n in names))
    conn = sqlite_ro.connect(file)
    try:
        rows = sqlite_ro.query(conn, file, "metrics", "SELECT run_name FROM metrics "
                               "GROUP BY run_name ORDER BY min(rowid)")
    finally:
        conn.close()
    return [str(name) for (name,) in rows]


def _decode(blob: Any) -> dict[str, Any]:
    if isinstance(blob, (bytes, memoryview)):
        blob = bytes(blob).decode("utf-8")
    values = json.loads(blob)  # "NaN" / "Infinity" strings stay strings: to_float reads them
    if not isinstance(values, dict):
        raise TypeError("not a JSON object")
    return values


class Steps:
    """The step of each row: its `train/global_step` when it has one. A row without one in a
    run that has them (transformers' `on_predict` metrics) belongs at the trainer's last step,
    not at the `step` column, which counts log calls and would read as a step counter going
    back (a resume); a run that never logs `train/global_step` uses the column."""

    def __init__(self) -> None:
        self.last: int | None = None

    def __call__(self, values: dict[str, Any], column_step: Any) -> int:
        own = values.pop(STEP_KEY, None)
        if isinstance(own, (int, float)) and not isinstance(own, bool) \
                and float(own).is_integer():
            self.last = int(own)
            return self.last
        if self.last is not None:
            return self.last
        if isinstance(column_step, int):
            return column_step
        raise ValueError(f"no integer step (step column {column_step!r})")


class Source(SqliteStoreSource):
    """One run of a Trackio project database."""

    format = FORMAT

    def open_run(self, schema, wanted, file) -> None:
        if not is_project(schema):
            raise InputError("not a Trackio project database (no metrics table with run_name, "
                             "step, metrics)", file)
        self.has_configs = "configs" in schema and {"run_name", "config"} <= schema["configs"]
        runs = [(str(name), str(name), "") for (name,) in self._q(
            "metrics", "SELECT run_name FROM metrics GROUP BY run_name ORDER BY min(rowid)")]
        self.run_name = choose_run(runs, wanted, file, "Trackio project")[0]
        self.info.name = self.run_name
        self.steps = Steps()

    def read(self, final: bool = True):
        try:
            rows = self._q("metrics", "SELECT rowid, step, metrics FROM metrics WHERE "
                           "run_name = ? AND rowid > ? ORDER BY rowid",
                           (self.run_name, self.last_rowid))
            if self.has_configs and not self.info.config:
                self._config()
        except sqlite_ro.StoreLocked as exc:
            self.lock_notice.locked(self, exc, final)
            return
        self.lock_notice.cleared()
        for rowid, column_step, blob in rows:
            self.last_rowid = rowid
            try:
                values = _decode(blob)
                step = self.steps(values, column_step)
            except (ValueError, UnicodeDecodeError, TypeError) as exc:
                self.bad.append(f"id {rowid} ({exc})")
                if self.on_bad_line is not None:
                    self.on_bad_line(self.path, rowid, f"table metrics: {exc}")
                continue
            values = {k: v for k, v in values.items() if not k.startswith("_")}
            if values:
                yield Record(step, values, rowid)

    def _config(self) -> None:
        rows = self._q("configs", "SELECT config FROM configs WHERE run_name = ? ORDER BY rowid",
                       (self.run_name,))
        for (blob,) in rows:
            try:
                config = _decode(blob)
            except (ValueError, UnicodeDecodeError, TypeError):
                self.warn("table configs: the run's config is not a JSON object")
                continue
            self.info.config.update({k: v for k, v in config.items() if not k.startswith("_")})

    def finish(self, collector) -> None:
        if self.bad:
            shown = ", ".join(self.bad[:5]) + (f" and {len(self.bad) - 5} more"
                                               if len(self.bad) > 5 else "")
            collector.warn(f"table metrics: skipped {len(self.bad)} rows that are not a JSON "
                           f"object with a step: {shown}")
        if collector.n_records == 0:
            raise InputError(f"table metrics: no values for run {self.run_name!r}", self.path)


class ParquetSource(RecordSource):
    """Trackio's Parquet export: one row per log call, one column per metric. A file is
    written whole by the export, so it is read whole (again when it is rewritten)."""

    format = FORMAT + "_parquet"

    def __init__(self, path: Path, follow: bool = False, notice=None):
        file, wanted = sqlite_ro.split_member(path)
        super().__init__(file, source=path)
        self.wanted = wanted
        self.run_name: str | None = None
        self.done_rows = 0
        self.steps = Steps()
        self.mtime: int | None = None

    def _table(self):
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise InputError("the optional package 'pyarrow' is needed to read Trackio's "
                             "Parquet export; install it with: pip install pyarrow (or read "
                             "the project's .db file instead)", self.path) from exc
        try:
            return pq.read_table(self.path).to_pylist()
        except Exception as exc:  # pyarrow raises several kinds for a bad file
            raise InputError(f"unreadable Parquet file ({exc})", self.path) from exc

    def read(self, final: bool = True):
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror or exc}", self.path) from exc
        if mtime == self.mtime:
            return
        self.mtime = mtime
        rows = self._table()
        if self.run_name is None:
            names = list(dict.fromkeys(str(r.get("run_name")) for r in rows))
            runs = [(n, n, "") for n in names]
            self.run_name = choose_run(runs, self.wanted, self.path, "Trackio export")[0]
            self.info.name = self.run_name
        mine = [(i, r) for i, r in enumerate(rows, 1) if str(r.get("run_name")) == self.run_name]
        for number, row in mine[self.done_rows:]:
            values = {k: v for k, v in row.items()
                      if k not in PARQUET_BOOKKEEPING and v is not None and not k.startswith("_")}
            try:
                step = self.steps(values, row.get("step"))
            except ValueError as exc:
                self.warn(f"row {number}: {exc}")
                continue
            if values:
                yield Record(step, values, number)
        self.done_rows = len(mine)


def source(path: Path, follow: bool = False, notice=None) -> RecordSource:
    file, _ = sqlite_ro.split_member(Path(path))
    if not sqlite_ro.is_sqlite(sqlite_ro.head_of(file)) and _is_trackio_parquet(file):
        return ParquetSource(Path(path), follow=follow, notice=notice)
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))
