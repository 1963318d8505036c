"""`watch --follow` on every format that grows, written by the format's real writer while the
watch runs: the alerts equal a replay of the final file, and the watch ends by itself where
the log says the run finished. Plus the issue #13 cases: resumes, the log's own metric names,
the stage-event policy, a path that does not exist yet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_watch import ROOT, Watch, curve_records, split_jsonl

from phasewatch.live import LiveWatch

REAL_LOGS = ROOT.parent / "shared" / "real_logs"


def eval_curve(n=300, seed=0):
    """(step, held-out accuracy) of a run with a disruption, a readaptation and an overfit."""
    return [(r["step"], r["eval/accuracy"]) for r in curve_records(n, seed) if "eval/accuracy" in r]


class Follower:
    """A LiveWatch following `path` in a thread, collecting alerts and messages."""

    def __init__(self, path, **options):
        self.stop = threading.Event()
        self.messages: list[str] = []
        self.watch = LiveWatch(path, follow=True, poll=0.01, stop=self.stop,
                               notice=self.messages.append, info=self.messages.append, **options)
        self.alerts: list = []
        self.thread = threading.Thread(target=lambda: self.alerts.extend(self.watch.alerts()),
                                       daemon=True)
        self.thread.start()

    def wait_for_message(self, text, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in m for m in self.messages):
                return
            time.sleep(0.01)
        raise AssertionError(f"no message with {text!r}: {self.messages}")

    def ends_by_itself(self, timeout=20.0) -> list:
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.stop.set()
            self.thread.join(5)
            raise AssertionError(f"the watch did not end by itself: {self.messages}")
        return self.alerts


def replay(path, **options):
    watch = LiveWatch(path, notice=lambda m: None, info=lambda m: None, **options)
    return list(watch.alerts()), watch.result


def assert_same(followed, replayed):
    assert len(replayed) >= 2, replayed  # a run with phases: the comparison is not empty
    assert followed == replayed


# ------------------------------------------------------------------ TensorBoard
def test_tensorboard_folder_followed_with_a_new_event_file_and_the_hf_end_tag(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.summary import Writer

    folder = tmp_path / "runs"
    follower = Follower(folder, stop_on=())
    follower.wait_for_message("does not exist yet")
    curve = eval_curve()
    half = len(curve) // 2
    writer = Writer(str(folder))
    for i, (step, acc) in enumerate(curve[:half]):
        writer.add_scalar("eval/accuracy", acc, step=step)
        writer.add_scalar("train/loss", 1.0 / (i + 1), step=step)
        if i % 25 == 0:
            writer.flush()
            time.sleep(0.02)
    writer.close()
    time.sleep(1.1)  # event file names carry the second they were created
    writer = Writer(str(folder))  # a second session: a new event file appears in the folder
    for i, (step, acc) in enumerate(curve[half:]):
        writer.add_scalar("eval/accuracy", acc, step=step)
        if i % 25 == 0:
            writer.flush()
            time.sleep(0.02)
    writer.add_scalar("train/train_runtime", 12.5, step=curve[-1][0])  # HF's last log call
    writer.close()
    followed = follower.ends_by_itself()
    assert len(list(folder.iterdir())) == 2
    replayed, result = replay(folder, stop_on=())
    assert_same(followed, replayed)
    assert follower.watch.result.reason == "finished" and result.finished


def test_tensorboard_event_file_followed_while_the_writer_appends(tmp_path):
    """One event file (not its folder) given as the path, read while the writer flushes."""
    pytest.importorskip("tensorboard")
    from tensorboard.summary import Writer

    folder = tmp_path / "runs"
    writer = Writer(str(folder))
    curve = eval_curve()
    writer.add_scalar("eval/accuracy", curve[0][1], step=curve[0][0])
    writer.flush()
    [path] = list(folder.iterdir())
    follower = Follower(path, stop_on=())
    follower.wait_for_message("following")
    for i, (step, acc) in enumerate(curve[1:]):
        writer.add_scalar("eval/accuracy", acc, step=step)
        if i % 25 == 0:
            writer.flush()
            time.sleep(0.02)
    writer.add_scalar("train/train_runtime", 12.5, step=curve[-1][0])
    writer.close()
    followed = follower.ends_by_itself()
    replayed, result = replay(path, stop_on=())
    assert_same(followed, replayed)
    assert follower.watch.result.reason == "finished" and result.n_records == len(curve) + 1


# ------------------------------------------------------------------ trainer_state.json
def save_trainer_state(path: Path, rows: list[dict], step: int) -> None:
    """As HF's TrainerState.save_to_json: the whole state rewritten in place."""
    state = {"best_metric": None, "epoch": step / 1000, "global_step": step,
             "log_history": rows, "max_steps": 3000, "num_train_epochs": 3}
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(state, indent=2, sort_keys=True) + "\n")


def test_trainer_state_rewritten_at_each_checkpoint_feeds_only_new_rows(tmp_path):
    path = tmp_path / "checkpoint" / "trainer_state.json"
    path.parent.mkdir()
    follower = Follower(path, stop_on=())
    follower.wait_for_message("does not exist yet")
    rows: list[dict] = []
    for i, (step, acc) in enumerate(eval_curve()):
        rows.append({"epoch": step / 1000, "loss": 1.0 / (i + 1), "step": step})
        rows.append({"epoch": step / 1000, "eval_accuracy": acc, "step": step})
        if i % 20 == 19:
            save_trainer_state(path, rows, step)
            time.sleep(0.03)
    rows.append({"epoch": 3.0, "step": 2990, "train_runtime": 100.0, "train_loss": 0.5})
    save_trainer_state(path, rows, 2990)
    followed = follower.ends_by_itself()
    replayed, _ = replay(path, stop_on=())
    assert_same(followed, replayed)
    # each row was fed once: the monitor saw as many records as the file holds rows, and no
    # rewrite of the file looked like a step counter going back (rows fed again)
    assert follower.watch.result.n_records == len(rows)
    assert follower.watch.result.resumes == [] and follower.watch.result.reason == "finished"
    assert followed[0].metric == "eval_accuracy"  # the log's own name


def test_hf_output_folder_followed_across_checkpoint_folders(tmp_path):
    """HF saves `checkpoint-N/trainer_state.json` per save (older folders deleted under
    save_total_limit=2) and the folder's own trainer_state.json at the end: the follow moves to
    each newer file, feeds each row once and ends on the final one's train_runtime row."""
    import shutil

    out = tmp_path / "output"
    follower = Follower(out, stop_on=())
    follower.wait_for_message("does not exist yet")
    out.mkdir()
    rows: list[dict] = []
    saved: list[Path] = []
    for i, (step, acc) in enumerate(eval_curve()):
        rows.append({"epoch": step / 1000, "loss": 1.0 / (i + 1), "step": step})
        rows.append({"epoch": step / 1000, "eval_accuracy": acc, "step": step})
        if i % 30 == 29:
            folder = out / f"checkpoint-{step}"
            folder.mkdir()
            save_trainer_state(folder / "trainer_state.json", rows, step)
            saved.append(folder)
            if len(saved) > 2:
                shutil.rmtree(saved.pop(0))
            time.sleep(0.05)
    rows.append({"epoch": 3.0, "step": 2990, "train_runtime": 100.0, "train_loss": 0.5})
    save_trainer_state(out / "trainer_state.json", rows, 2990)
    followed = follower.ends_by_itself()
    replayed, _ = replay(out, stop_on=())
    assert_same(followed, replayed)
    result = follower.watch.result
    assert result.n_records == len(rows) and result.resumes == []
    assert result.reason == "finished"


def test_idle_exit_ends_a_follow_on_a_log_that_stopped_growing(tmp_path):
    path = tmp_path / "trainer_state.json"
    save_trainer_state(path, [{"step": s, "eval_accuracy": a} for s, a in eval_curve()[:50]], 490)
    follower = Follower(path, idle_exit=0.3)
    follower.ends_by_itself(timeout=10)
    assert follower.watch.result.reason == "idle" and follower.watch.result.n_records == 50


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


@pytest.mark.slow
def test_wandb_offline_run_followed_while_the_sdk_writes(tmp_path):
    pytest.importorskip("wandb")
    latest = tmp_path / "wandb" / "latest-run"
    follower = Follower(latest, stop_on=())
    env = {**os.environ, "WANDB_SILENT": "true", "WANDB_MODE": "offline",
           "WANDB_DISABLE_GIT": "true", "WANDB_CONSOLE": "off"}
    try:
        subprocess.run([sys.executable, "-c", WANDB_WRITER, str(tmp_path),
                        json.dumps(eval_curve())], env=env, check=True, timeout=120,
                       capture_output=True)
    except (subprocess.SubprocessError, OSError) as exc:
        follower.stop.set()
        pytest.skip(f"wandb could not write an offline run here: {exc}")
    followed = follower.ends_by_itself(timeout=30)
    replayed, result = replay(latest, stop_on=())
    assert_same(followed, replayed)
    assert result.finished  # the exit record


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
    try:
        experiment, run_id = writer.stdout.readline().split()
        path = path_of(experiment, run_id)
        follower = Follower(path, stop_on=())
        writer.stdin.write("go\n")
        writer.stdin.close()
        assert writer.wait(300) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
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
    writer = subprocess.Popen([sys.executable, "-c", TRACKIO_WRITER, json.dumps(eval_curve())],
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    path = tmp_path / "proj.db" / "live"
    try:
        while (line := writer.stdout.readline()) and line.strip() != "started":
            pass  # trackio's own messages
        follower = Follower(path, stop_on=(), idle_exit=8.0)
        writer.stdin.write("go\n")
        writer.stdin.close()
        assert writer.wait(300) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
    followed = follower.ends_by_itself(timeout=60)
    assert follower.watch.result.reason == "idle"
    replayed, result = replay(path, stop_on=())
    assert_same(followed, replayed)
    assert result.n_records == len(eval_curve()) + 1


# ------------------------------------------------------------------ line formats
@pytest.mark.parametrize("kind", ["jsonl", "csv", "verl_console", "torchtune", "hf_console"])
def test_line_formats_followed_in_pieces_equal_the_replay(tmp_path, kind):
    curve = eval_curve()
    if kind == "jsonl":
        lines = [json.dumps({"global_step": s, "eval_accuracy": a}) for s, a in curve]
        lines.append(json.dumps({"global_step": curve[-1][0], "train_runtime": 10.0}))
    elif kind == "csv":
        lines = ["step,eval_accuracy"] + [f"{s},{a}" for s, a in curve]
    elif kind == "torchtune":  # DiskLogger.log_dict: f"Step {step} | " + f"{name}:{data} " each
        lines = [f"Step {s} | eval_accuracy:{a} loss:tensor({1 - a:.4f}) " for s, a in curve]
    elif kind == "verl_console":
        lines = [f"(TaskRunner pid=1) step:{s} - val/test_score/openai/gsm8k:{a}" for s, a in curve]
        lines.append('"Final validation metrics: {\'test_score/openai/gsm8k\': 0.5}"')
    else:  # what Trainer prints (nohup / slurm output), progress bars between the rows
        lines = ["***** Running training *****", "  Num examples = 3000"]
        for i, (s, a) in enumerate(curve):
            lines.append(f" {i}%|##   | {s}/3000 [00:{i % 60:02d}<01:00, 2.0it/s]")
            lines.append(f"{{'loss': {1.0 / (i + 1):.4f}, 'learning_rate': 2e-05, "
                         f"'epoch': {s / 3000:.4f}}}")
            lines.append(f"{{'eval_loss': '{1 - a:.4f}', 'eval_accuracy': '{a}', "
                         f"'epoch': '{s / 3000:.4f}'}}")
        lines.append("{'train_runtime': 61.2, 'train_samples_per_second': 9.8, "
                     "'train_loss': 0.5, 'epoch': 1.0}")
    text = "\n".join(lines) + "\n"
    path = tmp_path / f"log.{kind}"
    no_end_marker = kind in ("csv", "torchtune")
    follower = Follower(path, stop_on=(), idle_exit=1.0 if no_end_marker else None)
    follower.wait_for_message("does not exist yet")
    with open(path, "w", encoding="utf-8") as fh:
        for start in range(0, len(text), 777):  # pieces that cut lines anywhere
            fh.write(text[start:start + 777])
            fh.flush()
            time.sleep(0.003)
    followed = follower.ends_by_itself()
    replayed, _ = replay(path, stop_on=())
    assert_same(followed, replayed)
    if not no_end_marker:  # HF's train_runtime row, verl's final validation line
        assert follower.watch.result.reason == "finished"


# ------------------------------------------------------------------ resumes and events
def test_a_resumed_run_rewinds_the_monitor_like_later_records_win_offline(tmp_path):
    """Issue #13: resumed from step 500 after logging up to 930, the later records supersede:
    the watch ends where a watch of the surviving records ends."""
    rng = np.random.default_rng(3)
    # the abandoned branch climbs high; the resumed one (from step 500) peaks lower and declines
    first = [(s, round(0.5 + 0.4 * s / 930 + rng.normal(0, 0.01), 6)) for s in range(0, 940, 10)]
    resumed = [(s, round(0.715 + 0.1 * min(s - 500, 700) / 700 - 0.15 * max(s - 1200, 0) / 800
                         + rng.normal(0, 0.01), 6)) for s in range(500, 2000, 10)]
    log = tmp_path / "resumed.jsonl"
    log.write_text("".join(json.dumps({"step": s, "eval/accuracy": a}) + "\n"
                           for s, a in first + resumed))
    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(json.dumps({"step": s, "eval/accuracy": a}) + "\n"
                             for s, a in [p for p in first if p[0] < 500] + resumed))
    _, got = replay(log, stop_on=())
    _, want = replay(clean, stop_on=())
    assert got.resumes == [(930, 500)]
    assert (got.phase, got.best_step, got.last_step) == (want.phase, want.best_step, want.last_step)
    assert 1000 < got.best_step < 1400  # on the resumed branch, not the abandoned one
    from phasewatch import analyze

    assert analyze(log).recommended_stop_step == analyze(clean).recommended_stop_step


def test_exact_double_logging_collapses_and_a_relogged_value_supersedes(tmp_path):
    curve = eval_curve()
    doubled = tmp_path / "doubled.jsonl"
    doubled.write_text("".join(2 * (json.dumps({"step": s, "eval/accuracy": a}) + "\n")
                               for s, a in curve))
    single = tmp_path / "single.jsonl"
    single.write_text("".join(json.dumps({"step": s, "eval/accuracy": a}) + "\n"
                              for s, a in curve))
    assert replay(doubled, stop_on=())[0] == replay(single, stop_on=())[0]
    assert replay(doubled, stop_on=())[1].n_records == len(curve)


@pytest.mark.skipif(not (REAL_LOGS / "verl_ppo_qwen05b").is_dir(), reason="no real logs here")
def test_verl_real_log_watch_names_the_metric_analyze_analyses(capsys):
    from phasewatch import analyze
    from phasewatch.cli import main

    [log] = list((REAL_LOGS / "verl_ppo_qwen05b").glob("*.log"))
    code = main(["watch", str(log), "--format", "jsonl"])
    out, err = capsys.readouterr()
    alerts, summary = split_jsonl(out)
    assert code == 0
    assert summary["metric"] == analyze(log).metric == "val/test_score/openai/gsm8k"
    assert all(a["metric"] == summary["metric"] for a in alerts)
    assert "eval/accuracy" not in err


def test_held_out_metric_is_waited_for_before_choosing(tmp_path):
    """Train rows come first in HF logs: following must not pick train reward and replay
    eval accuracy."""
    lines = [json.dumps({"step": s, "reward": 0.1}) for s in range(0, 200, 10)]
    lines += [json.dumps({"step": s, "eval_accuracy": a, "reward": 0.2})
              for s, a in eval_curve() if s >= 200]
    path = tmp_path / "log.jsonl"
    path.write_text(lines[0] + "\n")
    follower = Follower(path, stop_on=(), idle_exit=1.5)
    follower.wait_for_message("holding them")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines[1:]) + "\n")
    followed = follower.ends_by_itself()
    replayed, result = replay(path, stop_on=())
    assert result.metric == "eval_accuracy"
    assert_same(followed, replayed)


def test_follow_started_before_the_trainer_waits_and_ends_on_its_end_marker(tmp_path, capsys):
    """The reference trainer's folder: created later, run.json rewritten with the sft_to_rl
    event before that step is logged, status 'finished' at the end."""
    from phasewatch.cli import main

    run = tmp_path / "run"
    watch = Watch(run, "--follow", "--format", "jsonl", "--poll", "0.02")
    watch.wait_for_err("does not exist yet")
    run.mkdir()
    meta = {"schema_version": 1, "name": "r", "performance_metric": "eval/accuracy",
            "direction": "max", "events": [], "config": {}}
    (run / "run.json").write_text(json.dumps(meta))
    with open(run / "metrics.jsonl", "w", encoding="utf-8") as fh:
        for step, acc in eval_curve():
            if step == 1500:
                meta["events"].append({"step": step, "name": "sft_to_rl"})
                (run / "run.json.tmp").write_text(json.dumps(meta))
                os.replace(run / "run.json.tmp", run / "run.json")
            fh.write(json.dumps({"step": step, "eval/accuracy": acc}) + "\n")
            fh.flush()
            if step % 500 == 0:
                time.sleep(0.05)
    meta["status"] = "finished"
    (run / "run.json").write_text(json.dumps(meta))
    code, out, err = watch.end(timeout=30)  # no signal: it ends by itself
    assert code == 0, err
    assert "the log says the run finished" in err
    main(["watch", str(run), "--format", "jsonl"])
    replayed, _ = capsys.readouterr()
    assert split_jsonl(out) == split_jsonl(replayed)
    assert split_jsonl(out)[1]["finished"] is True
