"""MLflow's SQLite store and tracking server, written by the real mlflow client.

The SQLite tests (default suite) read a database the client wrote in a subprocess; the server
tests (slow: `mlflow server` takes 20-40 s to start on 2 busy cores) start a real
`mlflow server --backend-store-uri sqlite:///...` on 127.0.0.1 and read it over REST."""

from __future__ import annotations

import http.server
import json
import math
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import read_run

pytest.importorskip("mlflow", reason="mlflow is not installed (it is in the dev extra)")

ENV = {**os.environ, "MLFLOW_ENABLE_ASYNC_LOGGING": "false", "GIT_PYTHON_REFRESH": "quiet",
       "MLFLOW_TRACKING_URI": ""}

WRITER = textwrap.dedent(
    """
    import json, sys, mlflow
    from mlflow.tracking import MlflowClient
    mlflow.set_tracking_uri(sys.argv[1])
    ids = {}
    with mlflow.start_run(run_name="sft") as run:
        mlflow.log_params({"lr": 0.001, "epochs": 3})
        for step in range(6):
            mlflow.log_metrics({"eval/accuracy": step / 10, "train/loss": 2.0 - step / 5},
                               step=step)
        mlflow.log_metric("train/loss", float("nan"), step=6)
        mlflow.log_metric("train/loss", float("inf"), step=7)
        mlflow.log_metric("eval/accuracy", 0.9, step=3)  # a resumed run re-logs step 3
        ids["sft"] = run.info.run_id
    with mlflow.start_run(run_name="rl") as run:
        mlflow.log_metric("eval/mean_at_4", 0.5, step=0)
        ids["rl"] = run.info.run_id
    for role in ("explorer", "trainer"):  # Trinity-RFT's MlflowMonitor: `@` logged as `_at_`
        with mlflow.start_run(run_name=f"job_{role}", tags={"role": role}):
            for step in range(1, 11):
                if role == "explorer":
                    mlflow.log_metrics({"eval/gsm8k/accuracy/mean_at_4": step / 20,
                                        "rollout/accuracy/mean": step / 30}, step=step)
                else:
                    mlflow.log_metrics({"actor/mu": 1 - step / 10, "actor/loss": 1 / step},
                                       step=step - 1)
    with mlflow.start_run(run_name="gone") as run:
        mlflow.log_metric("x", 1.0, step=0)
    MlflowClient().delete_run(run.info.run_id)
    print(json.dumps(ids))
    """
)


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def log_runs(tracking_uri: str) -> dict[str, str]:
    done = subprocess.run([sys.executable, "-c", WRITER, tracking_uri], env=ENV, check=True,
                          capture_output=True, text=True, timeout=300)
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """(mlflow.db written by the client, {run name: run id})."""
    db = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    return db, log_runs(f"sqlite:///{db}")


def test_several_runs_are_listed_deleted_ones_left_out(store, capsys):
    """A store of several runs is its runs, by name (Trinity's explorer/trainer pair as one
    run `job`); reading one run of it still asks which (the error lists them)."""
    db, ids = store
    code, out, _ = cli(capsys, "inspect", str(db), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["format"] == "folder of runs" and doc["failed"] == []
    assert [r["source"] for r in doc["runs"]] == [f"{db}/sft", f"{db}/rl", f"{db}/job"]
    assert [r["format"] for r in doc["runs"]] == ["mlflow_sqlite", "mlflow_sqlite",
                                                  "trinity_mlflow"]
    code, out, _ = cli(capsys, "inspect", str(db))
    assert code == 0 and f"{db}  [store of 3 runs]" in out and "gone" not in out
    with pytest.raises(InputError, match="holds 4 runs") as caught:
        read_run(db)
    assert ids["sft"] in str(caught.value) and f"{db}/RUN" in str(caught.value)


def test_analyze_plot_and_sweep_take_each_run_of_a_store(store, tmp_path, capsys):
    """One block per run; `rl` (one point) is reported on stderr naming it and the others
    still run: exit 4. A same-named run gets its id (names must pick one run)."""
    db, ids = store
    code, out, err = cli(capsys, "analyze", str(db), "--metric", "eval/accuracy")
    assert code == 4
    assert f"{db}/sft  metric eval/accuracy" in out
    assert f"{db}/job  metric eval/gsm8k/accuracy/mean_at_4" in out  # the explorer's held-out
    assert f"{db}/rl" in err and "Traceback" not in err
    code, _, err = cli(capsys, "plot", str(db), "--metric", "eval/accuracy",
                       "-o", str(tmp_path / "store.png"))
    assert code == 4 and (tmp_path / "store.png").stat().st_size > 0 and f"{db}/rl" in err
    code, _, _ = cli(capsys, "sweep", str(db), "--metric", "eval/accuracy", "--workers", "1",
                     "-o", str(tmp_path / "sweep.csv"))
    rows = (tmp_path / "sweep.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == [f"{db}/sft", f"{db}/rl", f"{db}/job"]
    twin = tmp_path / "twin.db"
    shutil.copy(db, twin)
    with sqlite3.connect(twin) as conn:
        conn.execute("UPDATE runs SET name = 'sft' WHERE run_uuid = ?", (ids["rl"],))
    from phasewatch.folders import expand

    assert expand([str(twin)]) == [f"{twin}/{ids['sft']}", f"{twin}/{ids['rl']}",
                                   f"{twin}/job"]
    assert read_run(f"{twin}/{ids['rl']}").metrics == ["eval/mean_at_4"]


FILE_STORE_WRITER = textwrap.dedent(
    """
    import sys, mlflow
    from mlflow.tracking import MlflowClient
    mlflow.set_tracking_uri(sys.argv[1])
    for experiment in ("grpo", "sft"):
        mlflow.set_experiment(experiment)
        for seed in range(2):
            with mlflow.start_run(run_name=f"{experiment}-{seed}") as run:
                for step in range(5):
                    mlflow.log_metric("eval/accuracy", step / 10 + seed, step=step)
    MlflowClient().delete_run(run.info.run_id)
    """
)


def test_a_file_store_of_several_experiments_is_each_run(tmp_path, capsys):
    """`mlruns/` written by the client (file store, allowed by MLFLOW_ALLOW_FILE_STORE):
    each active run of each experiment, the deleted one left out but readable when named."""
    store = tmp_path / "mlruns"
    subprocess.run([sys.executable, "-c", FILE_STORE_WRITER, store.as_uri()], check=True,
                   env={**ENV, "MLFLOW_ALLOW_FILE_STORE": "true"}, capture_output=True,
                   timeout=300)
    code, out, _ = cli(capsys, "inspect", str(store), "--format", "json")
    doc = json.loads(out)
    assert code == 0 and len(doc["runs"]) == 3
    names = sorted(read_run(r["source"]).name for r in doc["runs"])
    assert names == ["grpo-0", "grpo-1", "sft-0"]
    deleted = [p.parent for p in store.glob("*/*/meta.yaml") if "deleted" in p.read_text()]
    assert len(deleted) == 1 and read_run(deleted[0]).name == "sft-1"
    code, out, _ = cli(capsys, "analyze", str(store), "--metric", "eval/accuracy",
                       "--format", "json")
    assert code == 0 and len(json.loads(out)["runs"]) == 3


def test_a_run_by_name_id_and_id_prefix(store):
    db, ids = store
    for member in ("sft", ids["sft"], ids["sft"][:8]):
        run = read_run(db / member)
        assert run.format == "mlflow_sqlite" and run.name == "sft"
        assert run.config == {"lr": "0.001", "epochs": "3"}
        accuracy = run.series("eval/accuracy").to_dict()
        assert accuracy == {0: 0.0, 1: 0.1, 2: 0.2, 3: 0.9, 4: 0.4, 5: 0.5}  # re-log wins
    table = run.table[run.table["metric"] == "train/loss"].set_index("step")["value"]
    assert math.isnan(table[6]) and table[7] == math.inf  # is_nan=1 and MLflow's DBL_MAX


def test_trinity_explorer_and_trainer_runs_read_as_one(store, tmp_path):
    db, ids = store
    run = read_run(db / "job")
    assert run.format == "trinity_mlflow" and run.name == "job"
    assert run.aliases["eval/accuracy"] == "eval/gsm8k/accuracy/mean_at_4"
    assert run.aliases["train/mu"] == "actor/mu" and len(run.series("actor/mu")) == 10
    assert not run.events  # the trainer's steps lag: a counter per role, no resume
    assert read_run(db / "job_trainer").format == "mlflow_sqlite"  # one run alone
    only_pair = tmp_path / "mlflow.db"  # a store holding only the pair: read as one run
    shutil.copy(db, only_pair)
    with sqlite3.connect(only_pair) as conn:
        conn.execute("UPDATE runs SET lifecycle_stage = 'deleted' WHERE run_uuid IN (?, ?)",
                     (ids["sft"], ids["rl"]))
    assert read_run(only_pair).format == "trinity_mlflow"


def test_tracking_uri_names_the_run(store, capsys):
    db, _ = store
    code, out, _ = cli(capsys, "inspect", "--tracking-uri", f"sqlite:///{db}", "rl",
                       "--format", "json")
    assert code == 0 and "eval/mean_at_4" in json.loads(out)["metrics"]
    code, _, err = cli(capsys, "inspect", "--tracking-uri", f"sqlite:///{db}", "nope")
    assert code == 3 and "no run 'nope'" in err and "sft" in err


def test_a_bad_row_is_reported_by_rowid_and_the_rest_read(store, tmp_path):
    db, ids = store
    copy = tmp_path / "mlflow.db"
    shutil.copy(db, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                     "VALUES ('eval/accuracy', 'oops', 99999999999999, ?, 9, 0)", (ids["sft"],))
        rowid = conn.execute("SELECT max(rowid) FROM metrics").fetchone()[0]
    run = read_run(copy / "sft")
    assert 9 not in run.series("eval/accuracy").index and len(run.series("eval/accuracy")) == 6
    assert any("table metrics" in w and f"rowid {rowid}" in w for w in run.warnings)


def test_damaged_and_foreign_databases_are_exit_3(store, tmp_path, capsys):
    db, _ = store
    cut = tmp_path / "cut.db"
    cut.write_bytes(db.read_bytes()[:2000])
    code, _, err = cli(capsys, "inspect", str(cut))
    assert code == 3 and str(cut) in err
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (a)")
    code, _, err = cli(capsys, "inspect", str(other))
    assert code == 3 and str(other) in err and "Traceback" not in err


def test_the_store_is_opened_read_only(store):
    """Reading leaves the file as it was (no journal, no write)."""
    db, _ = store
    before = (db.stat().st_mtime_ns, db.read_bytes())
    read_run(db / "sft")
    assert (db.stat().st_mtime_ns, db.read_bytes()) == before
    assert not Path(f"{db}-journal").exists()


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
    from watch_follower import Follower, eval_curve, replay

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
    writer.stdin.write("go\n")
    writer.stdin.close()
    assert writer.wait(300) == 0
    followed = follower.ends_by_itself(timeout=60)
    replayed, result = replay(f"mlflow+{url}/{run_id}", stop_on=())
    assert len(replayed) >= 2 and followed == replayed and result.finished


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
    traceback. A one-off read of the same address is exit 3."""
    code, _, err = cli(capsys, "watch", "--follow", f"mlflow+http://127.0.0.1:{free_port()}/abc",
                       "--idle-exit", "1.5")
    assert code == 0 and err.count("cannot reach the MLflow tracking server") == 1
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
        assert follower.ends_by_itself(timeout=30) == []
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
