"""`watch --follow` on the experiment trackers' stores (W&B offline runs, MLflow's SQLite and
file stores, Trackio projects), each written by the tracker's real client in a subprocess while
the watch runs: the alerts equal a replay of the final store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from watch_follower import Follower, assert_same, eval_curve, let_writer_finish, replay

# ------------------------------------------------------------------ W&B offline
WANDB_WRITER = """
import sys, time, json, wandb
run = wandb.init(mode="offline", dir=sys.argv[1], project="p", name="live", id="livefollow",
                 settings=wandb.Settings(console="off"))
run.define_metric("train/global_step")
run.define_metric("*", step_metric="train/global_step", step_sync=True)
for i, (step, acc) in enumerate(json.loads(sys.argv[2])):
    run.log({"train/global_step": step, "eval/accuracy": acc, "train/loss": 1.0 / (i + 1)})
    if i % 50 == 0:
        time.sleep(0.05)
run.finish()
"""


def _write_wandb_run(folder, follower: Follower | None = None) -> None:
    """WANDB_WRITER run to its end in a subprocess, into `folder`; the test is skipped (its
    `follower` stopped) where wandb cannot write an offline run."""
    pytest.importorskip("wandb")
    env = {**os.environ, "WANDB_SILENT": "true", "WANDB_MODE": "offline",
           "WANDB_DISABLE_GIT": "true", "WANDB_CONSOLE": "off"}
    try:
        subprocess.run([sys.executable, "-c", WANDB_WRITER, str(folder),
                        json.dumps(eval_curve())], env=env, check=True, timeout=120,
                       capture_output=True)
    except (subprocess.SubprocessError, OSError) as exc:
        if follower is not None:
            follower.stop.set()
        pytest.skip(f"wandb could not write an offline run here: {exc}")


@pytest.mark.slow
def test_wandb_offline_run_followed_while_the_sdk_writes(tmp_path):
    pytest.importorskip("wandb")
    latest = tmp_path / "wandb" / "latest-run"
    follower = Follower(latest, stop_on=())
    _write_wandb_run(tmp_path, follower)
    followed = follower.ends_by_itself(timeout=30)
    replayed, result = replay(latest, stop_on=())
    assert_same(followed, replayed)
    assert result.finished  # the exit record


def test_wandb_run_between_its_blocks_is_not_idle(tmp_path):
    """wandb writes a live offline run's file in blocks ~15 s apart, the first ~15 s after
    `wandb.init` (only its 7-byte header before): an --idle-exit shorter than that must not end
    the follow between two blocks (old: it ended with "no history rows (wandb.log calls)")."""
    _write_wandb_run(tmp_path / "w")
    [written] = (tmp_path / "w" / "wandb").glob("offline-run-*/*.wandb")
    data = written.read_bytes()
    live = tmp_path / written.name
    live.write_bytes(data[:7])  # what `wandb.init` leaves until the first block
    follower = Follower(live, stop_on=(), idle_exit=0.3)
    follower.wait_for_message("following")
    time.sleep(1.0)  # > --idle-exit: the wait for the first block
    with open(live, "ab") as fh:
        fh.write(data[7:])
    followed = follower.ends_by_itself(timeout=30)
    replayed, result = replay(live, stop_on=())
    assert_same(followed, replayed)
    assert follower.watch.result.reason == "finished" and result.finished
    assert any("judged idle after 20 s" in m for m in follower.messages)


# ------------------------------------------------------------------ MLflow
MLFLOW_WRITER = """
import json, sys, time, mlflow
mlflow.set_tracking_uri(sys.argv[1])
run = mlflow.start_run(run_name="live")
print(run.info.experiment_id, run.info.run_id, flush=True)
sys.stdin.readline()  # the follower is on
for i, (step, acc) in enumerate(json.loads(sys.argv[2])):
    mlflow.log_metrics({"eval/accuracy": acc, "train/loss": 1.0 / (i + 1)}, step=step)
    if i % 50 == 0:
        time.sleep(0.05)
mlflow.end_run()
"""


def follow_mlflow_writer(tracking_uri, path_of):
    """Follow the run a real mlflow client logs in a subprocess; `path_of(experiment, run)` is
    the PATH to watch. Returns (followed alerts, PATH)."""
    pytest.importorskip("mlflow", reason="mlflow is not installed (it is in the dev extra)")
    env = {**os.environ, "MLFLOW_ENABLE_ASYNC_LOGGING": "false", "MLFLOW_TRACKING_URI": "",
           "MLFLOW_ALLOW_FILE_STORE": "true", "GIT_PYTHON_REFRESH": "quiet"}
    writer = subprocess.Popen([sys.executable, "-c", MLFLOW_WRITER, tracking_uri,
                               json.dumps(eval_curve())], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    experiment, run_id = writer.stdout.readline().split()
    path = path_of(experiment, run_id)
    follower = Follower(path, stop_on=())
    let_writer_finish(writer)
    return follower.ends_by_itself(timeout=60), path


def test_mlflow_sqlite_store_followed_while_the_client_logs(tmp_path):
    db = tmp_path / "mlflow.db"
    followed, path = follow_mlflow_writer(f"sqlite:///{db}", lambda e, r: db / r)
    replayed, result = replay(path, stop_on=())
    assert_same(followed, replayed)
    assert result.finished  # the run's status FINISHED


@pytest.mark.slow
def test_mlflow_file_store_followed_while_the_client_logs(tmp_path):
    store = tmp_path / "mlruns"
    followed, path = follow_mlflow_writer(store.as_uri(), lambda e, r: store / e / r)
    replayed, _ = replay(path, stop_on=())
    assert_same(followed, replayed)


# ------------------------------------------------------------------ Trackio
TRACKIO_WRITER = """
import json, sys, time, trackio
trackio.init(project="proj", name="live")
trackio.log({"train/loss": 2.0, "train/global_step": 0})
print("started", flush=True)
sys.stdin.readline()  # the follower is on
for i, (step, acc) in enumerate(json.loads(sys.argv[1])):
    trackio.log({"eval/accuracy": acc, "train/loss": 1.0 / (i + 1), "train/global_step": step})
    if i % 50 == 0:
        time.sleep(0.05)
trackio.finish()
"""


@pytest.mark.slow
def test_trackio_project_followed_while_trackio_logs(tmp_path):
    """Trackio writes no end status: the follow ends with --idle-exit once the writer is done."""
    pytest.importorskip("trackio", reason="trackio is not installed (it is in the dev extra)")
    env = {**os.environ, "TRACKIO_DIR": str(tmp_path), "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    path = tmp_path / "proj.db" / "live"
    follower, result = follow_while_the_writer_logs(
        [TRACKIO_WRITER, json.dumps(eval_curve())], env, path, ready="started", waits=None,
        idle_exit=8.0)
    assert follower.watch.result.reason == "idle"
    assert result.n_records == len(eval_curve()) + 1


# ------------------------------------------------------------------ a store created before its run
MLFLOW_EARLY_STORE = """
import json, sys, time, mlflow
mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("early")  # creates and migrates the database: no run yet
print("created", flush=True)
sys.stdin.readline()  # the follower waits on the store
run = mlflow.start_run(run_name="live")
for i, (step, acc) in enumerate(json.loads(sys.argv[2])):
    mlflow.log_metrics({"eval/accuracy": acc, "train/loss": 1.0 / (i + 1)}, step=step)
mlflow.end_run()
"""


def test_mlflow_store_created_before_its_run_is_waited_for(tmp_path):
    """MLflow creates and migrates mlflow.db seconds before `start_run`: a follow of the
    database waits for the run (said once), then follows it to its end (it exited 3, 'this
    MLflow database holds no run')."""
    pytest.importorskip("mlflow", reason="mlflow is not installed (it is in the dev extra)")
    db = tmp_path / "mlflow.db"
    env = {**os.environ, "MLFLOW_ENABLE_ASYNC_LOGGING": "false", "MLFLOW_TRACKING_URI": "",
           "GIT_PYTHON_REFRESH": "quiet"}
    follower, result = follow_while_the_writer_logs(
        [MLFLOW_EARLY_STORE, f"sqlite:///{db}", json.dumps(eval_curve())], env, db)
    said = [m for m in follower.messages if "holds no run" in m]
    assert said == [(f"{db}: this MLflow database holds no run; waiting for a run to start "
                     "(Ctrl-C to stop)")]  # once
    assert follower.watch.result.reason == "finished" and result.finished


def follow_while_the_writer_logs(script_args, env, path, ready="created", waits="holds no run",
                                 idle_exit=None):
    """Start the writer (`python -c SCRIPT ARGS...`), which prints `ready` once its store
    exists and then waits for a line on stdin; follow `path` (until the watch says `waits`,
    when given); let the writer log; assert the followed alerts are the replay's. The follower
    and the replay's result."""
    writer = subprocess.Popen([sys.executable, "-c", *script_args], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        while (line := writer.stdout.readline()) and line.strip() != ready:
            pass  # the tracker's own messages
        follower = Follower(path, stop_on=(), idle_exit=idle_exit)
        if waits:
            follower.wait_for_message(waits)
    finally:
        let_writer_finish(writer)
    followed = follower.ends_by_itself(timeout=60)
    replayed, result = replay(path, stop_on=())
    assert_same(followed, replayed)
    return follower, result


TRACKIO_EARLY_STORE = """
import json, os, sys, time, trackio
trackio.init(project="proj", name="live", auto_log_cpu=True, cpu_log_interval=0.2)
db = os.path.join(os.environ["TRACKIO_DIR"], "proj.db")
while not os.path.exists(db):  # its system metrics create the project: no metrics row yet
    time.sleep(0.05)
print("created", flush=True)
sys.stdin.readline()  # the follower waits on the project
for i, (step, acc) in enumerate(json.loads(sys.argv[1])):
    trackio.log({"eval/accuracy": acc, "train/loss": 1.0 / (i + 1), "train/global_step": step})
trackio.finish()
"""


@pytest.mark.slow
def test_trackio_project_created_before_its_first_log_is_waited_for(tmp_path):
    """Trackio's system metrics create `<project>.db` before the first `trackio.log`: a follow
    of the project waits for a run, as for MLflow's store."""
    pytest.importorskip("trackio", reason="trackio is not installed (it is in the dev extra)")
    env = {**os.environ, "TRACKIO_DIR": str(tmp_path), "HF_HOME": str(tmp_path / "hf"),
           "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    db = tmp_path / "proj.db"
    follower, result = follow_while_the_writer_logs(
        [TRACKIO_EARLY_STORE, json.dumps(eval_curve())], env, db, idle_exit=8.0)
    assert [m for m in follower.messages if "holds no run" in m] == [
        f"{db}: this Trackio project holds no run; waiting for a run to start (Ctrl-C to stop)"]
    assert follower.watch.result.reason == "idle"
    assert result.n_records == len(eval_curve())
