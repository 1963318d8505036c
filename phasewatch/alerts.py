"""Where alerts go: stdout (text or JSON lines), a webhook, a stop file.

Every sink has `emit(alert)` and `close()`; `StopFile.trigger(alert)` is called once, when a
stop condition fires. Sinks never raise into the training loop: the webhook posts from a
background thread with a bounded queue, a timeout and bounded retries, and only logs failures;
a stop file that cannot be written is found by `StopFile.check()` at start-up.

The webhook is an untrusted peer: whatever it answers (garbage, an endless body, a redirect,
nothing at all) costs at most `timeout` seconds and `MAX_RESPONSE` bytes per try, redirects are
not followed (a 30x is "not delivered": a POST turned into a GET elsewhere delivers nothing),
and messages show the URL redacted (`redact_url`): webhook URLs carry their secret in the
path, the query or the user-info.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

from phasewatch.errors import InputError
from phasewatch.online import Alert
from phasewatch.output import emit_jsonl, warn
from phasewatch.step_units import at, step_text, unit_word


def format_alert(alert: Alert) -> str:
    """One readable line: 'step 1200  eval/accuracy=0.612  overfit  onset ~1050: why; best
    checkpoint 1050' ('epoch 7 ...' where the log's steps are epochs:
    `live_sets.WatchedAlert`). The value is the deciding record's, so it stands beside that
    record's step: after the best checkpoint it read as that checkpoint's value ("best
    checkpoint 3500 eval_loss=1.554", step 4000's loss); and the best comes after the why,
    whose levels are not the checkpoint's value (trial 34b: "best checkpoint 80: eval/loss
    level 0.1105", step 70's reading beside step 80's 0.1042)."""
    unit = getattr(alert, "step_unit", "step")  # "epoch/10000": 'epoch 1.35', not a step
    value = "n/a" if alert.value is None else f"{alert.value:.4g}"
    parts = [at(alert.step, unit), f"{alert.metric}={value}", alert.event]
    if alert.onset_step is not None:
        parts.append(f"onset ~{step_text(alert.onset_step, unit)}")
    line = "  ".join(parts) + f": {alert.message}"
    if alert.best_step is not None:
        saved = getattr(alert, "saved", None)  # in an HF output folder: the checkpoint to load
        # a checkpoint is named by its step; in epochs (Keras, an HF console log without
        # steps) 'best checkpoint 16.67' read as a checkpoint's name: 'best at epoch 16.67'
        best = (f"best checkpoint {step_text(alert.best_step, unit)}"
                if unit_word(unit) == "step" else f"best at {at(alert.best_step, unit)}")
        line += f"; {best}" + ("" if saved is None else f" ({saved.text(alert.metric)})")
    return line


class TextSink:
    def __init__(self, stream: TextIO | None = None):
        self.stream = stream

    def emit(self, alert: Alert) -> None:
        stream = self.stream or sys.stdout
        stream.write(format_alert(alert) + "\n")
        stream.flush()

    def close(self) -> None:
        pass


class JsonlSink:
    """One `{"event","step","onset_step","best_step","metric","value","message"}` per line."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream

    def emit(self, alert: Alert) -> None:
        emit_jsonl(alert.to_dict(), self.stream or sys.stdout)

    def close(self) -> None:
        pass


MAX_RESPONSE = 64 * 1024  # bytes of a webhook's answer read at most (then the socket closes)


def redact_url(url: str) -> str:
    """`scheme://host[:port]/...`: the URL without what may be a secret (user-info, path beyond
    its first segment, query, fragment), for messages and logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    first = parts.path.strip("/").split("/", 1)[0]
    shown = f"/{first}" if first and len(first) <= 20 and first.isalpha() else ""
    more = "/..." if parts.path.strip("/") != first or (first and not shown) or parts.query \
        else ""
    return f"{parts.scheme}://{host}{port}{shown}{more}"


class WebhookSink:
    """POST each alert as JSON to `url` from a background thread.

    The body is the alert's JSON object plus `"text"` (the readable line, which Slack/Mattermost
    style incoming webhooks display) and `"source"`. Each post has `timeout` seconds; a failure
    (connection error, 5xx, 429, an answer that is not HTTP) is retried up to `retries` times
    with exponential backoff from `backoff` seconds; 4xx other than 429 and redirects are not
    retried. The same (event, metric) is not sent again within `repeat_interval` seconds
    (rate-limited repeats). The queue holds at most `max_queue` alerts; beyond that new alerts
    are dropped with a warning, so a dead endpoint can never grow memory or block the caller.
    No error of the endpoint ends the thread. `close(wait)` waits at most `wait` seconds.
    """

    def __init__(self, url: str, source: str = "", timeout: float = 5.0, retries: int = 3,
                 backoff: float = 0.5, repeat_interval: float = 60.0, max_queue: int = 100,
                 clock=time.monotonic):
        if any(ch.isspace() or ord(ch) < 32 for ch in url):
            raise ValueError(f"webhook URL must not contain spaces or control characters, "
                             f"got {redact_url(url)!r}")
        try:
            parsed = urlsplit(url)
            parsed.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as exc:
            raise ValueError(f"webhook URL is not valid ({exc}): {redact_url(url)!r}") from None
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"webhook URL must be http(s)://host/..., got {redact_url(url)!r}")
        self.url, self.source = url, source
        self.shown = redact_url(url)
        self._parsed = parsed
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.repeat_interval = repeat_interval
        self.clock = clock
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._last_sent: dict[tuple[str, str], float] = {}
        self._queue: queue.Queue = queue.Queue(maxsize=max_queue)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._worker, name="phasewatch-webhook",
                                        daemon=True)
        self._thread.start()

    def emit(self, alert: Alert) -> None:
        key = (alert.event, alert.metric)
        now = self.clock()
        last = self._last_sent.get(key)
        if last is not None and now - last < self.repeat_interval:
            self.dropped += 1
            return
        self._last_sent[key] = now
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self.dropped += 1
            warn(f"webhook queue full; alert at step {alert.step} not sent")

    def close(self, wait: float | None = None) -> None:
        """Let queued alerts go out for at most `wait` seconds (default: one full try); those
        still queued then are dropped, so that the thread ends with the post it is making and
        nothing is sent after: a callback that begins a new run closes the sink of the run
        before (one that crashed and never ended), whose alerts must not arrive during the new
        run."""
        if wait is None:
            wait = self.timeout * (self.retries + 1) + self.backoff * 2 ** self.retries
        self._closing.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass  # the worker also stops when it finds the queue empty while closing
        self._thread.join(timeout=wait)
        unsent = 0
        while True:
            try:
                unsent += self._queue.get_nowait() is not None
            except queue.Empty:
                break
        self.dropped += unsent
        if self._thread.is_alive() or unsent:
            warn(f"webhook {self.shown}: gave up on unsent alerts ({unsent} dropped)")

    def _worker(self) -> None:
        while True:
            try:
                alert = self._queue.get(timeout=0.1)
            except queue.Empty:
                if self._closing.is_set():
                    return
                continue
            if alert is None:
                return
            try:
                self._post(alert)
            except Exception as exc:  # noqa: BLE001 - nothing the endpoint does ends the thread
                self.failed += 1
                warn(f"webhook {self.shown}: alert at step {alert.step} not delivered "
                     f"({type(exc).__name__})")

    def _post(self, alert: Alert) -> None:
        body = json.dumps({**alert.to_dict(), "text": format_alert(alert),
                           "source": self.source}).encode("utf-8")
        for attempt in range(self.retries + 1):
            retry, reason = self._try(body)
            if reason is None:
                self.sent += 1
                return
            if not retry or attempt == self.retries:
                self.failed += 1
                warn(f"webhook {self.shown}: alert at step {alert.step} not delivered ({reason})")
                return
            # Backoff; while closing, retry at once (close() bounds the total wait).
            self._closing.wait(self.backoff * 2**attempt)

    def _try(self, body: bytes) -> tuple[bool, str | None]:
        """One POST: (retry?, None if delivered else why not)."""
        parsed = self._parsed
        target = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
        if parsed.scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                parsed.hostname, parsed.port, timeout=self.timeout,
                context=ssl.create_default_context())
        else:
            connection = http.client.HTTPConnection(parsed.hostname, parsed.port,
                                                    timeout=self.timeout)
        headers = {"Content-Type": "application/json", "User-Agent": "phasewatch",
                   "Content-Length": str(len(body))}
        if parsed.username is not None:
            import base64

            user = f"{parsed.username}:{parsed.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(user).decode("ascii")
        watchdog, fired = None, threading.Event()
        try:
            connection.connect()
            # `timeout` bounds each socket operation; the watchdog bounds the whole exchange
            # (a server answering one byte at a time would otherwise hold the thread for hours).
            watchdog = threading.Timer(2 * self.timeout, _shut, (connection.sock, fired))
            watchdog.daemon = True
            watchdog.start()
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            _read_some(response, MAX_RESPONSE)  # a bounded look at the answer; rest dropped
            status = response.status
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return True, _describe(exc)
        finally:
            if watchdog is not None:
                watchdog.cancel()
            connection.close()
        if fired.is_set():  # cut short: whatever was parsed is not a complete answer
            return True, "no complete answer within the timeout"
        if 200 <= status < 300:
            return False, None
        if 300 <= status < 400:
            return False, f"HTTP {status} redirect not followed; give the final URL"
        return status >= 500 or status == 429, f"HTTP {status}"


def _shut(sock, fired: threading.Event) -> None:
    """Wake a thread blocked on `sock` (close() alone does not interrupt a blocked recv)."""
    import socket

    fired.set()
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError):
        pass


def _read_some(response: http.client.HTTPResponse, limit: int) -> None:
    """Read at most `limit` bytes of the body, as they come (never waits for a full buffer)."""
    total = 0
    while total < limit:
        chunk = response.read1(min(16384, limit - total))
        if not chunk:
            return
        total += len(chunk)


def _describe(exc: BaseException) -> str:
    """A failure without the URL in it (exception texts may quote the request)."""
    if isinstance(exc, TimeoutError):
        return "no answer within the timeout"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, http.client.HTTPException):
        return f"not a valid HTTP answer ({type(exc).__name__})"
    return type(exc).__name__


def _umask() -> int:
    """The process' umask (read from /proc where there is one: setting it to read it back would
    race with threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class StopFile:
    """Creates `path` (atomically: written aside, then renamed) when a stop condition fires.

    Scripts poll for it (`while [ ! -e STOP ]; do sleep 10; done; kill $TRAINER`); its content
    is the alert's JSON, so they can read why and the best checkpoint. `check()` at start-up
    finds a path that cannot be written (a read-only folder, a path under a file) before it
    matters; `trigger` never raises (a failure is a warning and returns False).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def problem(self) -> str | None:
        """Why the stop file could not be written, or None (a probe file is made and removed)."""
        if self.path.is_dir():
            return "is a folder"
        folder = self.path.parent
        for parent in (folder, *folder.parents):
            if parent.exists():
                if not parent.is_dir():
                    return f"{parent} is a file, not a folder"
                break
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
            os.close(fd)
            os.unlink(tmp)
        except OSError as exc:
            return f"cannot write in {folder}: {exc.strerror or exc}"
        return None

    def check(self) -> None:
        """InputError (exit 3) if the stop file could not be written when the stop fires."""
        problem = self.problem()
        if problem is not None:
            raise InputError(f"--stop-file cannot be created: {problem}", self.path)

    def trigger(self, alert: Alert) -> bool:
        """Write the stop file; False (with a warning) if it could not be written."""
        tmp = None
        try:
            folder = self.path.parent
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
            # mkstemp makes it 0600: the stop file is a normal file (0644 under the usual umask),
            # readable by a trainer running as another user
            if hasattr(os, "fchmod"):  # (not on Windows before Python 3.13)
                os.fchmod(fd, 0o666 & ~_umask())
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(alert.to_dict()) + "\n")
            os.replace(tmp, self.path)
            return True
        except OSError as exc:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            why = self.problem() or exc.strerror or str(exc)
            warn(f"stop file {self.path} could not be written ({why}); "
                 f"stop the run by hand: {format_alert(alert)}")
            return False
