"""Where alerts go: stdout (text or JSON lines), a webhook, a stop file.

Every sink has `emit(alert)` and `close()`; `StopFile.trigger(alert)` is called once, when a
stop condition fires. Sinks never raise into the training loop: the webhook posts from a
background thread with a bounded queue, a timeout and bounded retries, and only logs failures.
"""

from __future__ import annotations

import json
import os
import queue
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TextIO
from urllib.parse import urlparse

from phasewatch.online import Alert
from phasewatch.output import emit_jsonl, warn


def format_alert(alert: Alert) -> str:
    """One readable line: 'step 1200  overfit  onset ~1050  best 1050  eval/accuracy=0.612: why'."""
    parts = [f"step {alert.step}", alert.event]
    if alert.onset_step is not None:
        parts.append(f"onset ~{alert.onset_step}")
    if alert.best_step is not None:
        parts.append(f"best checkpoint {alert.best_step}")
    value = "n/a" if alert.value is None else f"{alert.value:.4g}"
    return "  ".join(parts) + f"  {alert.metric}={value}: {alert.message}"


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


class WebhookSink:
    """POST each alert as JSON to `url` from a background thread.

    The body is the alert's JSON object plus `"text"` (the readable line, which Slack/Mattermost
    style incoming webhooks display) and `"source"`. Each post has `timeout` seconds; a failure
    (connection error, 5xx, 429) is retried up to `retries` times with exponential backoff from
    `backoff` seconds; 4xx other than 429 is not retried. The same (event, metric) is not sent
    again within `repeat_interval` seconds (rate-limited repeats). The queue holds at most
    `max_queue` alerts; beyond that new alerts are dropped with a warning, so a dead endpoint can
    never grow memory or block the caller. `close(wait)` waits at most `wait` seconds.
    """

    def __init__(self, url: str, source: str = "", timeout: float = 5.0, retries: int = 3,
                 backoff: float = 0.5, repeat_interval: float = 60.0, max_queue: int = 100,
                 clock=time.monotonic):
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"webhook URL must be http(s)://host/..., got {url!r}")
        self.url, self.source = url, source
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
        """Let queued alerts go out for at most `wait` seconds (default: one full try)."""
        if wait is None:
            wait = self.timeout * (self.retries + 1) + self.backoff * 2 ** self.retries
        self._closing.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass  # the worker also stops when it finds the queue empty while closing
        self._thread.join(timeout=wait)
        if self._thread.is_alive() or not self._queue.empty():
            warn(f"webhook {self.url}: gave up on unsent alerts at exit")

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
            self._post(alert)

    def _post(self, alert: Alert) -> None:
        body = json.dumps({**alert.to_dict(), "text": format_alert(alert),
                           "source": self.source}).encode("utf-8")
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(
                self.url, data=body, method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "phasewatch"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    response.read()
                self.sent += 1
                return
            except urllib.error.HTTPError as exc:
                retry = exc.code >= 500 or exc.code == 429
                reason = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError, ValueError) as exc:
                retry = True
                reason = str(getattr(exc, "reason", exc))
            if not retry or attempt == self.retries:
                self.failed += 1
                warn(f"webhook {self.url}: alert at step {alert.step} not delivered ({reason})")
                return
            # Backoff; while closing, retry at once (close() bounds the total wait).
            self._closing.wait(self.backoff * 2**attempt)


class StopFile:
    """Creates `path` (atomically: written aside, then renamed) when a stop condition fires.

    Scripts poll for it (`while [ ! -e STOP ]; do sleep 10; done; kill $TRAINER`); its content
    is the alert's JSON, so they can read why and the best checkpoint.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def trigger(self, alert: Alert) -> None:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(alert.to_dict()) + "\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
