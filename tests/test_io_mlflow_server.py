"""A real `mlflow server --backend-store-uri sqlite:///...` on 127.0.0.1, read over REST (slow:
the server takes 20-40 s to start on 2 busy cores): the same run as the SQLite reading, history
paging, errors naming the address, a follow while the client logs and across a restart; and a
follow waiting for a server that does not answer."""

from __future__ import annotations

import http.server
import json
import math
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow_runs import ENV, cli, log_runs

from phasewatch.errors import InputError
from phasewatch.io import read_run

pytest.importorskip("mlflow", reason="mlflow is not installed (it is in the dev extra)")

# ---------------------------------------------------------------- tracking server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(folder: Path, port: int) -> subprocess.Popen:
    """A real `mlflow server` on 127.0.0.1:`port` over `folder/mlflow.db`, once it answers
    (the test is skipped, with the server's log, if it does not start)."""
    with open(folder / "server.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
             f"sqlite:///{folder / 'mlflow.db'}", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1", "--default-artifact-root", str(folder / "artifacts")],
            env=ENV, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop_server(process)
                pytest.skip("mlflow server did not start: "
                            + (folder / "server.log").read_text(errors="replace")[-500:])
            time.sleep(0.5)


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real `mlflow server` on a free local port with the runs logged through it."""
    folder = tmp_path_factory.mktemp("mlflow_server")
    port = free_port()
    process = start_server(folder, port)
    try:
        url = f"http://127.0.0.1:{port}"
        yield url, log_runs(url)
    finally:
        stop_server(process)


@pytest.mark.slow
def test_server_run_read_over_rest_equals_the_sqlite_reading(server, store, capsys):
    url, ids = server
    run = read_run(f"mlflow+{url}/{ids['sft']}")
    assert run.format == "mlflow_server" and run.name == "sft"
    assert run.config == {"lr": "0.001", "epochs": "3"}
    local = read_run(store[0] / "sft")
    assert run.series("eval/accuracy").to_dict() == local.series("eval/accuracy").to_dict()
    table = run.table[run.table["metric"] == "train/loss"].set_index("step")["value"]
    assert math.isnan(table[6]) and table[7] == math.inf
    code, out, _ = cli(capsys, "inspect", "--tracking-uri", url, ids["rl"], "--format", "json")
    assert code == 0 and "eval/mean_at_4" in json.loads(out)["metrics"]


@pytest.mark.slow
def test_server_history_paging(server, monkeypatch):
    from phasewatch.io import mlflow_rest

    url, ids = server
    whole = read_run(f"mlflow+{url}/{ids['sft']}").series("eval/accuracy").to_dict()
    monkeypatch.setattr(mlflow_rest, "PAGE_SIZE", 2)
    pages = []
    call = mlflow_rest.Client.call

    def counted(self, endpoint, params=None, body=None):
        if endpoint == "metrics/get-history" and params["metric_key"] == "eval/accuracy":
            pages.append(params.get("page_token"))
        return call(self, endpoint, params, body)

    monkeypatch.setattr(mlflow_rest.Client, "call", counted)
    assert read_run(f"mlflow+{url}/{ids['sft']}").series("eval/accuracy").to_dict() == whole
    assert len(pages) >= 4 and pages[0] is None and all(pages[1:])  # 7 points, 2 a page


@pytest.mark.slow
def test_server_errors_are_exit_3_naming_the_address(server, capsys):
    url, ids = server
    code, _, err = cli(capsys, "inspect", f"mlflow+{url}/no-such-run")
    assert code == 3 and "no run no-such-run" in err and ids["sft"] in err
    code, _, err = cli(capsys, "inspect", f"mlflow+{url}")
    assert code == 3 and "pass one run" in err and ids["rl"] in err
    code, _, err = cli(capsys, "inspect", f"mlflow+http://127.0.0.1:{free_port()}/abc")
    assert code == 3 and "cannot reach the MLflow tracking server" in err
    with pytest.raises(InputError):
        read_run(f"mlflow+{url}/no-such-run")


@pytest.mark.slow
def test_server_run_followed_while_the_client_logs(server, tmp_path):
    from watch_follower import Follower, eval_curve, let_writer_finish, replay

    url, _ = server
    script = textwrap.dedent(
        """
        import json, sys, time, mlflow
        mlflow.set_tracking_uri(sys.argv[1])
        run = mlflow.start_run(run_name="live")
        print(run.info.run_id, flush=True)
        sys.stdin.readline()
        for i, (step, acc) in enumerate(json.loads(sys.argv[2])):
            mlflow.log_metric("eval/accuracy", acc, step=step)
            if i % 50 == 0:
                time.sleep(0.05)
        mlflow.end_run()
        """
    )
    writer = subprocess.Popen([sys.executable, "-c", script, url, json.dumps(eval_curve())],
                              env=ENV, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    run_id = writer.stdout.readline().strip()
    follower = Follower(f"mlflow+{url}/{run_id}", stop_on=())
    let_writer_finish(writer)
    followed = follower.ends_by_itself(timeout=60)
    replayed, result = replay(f"mlflow+{url}/{run_id}", stop_on=())
    assert len(replayed) >= 2 and followed == replayed and result.finished


@pytest.mark.slow
def test_server_follow_reads_a_row_logged_between_its_requests_once(server, monkeypatch,
                                                                     capsys):
    """A row logged after the follower's `runs/get` and before its histories (an HF evaluation:
    `eval_loss` and `epoch`, after a train row with `epoch` at the same step) is read whole at
    the next read, not as a part now (`epoch`, whose history was fetched for the train row)
    and the rest later: a follow reads the records a replay reads, so both count the same
    (trial 32: 105 against 103 records). The watch names the address as given (not the
    `mlflow+http:/` a Path makes of it)."""
    from phasewatch.io import mlflow_rest

    url, _ = server

    def post(endpoint, body):
        request = urllib.request.Request(f"{url}/api/2.0/mlflow/{endpoint}",
                                         data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    run_id = post("runs/create", {"experiment_id": "0", "run_name": "split",
                                  "start_time": 1000})["run"]["info"]["run_id"]

    def log(timestamp, step, **values):
        post("runs/log-batch", {"run_id": run_id, "metrics": [
            {"key": k, "value": v, "timestamp": timestamp, "step": step}
            for k, v in values.items()]})

    log(1000, 30, loss=1.0, epoch=0.5)
    address = f"mlflow+{url}/{run_id}"
    source = mlflow_rest.Source(address, follow=True)
    history = source.client.history
    meanwhile = [lambda: log(2000, 30, eval_loss=0.7, epoch=0.5)]

    def logged_meanwhile(run, key):  # the trainer logs between runs/get and the histories
        while meanwhile:
            meanwhile.pop()()
        return history(run, key)

    monkeypatch.setattr(source.client, "history", logged_meanwhile)
    followed = [*source.read(final=False), *source.read(final=False), *source.read(final=True)]
    replayed = list(mlflow_rest.Source(address).read(final=True))

    def rows(records):
        return [(r.step, dict(r.values)) for r in records]

    assert rows(replayed) == [(30, {"loss": 1.0, "epoch": 0.5}),
                              (30, {"eval_loss": 0.7, "epoch": 0.5})]
    assert rows(followed) == rows(replayed)
    for step, loss in [(60, 0.8), (90, 0.9)]:
        log(1000 + step * 100, step, eval_loss=loss, epoch=step / 60)
    code, _, err = cli(capsys, "watch", address, "--follow", "--idle-exit", "1")
    assert code == 0 and f"following {address} (caught up after 4 records" in err
    assert "mlflow+http:/1" not in err and "watched 4 records" in err


# ---------------------------------------------------------------- a server that is away
class Gateway(http.server.BaseHTTPRequestHandler):
    """What a proxy answers while the MLflow server behind it restarts: 503, counted."""

    requests = 0

    def do_GET(self):
        type(self).requests += 1
        self.send_error(503, "Service Unavailable")

    def log_message(self, *args):
        pass


def test_follow_waits_for_a_server_that_does_not_answer(capsys):
    """Not up yet (connection refused) or behind a proxy answering 503: said once, tried again
    after a growing pause (not on every 10 ms poll), --idle-exit ends the wait; no
    traceback. Nothing was read, so it is exit 3, as a one-off read of the same address."""
    code, _, err = cli(capsys, "watch", "--follow", f"mlflow+http://127.0.0.1:{free_port()}/abc",
                       "--idle-exit", "1.5")
    assert code == 3 and err.count("cannot reach the MLflow tracking server") == 2  # + the error
    assert "no record was read from mlflow+http://127.0.0.1:" in err
    assert "waiting for it" in err and "Traceback" not in err
    code, _, err = cli(capsys, "watch", f"mlflow+http://127.0.0.1:{free_port()}/abc")
    assert code == 3 and "cannot reach" in err
    from watch_follower import Follower

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        follower = Follower(f"mlflow+http://127.0.0.1:{proxy.server_port}/abc", stop_on=(),
                            idle_exit=4)
        assert follower.ends_by_itself(timeout=30, raises=InputError) == []
        assert "no record was read from mlflow+http://127.0.0.1:" in str(follower.error)
        assert time.monotonic() - started >= 4
        assert follower.watch.result.reason == "idle"
        assert sum("answered 503" in m for m in follower.messages) == 1
        assert 3 <= Gateway.requests <= 8  # 0.5, 1, 2, ... s apart: about 4 in 4 s, not 400
    finally:
        proxy.shutdown()
        proxy.server_close()


@pytest.mark.slow
def test_server_followed_before_it_starts_and_across_a_restart(tmp_path):
    """The run exists in the store; the follower starts before the server, which then goes
    down halfway through the run and comes back: the alerts equal a replay of the end state."""
    from watch_follower import Follower, eval_curve, replay

    db = tmp_path / "mlflow.db"
    create = ("import sys; from mlflow.tracking import MlflowClient; "  # a run left RUNNING
              "print(MlflowClient(sys.argv[1]).create_run('0', run_name='live').info.run_id)")
    run_id = subprocess.run([sys.executable, "-c", create, f"sqlite:///{db}"], env=ENV,
                            check=True, capture_output=True, text=True,
                            timeout=300).stdout.split()[-1]
    port = free_port()
    address = f"mlflow+http://127.0.0.1:{port}/{run_id}"
    follower = Follower(address, stop_on=())
    follower.wait_for_message("cannot reach the MLflow tracking server")
    script = textwrap.dedent(
        """
        import json, sys, time
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient
        client = MlflowClient(sys.argv[1])
        curve = json.loads(sys.argv[3])
        half = len(curve) // 2
        now = int(time.time() * 1000)
        for part in (curve[:half], curve[half:]):
            sys.stdin.readline()
            for i in range(0, len(part), 10):  # ten evaluations a request, as a trainer flushes
                client.log_batch(sys.argv[2], metrics=[
                    Metric("eval/accuracy", acc, now + step, step) for step, acc in part[i:i + 10]])
                time.sleep(0.05)
            print("logged", flush=True)
        client.set_terminated(sys.argv[2])
        """
    )
    server = start_server(tmp_path, port)
    writer = subprocess.Popen([sys.executable, "-c", script, f"http://127.0.0.1:{port}", run_id,
                               json.dumps(eval_curve())], env=ENV, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        writer.stdin.write("go\n")
        writer.stdin.flush()
        assert writer.stdout.readline().strip() == "logged"
        time.sleep(1.0)
        stop_server(server)
        follower.wait_for_message("trying again", timeout=60)
        server = start_server(tmp_path, port)
        writer.stdin.write("go\n")
        writer.stdin.close()
        assert writer.wait(300) == 0
        followed = follower.ends_by_itself(timeout=60)
        assert any("answers again" in m for m in follower.messages)
        replayed, result = replay(address, stop_on=())
        assert len(replayed) >= 2 and followed == replayed and result.finished
    finally:
        writer.kill()
        stop_server(server)
