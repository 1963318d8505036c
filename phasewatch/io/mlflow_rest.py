"""An MLflow tracking server, read over its REST API with the standard library (urllib).

Addressed as `mlflow+http://HOST:PORT/RUN_ID` (or `mlflow+https://`, with any path prefix
the server sits under before the run id), or as `--tracking-uri http://HOST:PORT RUN_ID`
(`address` turns a tracking URI and a run into the PATH the readers take, for servers, SQLite
files and file stores alike). Without a run id the error lists the server's runs.

Endpoints: `GET /api/2.0/mlflow/runs/get` (status, name, params, and each metric's latest
value) and `GET /api/2.0/mlflow/metrics/get-history` per metric, paged with `max_results` /
`page_token`. Followed, a metric's history is fetched again only when its latest value,
step or timestamp changed, and only the points not seen before become records, grouped by
(timestamp, step) as in the file store; points newer than the newest value `runs/get` showed
wait for the next read, so that a row logged meanwhile is read whole, once, as a replay
reads it. Credentials, if the server needs them, come from
MLflow's own variables `MLFLOW_TRACKING_TOKEN` or `MLFLOW_TRACKING_USERNAME`/`_PASSWORD`.

A followed server that is not up yet, or goes away for a while (a restart), is waited for:
said once on stderr, tried again after a pause growing to RETRY_MAX seconds, with
`--idle-exit` counting the time; a server that answers "no such run" is an error at once.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from phasewatch.errors import InputError, UsageError
from phasewatch.io.mlflow import ENDED_BY
from phasewatch.io.source import Record, RecordSource, collect
from phasewatch.run import Run

FORMAT = "mlflow_server"
PAGE_SIZE = 25_000
TIMEOUT = 30.0
END_STATUSES = frozenset({"FINISHED", "FAILED", "KILLED"})
MAX_LISTED = 10
_ADDRESS = re.compile(r"^mlflow\+(https?):/+([^/]+)(/.*)?$")


def sniff(path: Path, head: bytes) -> bool:
    return _ADDRESS.match(str(path)) is not None


def parse(address: str) -> tuple[str, str | None]:
    """(server base URL, run id or None) of `mlflow+http://HOST:PORT[/PREFIX]/RUN_ID`."""
    match = _ADDRESS.match(str(address))
    if match is None:
        raise UsageError(f"not an MLflow server address: {address} "
                         "(expected mlflow+http://HOST:PORT/RUN_ID)")
    scheme, host, rest = match.groups()
    parts = [p for p in (rest or "").split("/") if p]
    run = parts.pop() if parts else None
    prefix = "".join(f"/{p}" for p in parts)
    return f"{scheme}://{host}{prefix}", run


def address(tracking_uri: str, run: str) -> str:
    """The PATH of run `run` in the store at `tracking_uri` (`--tracking-uri`): a server
    (`http(s)://...`), an SQLite file (`sqlite:///rel.db`, `sqlite:////abs.db`) or a file
    store (`file:///.../mlruns` or its folder)."""
    uri = tracking_uri.strip()
    run = run.strip().strip("/")
    if re.match(r"^https?://", uri):
        return f"mlflow+{uri.rstrip('/')}/{run}"
    if uri.startswith("sqlite:///"):
        return f"{uri[len('sqlite:///'):]}/{run}"
    if uri.startswith("sqlite:"):
        raise UsageError(f"--tracking-uri {uri}: expected sqlite:///FILE")
    if uri.startswith("file:"):
        uri = urllib.parse.unquote(urllib.parse.urlparse(uri).path)
    store = Path(uri)
    if store.is_file():
        return f"{store}/{run}"  # an SQLite file given as a path
    found = sorted(p for p in store.glob(f"*/{run}") if p.is_dir()) if store.is_dir() else []
    if not found:
        raise InputError(f"no run folder {run} in this MLflow file store", store)
    return str(found[0])


RETRY_FIRST, RETRY_MAX = 0.5, 5.0  # seconds between tries while a followed server is away
_GATEWAY_ERRORS = frozenset({502, 503, 504})  # a proxy in front of a server that is restarting


class Unreachable(InputError):
    """The server did not answer (refused, timed out, or a gateway error): a follower waits
    and tries again; a one-off read still ends with exit 3."""

    transient = True


class Client:
    """GET requests to one tracking server; errors become InputErrors naming the URL."""

    def __init__(self, base: str):
        self.base = base
        self.headers = {"Accept": "application/json"}
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        user = os.environ.get("MLFLOW_TRACKING_USERNAME")
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif user:
            secret = f"{user}:{os.environ.get('MLFLOW_TRACKING_PASSWORD', '')}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(secret).decode()

    def call(self, endpoint: str, params: dict[str, Any] | None = None,
             body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.base}/api/2.0/mlflow/{endpoint}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None if body is None else json.dumps(body).encode()
        headers = dict(self.headers, **({"Content-Type": "application/json"} if data else {}))
        request = urllib.request.Request(url, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            detail = _error_message(exc)
            error = Unreachable if exc.code in _GATEWAY_ERRORS else InputError
            raise error(f"the MLflow server answered {exc.code} to {endpoint}"
                        + (f": {detail}" if detail else ""), url) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Unreachable(f"cannot reach the MLflow tracking server ({reason})",
                              self.base) from exc
        try:
            answer = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{endpoint}: the answer is not JSON (is this an MLflow tracking "
                             "server?)", url) from exc
        if not isinstance(answer, dict):
            raise InputError(f"{endpoint}: the answer is not a JSON object", url)
        return answer

    def history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        """Every point of one metric, page by page."""
        points: list[dict[str, Any]] = []
        token = None
        while True:
            params = {"run_id": run_id, "metric_key": key, "max_results": PAGE_SIZE}
            if token:
                params["page_token"] = token
            answer = self.call("metrics/get-history", params)
            page = answer.get("metrics") or []
            if not isinstance(page, list):
                raise InputError(f"metrics/get-history: 'metrics' of {key!r} is not a list",
                                 self.base)
            points.extend(p for p in page if isinstance(p, dict))
            token = answer.get("next_page_token")
            if not token or not page:
                return points

    def runs(self) -> list[tuple[str, str, str]]:
        """(run id, name, status) of the server's runs (for the listing of an error)."""
        experiments = self.call("experiments/search", body={"max_results": 1000})
        ids = [e.get("experiment_id") for e in experiments.get("experiments") or []
               if isinstance(e, dict)]
        if not ids:
            return []
        found = self.call("runs/search", body={"experiment_ids": ids, "max_results": 1000})
        out = []
        for run in found.get("runs") or []:
            info = run.get("info", {}) if isinstance(run, dict) else {}
            out.append((str(info.get("run_id", "")), str(info.get("run_name", "")),
                        str(info.get("status", ""))))
        return out


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        answer = json.loads(exc.read())
        return str(answer.get("message") or answer.get("error_code") or "")
    except (ValueError, AttributeError, OSError):
        return ""


class Source(RecordSource):
    """One run of a tracking server; a follower's read fetches only metrics that moved."""

    format = FORMAT

    def __init__(self, path, follow: bool = False, notice=None):
        base, run_id = parse(str(path))
        self.address = f"mlflow+{base}/{run_id}" if run_id else f"mlflow+{base}"
        super().__init__(Path(self.address.replace("://", "_")), source=None)
        self.source = self.address  # shown as given (str: a Path would fold the "//")
        self.follow = follow
        self.client = Client(base)
        if run_id is None:
            listed = ", ".join(f"{r[0]} ({r[1]})" for r in self.client.runs()[:MAX_LISTED])
            raise InputError(f"pass one run: {self.address}/RUN_ID; runs: {listed or 'none'}",
                             self.address)
        self.run_id = run_id
        self.latest: dict[str, tuple] = {}
        self.seen: set[tuple] = set()
        self.failures = 0
        self.away_since: float | None = None  # when a followed server stopped answering
        self.next_try = 0.0
        self.retry = RETRY_FIRST
        self._get_run()  # fails now (exit 3) if the run does not exist

    def _get_run(self) -> dict[str, Any]:
        try:
            answer = self.client.call("runs/get", {"run_id": self.run_id})
        except InputError as exc:
            if "RESOURCE_DOES_NOT_EXIST" in str(exc) or " 404 " in str(exc) or "not found" \
                    in str(exc).lower():
                runs = ", ".join(f"{r[0]} ({r[1]})" for r in self.client.runs()[:MAX_LISTED])
                raise InputError(f"no run {self.run_id} on this server; runs: {runs or 'none'}",
                                 self.address) from exc
            raise
        run = answer.get("run")
        if not isinstance(run, dict):
            raise InputError("runs/get: no 'run' in the answer", self.address)
        info, data = run.get("info") or {}, run.get("data") or {}
        self.info.name = info.get("run_name") or self.run_id
        said = str(info.get("status", "")).upper()
        self.info.finished, self.info.ended_by = said in END_STATUSES, ENDED_BY.get(said)
        self.info.config = {p["key"]: p.get("value") for p in data.get("params") or []
                            if isinstance(p, dict) and "key" in p}
        return data

    def read(self, final: bool = True):
        if self.follow and not final and time.monotonic() < self.next_try:
            return  # the server is away: the next try is not due yet (no busy loop)
        try:
            data = self._get_run()
            moved = []
            for metric in data.get("metrics") or []:
                if not isinstance(metric, dict) or not isinstance(metric.get("key"), str):
                    continue
                mark = (metric.get("timestamp"), metric.get("step"), str(metric.get("value")))
                if self.latest.get(metric["key"]) != mark:
                    moved.append((metric["key"], mark))
            points = [(key, mark, self.client.history(self.run_id, key)) for key, mark in moved]
        except InputError as exc:
            if not self.follow or final:
                raise
            self._away(exc)
            return
        if self.away_since is not None:
            self.warn(f"the server answers again after {time.monotonic() - self.away_since:.0f} "
                      "s; following on")
            self.away_since, self.retry, self.next_try = None, RETRY_FIRST, 0.0
        # Followed, a row is read only once it is whole. The histories are fetched one metric
        # at a time after `runs/get`: a row logged in between (an HF evaluation's `eval_*` and
        # `epoch`) is in the history of a metric that had moved for an earlier row (`epoch`),
        # not in those that had not moved yet (`eval_*`). Read then, it would come as two
        # records, one a poll later, where a replay reads one (trial 32: 105 records against
        # 103). So only the points up to the newest that `runs/get` showed are read; a metric
        # with later points is fetched again at the next read.
        cutoff = None if final or not self.follow else _newest(data)
        entries = []
        for key, mark, history in sorted(points):
            later = False
            for point in history:
                try:
                    timestamp, step = int(point.get("timestamp", 0)), int(point.get("step", 0))
                except (TypeError, ValueError):
                    self.warn(f"metric {key}: a point without an integer step/timestamp: {point}")
                    continue
                if cutoff is not None and timestamp > cutoff:
                    later = True
                    continue
                identity = (key, timestamp, step, str(point.get("value")))
                if identity in self.seen:
                    continue
                self.seen.add(identity)
                entries.append((timestamp, step, key, _value(point.get("value"))))
            if not later:
                self.latest[key] = mark
        entries.sort(key=lambda e: (e[0], e[1]))
        group_key, values = None, {}
        for timestamp, step, key, value in entries:
            if (timestamp, step) != group_key and values:
                yield Record(group_key[1], values)
                values = {}
            group_key = (timestamp, step)
            values[key] = value
        if values:
            yield Record(group_key[1], values)

    def _away(self, exc: InputError) -> None:
        """A followed read failed: say so once (not on every poll), then try again after a
        growing pause (RETRY_FIRST doubling up to RETRY_MAX seconds)."""
        self.failures += 1
        now = time.monotonic()
        if self.away_since is None:
            self.away_since = now
            self.warn(f"{exc}; waiting for it and trying again (Ctrl-C to stop)")
        self.next_try = now + self.retry
        self.retry = min(self.retry * 2, RETRY_MAX)

    def finish(self, collector) -> None:
        if collector.n_records == 0:
            raise InputError(f"run {self.run_id} has no metric values", self.address)


def _newest(data: dict[str, Any]) -> int | None:
    """The newest timestamp among the latest values `runs/get` lists (None if none has one):
    every row logged up to it was logged before that answer, so is in the histories fetched
    after it."""
    stamps = []
    for metric in data.get("metrics") or []:
        try:
            stamps.append(int(metric["timestamp"]))
        except (KeyError, TypeError, ValueError):
            continue
    return max(stamps, default=None)


def _value(value: Any) -> Any:
    """MLflow stores +-inf as +-DBL_MAX (as the SQLite reader, read back as +-inf); "NaN" and
    other strings are left to the collector's number conversion."""
    if isinstance(value, float) and abs(value) == sys.float_info.max:
        return value * float("inf")
    return value


def source(path, follow: bool = False, notice=None) -> Source:
    return Source(path, follow=follow, notice=notice)


def read(path) -> Run:
    return collect(source(path))
