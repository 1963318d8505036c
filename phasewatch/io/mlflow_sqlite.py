"""MLflow's SQLite backend (`mlflow.db`; MLflow's default store since 3.7, verl's
`sqlite:////tmp/mlruns.db`), read with the standard library's sqlite3. No mlflow package is
needed.

Tables used: `runs(run_uuid, name, status, lifecycle_stage, ...)`, `metrics(key, value,
timestamp, step, is_nan, run_uuid)`, `params(key, value, run_uuid)`, `tags(key, value,
run_uuid)`. MLflow stores NaN as `value=0, is_nan=1` and +-inf as +-DBL_MAX (both read back
as MLflow's client does: NaN and +-inf).

PATH is the database file when it holds one run (deleted runs are not counted), or
`mlflow.db/RUN` for one of several, RUN being the run id (or its first 8+ characters) or the
run name; several runs without a choice is an error listing them, as for a file store.
Rows are merged in timestamp order like the file store's lines (a resumed run that re-logs
steps supersedes the old values), and rows with one timestamp and step (one `log_metrics` call)
make one record. Followed, each read asks for the rows added since the last one (`rowid`
grows with every insert) and the run's status says when it is over.
"""

from __future__ import annotations

import sys
from pathlib import Path

from phasewatch.errors import InputError, NotReadyError
from phasewatch.io import sqlite_ro
from phasewatch.io.mlflow import ENDED_BY
from phasewatch.io.source import Record, RecordSource, collect
from phasewatch.io.sqlite_source import SqliteStoreSource
from phasewatch.run import Run

FORMAT = "mlflow_sqlite"
MEMBERS = True  # `mlflow.db/RUN` names one run of several
REQUIRED = {"metrics": {"key", "value", "timestamp", "step", "run_uuid"},
            "runs": {"run_uuid", "status"}}
END_STATUSES = frozenset({"FINISHED", "FAILED", "KILLED"})
MIN_ID_PREFIX = 8
MAX_LISTED = 10
ROLES = ("explorer", "trainer")  # Trinity-RFT's run name suffixes (as io.trinity, not imported:
#                                   listing a store's runs needs none of the other readers)


def is_store(schema: dict[str, set[str]] | None) -> bool:
    return schema is not None and all(
        table in schema and columns <= schema[table] for table, columns in REQUIRED.items())


def sniff(path: Path, head: bytes) -> bool:
    file, _ = sqlite_ro.split_member(path)
    return file.is_file() and is_store(sqlite_ro.schema_of(file))


def list_runs(conn, file: Path) -> list[tuple[str, str, str]]:
    """(run id, name, status) of the runs not deleted, oldest first."""
    columns = sqlite_ro.tables(conn).get("runs", set())
    name = "name" if "name" in columns else "''"
    where = "WHERE lifecycle_stage IS NULL OR lifecycle_stage != 'deleted'" \
        if "lifecycle_stage" in columns else ""
    order = "ORDER BY start_time, run_uuid" if "start_time" in columns else "ORDER BY rowid"
    rows = sqlite_ro.query(conn, file, "runs",
                           f"SELECT run_uuid, {name}, status FROM runs {where} {order}")
    return [(str(r[0]), str(r[1] or ""), str(r[2] or "")) for r in rows]


def members(file: Path) -> list[str]:
    """How to name each run of the store as `file/RUN` (for expanding a store into its runs):
    its name when no other run has it, else its run id. Trinity-RFT's `<X>_explorer` and
    `<X>_trainer` runs are one member `X` (read as one run by `io.trinity`)."""
    conn = sqlite_ro.connect(file)
    try:
        runs = list_runs(conn, file)
    finally:
        conn.close()
    names = [r[1] for r in runs]
    unique = {n for n in names if n and names.count(n) == 1 and n.strip("/.") == n}
    paired = {n.rsplit("_", 1)[0] for n in unique for role in ROLES if n.endswith("_" + role)}
    paired = {x for x in paired if all(f"{x}_{role}" in unique for role in ROLES)
              and x not in names}
    out: list[str] = []
    for run_id, name, _ in runs:
        pair = next((x for x in paired for role in ROLES if name == f"{x}_{role}"), None)
        member = pair or (name if name in unique else run_id)
        if member not in out:
            out.append(member)
    return out


def choose_run(runs: list[tuple[str, str, str]], wanted: str | None, file: Path,
               what: str = "MLflow database") -> tuple[str, str, str]:
    """The run `wanted` names (id, id prefix or name), or the only one; else InputError
    listing the runs."""
    if wanted is not None:
        exact = [r for r in runs if r[0] == wanted]
        named = [r for r in runs if r[1] == wanted]
        prefixed = [r for r in runs if len(wanted) >= MIN_ID_PREFIX and r[0].startswith(wanted)]
        for found in (exact, named, prefixed):
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise InputError(f"{len(found)} runs match {wanted!r}; pass the run id: "
                                 + _listing(found), file)
        raise InputError(f"no run {wanted!r} in this {what}; runs: " + (_listing(runs) or "none"),
                         file)
    if len(runs) == 1:
        return runs[0]
    if not runs:  # created before its run starts: a follow waits for one
        raise NotReadyError(f"this {what} holds no run", file, "a run to start")
    raise InputError(f"this {what} holds {len(runs)} runs; pass one as {file}/RUN (run id or "
                     f"name): {_listing(runs)}", file)


def _listing(runs) -> str:
    shown = ", ".join(f"{r[0]} ({r[1]})" if r[1] else r[0] for r in runs[:MAX_LISTED])
    return shown + (f" ... ({len(runs)} in all)" if len(runs) > MAX_LISTED else "")


class Source(SqliteStoreSource):
    """One run of an MLflow SQLite store."""

    format = FORMAT

    def open_run(self, schema, wanted, file) -> None:
        if not is_store(schema):
            raise InputError("not an MLflow database (no metrics/runs tables)", file)
        self.has_nan_column = "is_nan" in schema["metrics"]
        self.run_id, name, _ = choose_run(list_runs(self.conn, file), wanted, file)
        self.info.name = name or self.run_id

    def read(self, final: bool = True):
        nan = "is_nan" if self.has_nan_column else "0"
        # SQLite sorts (in C) into the file store's order: timestamp, step, then insertion.
        try:
            rows = self._q("metrics", f"SELECT rowid, key, value, timestamp, step, {nan} FROM "
                           "metrics WHERE run_uuid = ? AND rowid > ? ORDER BY timestamp, step, "
                           "rowid", (self.run_id, self.last_rowid))
            self._refresh()
        except sqlite_ro.StoreLocked as exc:
            self.lock_notice.locked(self, exc, final)
            return
        self.lock_notice.cleared()
        if rows:
            self.last_rowid = max(row[0] for row in rows)
        group_key, values = None, {}
        for rowid, key, value, timestamp, step, is_nan in rows:
            if is_nan:
                value = NAN
            elif type(value) is not float:
                value = _value(value)
            elif value == DBL_MAX or value == -DBL_MAX:  # MLflow's stand-in for +-inf
                value *= INF
            if value is None or type(timestamp) is not int or type(step) is not int \
                    or type(key) is not str:
                self.bad.append(str(rowid))
                continue
            if (timestamp, step) != group_key:
                if values:
                    yield Record(group_key[1], values, 0)
                    values = {}
                group_key = (timestamp, step)
            values[key] = value
        if values:
            yield Record(group_key[1], values, 0)

    def _refresh(self) -> None:
        status = self._q("runs", "SELECT status FROM runs WHERE run_uuid = ?", (self.run_id,))
        said = str(status[0][0]).upper() if status else ""
        self.info.finished, self.info.ended_by = said in END_STATUSES, ENDED_BY.get(said)
        self.info.config = {str(k): v for k, v in self._q(
            "params", "SELECT key, value FROM params WHERE run_uuid = ? ORDER BY key",
            (self.run_id,))} if self._has("params") else {}
        if self._has("tags"):
            tag = self._q("tags", "SELECT value FROM tags WHERE run_uuid = ? AND "
                          "key = 'mlflow.runName'", (self.run_id,))
            if tag and tag[0][0] and self.info.name == self.run_id:
                self.info.name = str(tag[0][0])

    def _has(self, table: str) -> bool:
        return bool(self._q("sqlite_master", "SELECT 1 FROM sqlite_master WHERE type='table' "
                            "AND name = ?", (table,)))

    def finish(self, collector) -> None:
        if self.bad:
            shown = ", ".join(self.bad[:10]) + (f" and {len(self.bad) - 10} more"
                                                if len(self.bad) > 10 else "")
            collector.warn(f"table metrics: skipped {len(self.bad)} rows without a numeric "
                           f"value, integer timestamp and step (rowid {shown})")
        if collector.n_records == 0:
            raise InputError(f"table metrics: no values for run {self.run_id}", self.path)


NAN, INF, DBL_MAX = float("nan"), float("inf"), sys.float_info.max


def _value(value) -> float | None:
    """A value SQLite did not return as a float (an integer, or text in a damaged row)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return None


def source(path: Path, follow: bool = False, notice=None) -> RecordSource:
    """The run at `path`; Trinity-RFT's `<name>_explorer` / `<name>_trainer` pair (`db/<name>`,
    or a store holding only the pair) is read as one run (`io.trinity`)."""
    from phasewatch.io import trinity

    pair = trinity.mlflow_pair(Path(path))
    if pair is not None:
        return trinity.MlflowPairSource(Path(path), pair, follow=follow, notice=notice)
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))
