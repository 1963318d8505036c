"""Alert sinks: text/JSON lines, a webhook against real HTTP servers on 127.0.0.1, stop file."""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from phasewatch.alerts import JsonlSink, StopFile, TextSink, WebhookSink, format_alert
from phasewatch.online import Alert

ALERT = Alert("overfit", 1200, 1050, 1050, "eval/accuracy", 0.612, "level fell below the peak")


class Server:
    """An HTTP server on 127.0.0.1 whose handler answers with `statuses` in turn (then 200),
    optionally sleeping `delay` seconds first; it records the JSON bodies it received."""

    def __init__(self, statuses=(), delay=0.0):
        self.bodies: list[dict] = []
        self.requests = 0
        statuses = list(statuses)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                owner.requests += 1
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if delay:
                    time.sleep(delay)
                status = statuses.pop(0) if statuses else 200
                if status == 200:
                    owner.bodies.append(json.loads(body))
                try:
                    self.send_response(status)
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out first: what a slow real endpoint sees too

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # Handler threads are joined on close, so nothing they print lands in a later test.
        self.httpd.daemon_threads = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_text_and_jsonl_sinks():
    text, lines = io.StringIO(), io.StringIO()
    TextSink(text).emit(ALERT)
    JsonlSink(lines).emit(ALERT)
    assert text.getvalue() == (
        "step 1200  eval/accuracy=0.612  overfit  onset ~1050: level fell below the peak; "
        "best checkpoint 1050\n")
    assert json.loads(lines.getvalue()) == ALERT.to_dict()
    assert list(json.loads(lines.getvalue())) == [
        "event", "step", "onset_step", "best_step", "metric", "value", "message"]


def test_best_is_said_in_the_logs_unit_when_steps_are_epochs():
    """An HF console log without steps counts epoch x 10,000, a Keras log epochs: the best is
    an epoch, not a checkpoint's name (trial 30: 'best checkpoint 16.67')."""
    import dataclasses

    from phasewatch.live_sets import watched_alert_class

    for unit, said in [("epoch/10000", "best at epoch 16.67"), ("epoch", "best at epoch 7")]:
        best = 166_667 if unit == "epoch/10000" else 7
        fields = {**dataclasses.asdict(ALERT), "best_step": best}
        text = format_alert(watched_alert_class()(**fields, step_unit=unit))
        assert said in text and "best checkpoint" not in text, text
    assert "best checkpoint 1050" in format_alert(ALERT)


def test_webhook_posts_the_alert_as_json():
    with Server() as server:
        sink = WebhookSink(server.url, source="runs/a", timeout=2)
        sink.emit(ALERT)
        sink.close(wait=5)
    assert server.bodies == [{**ALERT.to_dict(), "text": format_alert(ALERT), "source": "runs/a"}]
    assert sink.sent == 1 and sink.failed == 0


def test_webhook_retries_server_errors_with_backoff():
    with Server(statuses=[500, 503]) as server:
        sink = WebhookSink(server.url, timeout=2, retries=3, backoff=0.01)
        sink.emit(ALERT)
        sink.close(wait=5)
    assert server.requests == 3 and len(server.bodies) == 1 and sink.sent == 1


def test_webhook_gives_up_after_bounded_retries_and_client_errors_are_not_retried(capsys):
    with Server(statuses=[500] * 10) as server:
        sink = WebhookSink(server.url, timeout=2, retries=2, backoff=0.01)
        sink.emit(ALERT)
        sink.close(wait=5)
    assert server.requests == 3 and sink.failed == 1 and sink.sent == 0
    assert "not delivered (HTTP 500)" in capsys.readouterr().err
    with Server(statuses=[404]) as server:
        sink = WebhookSink(server.url, timeout=2, retries=3, backoff=0.01)
        sink.emit(ALERT)
        sink.close(wait=5)
    assert server.requests == 1 and sink.failed == 1


def test_a_hanging_webhook_never_blocks_the_caller(capsys):
    with Server(delay=3.0) as server:
        sink = WebhookSink(server.url, timeout=0.2, retries=1, backoff=0.01)
        start = time.perf_counter()
        for step in range(5):
            sink.emit(Alert("plateau", step, 0, 0, f"m{step}", 0.5, "x"))
        emitted = time.perf_counter() - start
        sink.close(wait=0.3)
        closed = time.perf_counter() - start
    assert emitted < 0.5  # queued, not sent inline (5 alerts x 2 tries x 0.2 s = 2 s)
    assert closed < 1.0  # close() waits at most what it was given
    assert "gave up on unsent alerts" in capsys.readouterr().err


def test_unreachable_webhook_is_a_warning_not_a_crash(capsys):
    sink = WebhookSink("http://127.0.0.1:9/nothing-listens-here", timeout=0.5, retries=1,
                       backoff=0.01)
    sink.emit(ALERT)
    sink.close(wait=3)
    assert sink.failed == 1 and "not delivered" in capsys.readouterr().err


def test_repeats_are_rate_limited():
    now = [0.0]
    with Server() as server:
        sink = WebhookSink(server.url, repeat_interval=60, clock=lambda: now[0])
        sink.emit(ALERT)
        now[0] = 30.0
        sink.emit(ALERT)  # same event and metric within 60 s: dropped
        sink.emit(Alert("plateau", 1300, 1200, 1050, "eval/accuracy", 0.6, "x"))  # other event
        now[0] = 61.0
        sink.emit(ALERT)
        sink.close(wait=5)
    assert [b["event"] for b in server.bodies] == ["overfit", "plateau", "overfit"]
    assert sink.dropped == 1


def test_a_full_queue_drops_instead_of_growing(capsys):
    with Server(delay=1.0) as server:
        sink = WebhookSink(server.url, timeout=2, retries=0, max_queue=2, repeat_interval=0)
        for step in range(10):
            sink.emit(Alert("plateau", step, 0, 0, "m", 0.5, "x"))
        sink.close(wait=0.1)
    assert sink.dropped >= 6
    assert "queue full" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["ftp://example.org/x", "not a url", "http://"])
def test_bad_webhook_url_is_refused(url):
    with pytest.raises(ValueError, match="webhook URL"):
        WebhookSink(url)


def test_stop_file_is_created_atomically_with_the_alert(tmp_path):
    path = tmp_path / "deep" / "STOP"
    StopFile(path).trigger(ALERT)
    assert json.loads(path.read_text()) == ALERT.to_dict()
    assert [p.name for p in path.parent.iterdir()] == ["STOP"]


def test_watch_webhook_end_to_end(tmp_path, capsys):
    from phasewatch.cli import main

    rows = [{"step": i, "eval/accuracy": 0.5 + (0.2 if i >= 30 else 0.0) + 0.001 * (i % 3)}
            for i in range(60)]
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with Server() as server:
        code = main(["watch", str(run), "--webhook", server.url, "--format", "jsonl"])
    out = capsys.readouterr().out
    assert code == 0
    assert [b["event"] for b in server.bodies] == [json.loads(x)["event"]
                                                  for x in out.splitlines()[:-1]]  # - summary
    assert server.bodies and server.bodies[0]["event"] == "improvement"


def test_alerts_still_queued_when_close_gives_up_are_dropped_not_sent_later(capsys):
    """close(wait) that gives up drops what is still queued: the thread ends with the post it
    is making, and nothing reaches the endpoint afterwards (a callback closes the sink of a
    crashed run when the next run begins: none of its alerts may arrive during that run)."""
    with Server(delay=3.0) as server:
        sink = WebhookSink(server.url, timeout=0.2, retries=1, backoff=0.01)
        for step in range(5):
            sink.emit(Alert("plateau", step, 0, 0, f"m{step}", 0.5, "x"))
        sink.close(wait=0.3)
        time.sleep(1.5)  # without the drop, the other 4 alerts' tries arrive meanwhile
        requests = server.requests
    assert requests <= 2  # the first alert's two tries, nothing after
    assert sink.dropped == 4 and not sink._thread.is_alive()
    assert "gave up on unsent alerts (4 dropped)" in capsys.readouterr().err
