"""Alert sinks against endpoints that misbehave: real sockets on 127.0.0.1 answering garbage,
an endless body, a redirect, nothing at all, one byte at a time; secrets in webhook URLs;
stop files that cannot be written. A sink may fail to deliver, but never crashes, never blocks
the caller, never reads without bound and never prints a secret."""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time

import pytest

from phasewatch.alerts import StopFile, WebhookSink, redact_url
from phasewatch.online import Alert

ALERT = Alert("overfit", 1200, 1050, 1050, "eval/accuracy", 0.612, "level fell below the peak")
OTHER = Alert("plateau", 1300, 1200, 1050, "eval/accuracy", 0.6, "flat")


class RawServer:
    """A TCP server on 127.0.0.1 whose `answer(conn)` plays the endpoint, one thread per
    connection; it counts connections and the bytes it managed to send."""

    def __init__(self, answer):
        self.answer = answer
        self.connections = 0
        self.sent = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            conn.settimeout(5)
            _read_request(conn)
            self.answer(self, conn)
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join(timeout=2)
        self.sock.close()


def _read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length")), 0)
    while len(body) < length:
        body += conn.recv(4096)
    return head + b"\r\n\r\n" + body


def garbage(server, conn):
    conn.sendall(b"this is not HTTP at all\r\n\r\n")


def endless_body(server, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
    block = b"x" * 65536
    while not server.done.is_set():
        conn.sendall(block)
        server.sent += len(block)


def hang(server, conn):
    server.done.wait(10)


def drip(server, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while not server.done.is_set():
        conn.sendall(b"X-Slow: y\r\n")
        time.sleep(0.05)


def redirect_to(location):
    def answer(server, conn):
        conn.sendall(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\n"
                     "Content-Length: 0\r\n\r\n".encode())
    return answer


def ok(server, conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def test_a_server_answering_garbage_does_not_end_the_webhook_thread(capsys):
    with RawServer(garbage) as server:
        sink = WebhookSink(server.url, timeout=1, retries=1, backoff=0.01)
        sink.emit(ALERT)
        sink.emit(OTHER)  # sent after the first failure: the thread must still be there
        sink.close(wait=5)
    assert server.connections == 4  # two alerts, two tries each
    assert sink.failed == 2 and sink.sent == 0
    err = capsys.readouterr().err
    assert "not a valid HTTP answer" in err and "Traceback" not in err


def test_an_endless_body_is_read_only_up_to_a_small_limit():
    with RawServer(endless_body) as server:
        sink = WebhookSink(server.url, timeout=2, retries=0)
        start = time.perf_counter()
        sink.emit(ALERT)
        sink.close(wait=10)
        elapsed = time.perf_counter() - start
    assert sink.sent == 1
    assert elapsed < 5
    assert server.sent < 32 * 1024 * 1024  # the socket was closed after 64 KB: not gigabytes


def test_a_server_that_never_answers_costs_the_timeout_not_the_caller():
    with RawServer(hang) as server:
        sink = WebhookSink(server.url, timeout=0.3, retries=1, backoff=0.01)
        start = time.perf_counter()
        sink.emit(ALERT)
        assert time.perf_counter() - start < 0.3  # sent inline it would take 2 x 0.3 s
        sink.close(wait=5)
        elapsed = time.perf_counter() - start
    assert sink.failed == 1 and elapsed < 3


def test_a_server_answering_one_header_at_a_time_is_cut_by_the_watchdog():
    with RawServer(drip) as server:
        sink = WebhookSink(server.url, timeout=0.5, retries=0)
        start = time.perf_counter()
        sink.emit(ALERT)
        sink.close(wait=10)
        elapsed = time.perf_counter() - start
    assert sink.failed == 1 and sink.sent == 0
    assert elapsed < 4  # each header arrives within the socket timeout; the total is bounded


@pytest.mark.parametrize("where", ["other-host", "ftp"])
def test_redirects_are_not_followed_and_not_counted_as_delivered(where, capsys):
    with RawServer(ok) as target:
        location = (f"http://localhost:{target.port}/elsewhere" if where == "other-host"
                    else "ftp://127.0.0.1/x")
        with RawServer(redirect_to(location)) as server:
            sink = WebhookSink(server.url, timeout=1, retries=2, backoff=0.01)
            sink.emit(ALERT)
            sink.close(wait=5)
    assert server.connections == 1  # a redirect is not retried either
    assert target.connections == 0
    assert sink.sent == 0 and sink.failed == 1
    assert "redirect not followed" in capsys.readouterr().err


def test_secrets_in_the_url_never_appear_in_messages(capsys):
    secret_url = ("http://user:hunter2@127.0.0.1:9/services/T000/B000/SECRETTOKEN"
                  "?token=SECRETQUERY")
    sink = WebhookSink(secret_url, timeout=0.5, retries=0)
    sink.emit(ALERT)
    sink.close(wait=0.0)  # gives up at once: the give-up warning names the URL too
    time.sleep(1.0)
    err = capsys.readouterr().err
    assert "127.0.0.1:9" in err
    for secret in ("hunter2", "SECRETTOKEN", "SECRETQUERY", "user:"):
        assert secret not in err
    assert redact_url(secret_url) == "http://127.0.0.1:9/services/..."
    with pytest.raises(ValueError) as info:
        WebhookSink("http://h.example/hooks/SECRET TOKEN")
    assert "SECRET" not in str(info.value)


def test_the_secret_is_still_sent_where_it_belongs():
    """Redaction is for messages only: the request keeps its path, query and credentials."""
    seen = []

    with RawServer(ok) as server:
        def handle(conn):  # this endpoint also keeps the raw request
            conn.settimeout(5)
            seen.append(_read_request(conn))
            ok(server, conn)
            conn.close()

        server._handle = handle
        url = f"http://me:pw@127.0.0.1:{server.port}/services/T0/SECRET?token=abc"
        sink = WebhookSink(url, timeout=2, retries=0)
        sink.emit(ALERT)
        sink.close(wait=5)
    assert sink.sent == 1
    assert seen[0].startswith(b"POST /services/T0/SECRET?token=abc HTTP/1.1")
    assert b"Authorization: Basic bWU6cHc=" in seen[0]


def test_stop_file_under_a_file_is_found_at_start_up(tmp_path):
    (tmp_path / "afile").write_text("x")
    stop = StopFile(tmp_path / "afile" / "STOP")
    assert "is a file" in stop.problem()
    with pytest.raises(Exception, match="--stop-file cannot be created"):
        stop.check()
    assert StopFile(tmp_path).problem() == "is a folder"
    assert StopFile(tmp_path / "new" / "STOP").problem() is None


def test_stop_file_trigger_failure_is_a_warning_not_an_exception(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert StopFile(tmp_path / "afile" / "STOP").trigger(ALERT) is False
    assert "could not be written" in capsys.readouterr().err


def test_watch_with_an_unwritable_stop_file_is_exit_3_before_watching(tmp_path, capsys):
    from phasewatch.cli import main

    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps({"step": i, "eval/accuracy": 0.5}) + "\n"
                           for i in range(5)))
    (tmp_path / "afile").write_text("x")
    code = main(["watch", str(log), "--stop-file", str(tmp_path / "afile" / "STOP")])
    captured = capsys.readouterr()
    assert code == 3
    assert "--stop-file cannot be created" in captured.err and captured.out == ""


def test_callback_host_with_an_unwritable_stop_file_warns_and_training_goes_on(tmp_path,
                                                                             caplog, capsys):
    from phasewatch.callbacks._common import MonitorHost

    (tmp_path / "afile").write_text("x")
    with caplog.at_level(logging.WARNING, logger="phasewatch"):
        host = MonitorHost("acc", "max", ("overfit",), None, str(tmp_path / "afile" / "STOP"),
                           None)
    assert any("cannot be created" in r.getMessage() for r in caplog.records)
    for i in range(200):  # rises, peaks, falls: the overfit stop fires
        host.observe(i * 10, {"acc": 0.5 + 0.3 * math.sin(math.pi * i / 125)
                              + 0.002 * ((i * 7) % 5)})
        if host.monitor.should_stop:
            break
    assert host.monitor.should_stop
    assert "could not be written" in capsys.readouterr().err


def test_hf_callback_with_an_unwritable_stop_file_warns_instead_of_raising(tmp_path, caplog):
    pytest.importorskip("transformers")
    from phasewatch.callbacks.hf import PhasewatchCallback

    (tmp_path / "afile").write_text("x")
    with caplog.at_level(logging.WARNING, logger="phasewatch"):
        callback = PhasewatchCallback(stop_file=str(tmp_path / "afile" / "STOP"))
    assert callback.host.stop_file is not None
    assert any("cannot be created" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/ho ok?token=SECRET", "http://127.0.0.1:9/\nhook?token=SECRET",
                                 "http://127.0.0.1:port/hook?token=SECRET", "ftp://127.0.0.1/hook?token=SECRET"])
def test_a_webhook_url_that_cannot_be_sent_is_refused_at_start_without_its_secret(url):
    """A URL with a space or a control character made http.client raise in the thread (every
    later alert lost); it is refused when the sink is made, and the message hides the query."""
    with pytest.raises(ValueError, match="webhook URL") as info:
        WebhookSink(url, timeout=0.5, retries=0)
    assert "SECRET" not in str(info.value)


def test_watch_with_a_webhook_url_holding_a_space_is_a_usage_error(tmp_path, capsys):
    from phasewatch.cli import main

    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps({"step": i, "eval/accuracy": 0.5}) + "\n" for i in range(5)))
    code = main(["watch", str(log), "--webhook", "http://127.0.0.1:9/a b?token=SECRET"])
    captured = capsys.readouterr()
    assert code == 2
    assert "must not contain spaces" in captured.err and "SECRET" not in captured.err
    assert "Traceback" not in captured.err
