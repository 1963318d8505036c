"""`watch OUT --follow` started before an HF Trainer writes OUT (trial 30 finding 9).

The Trainer creates its TensorBoard log `OUT/runs/<date>_<host>/` before its first checkpoint;
a replay and `analyze` of the finished folder read `checkpoint-N/trainer_state.json`. The follow
used to take whichever appeared first (TensorBoard: `eval/accuracy`, its own record count,
`finished`), so live and offline disagreed. It now waits while the folder holds only that
TensorBoard log and reads what a replay of the final folder reads: the checkpoints' history once
one is saved, the TensorBoard log if the run ends (its end tag, --idle-exit, a stop) without one.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from watch_follower import Follower, assert_same, eval_curve, replay

pytest.importorskip("tensorboard")
pytest.importorskip("torch.utils.tensorboard")


def _tb_writer(out: Path, save_strategy: str | None = "steps", save_steps: int = 300):
    """A TensorBoard log where HF's TensorBoardCallback writes it (`out/runs/<date>_<host>/`),
    starting with the Trainer's arguments as it does (`save_strategy` None: another writer's
    log, no arguments)."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(out / "runs" / "Dec04_03-17-34_vm"))
    if save_strategy is not None:
        writer.add_text("args", json.dumps({"output_dir": str(out), "save_strategy": save_strategy,
                                            "save_steps": save_steps, "max_steps": -1}))
    return writer


def _save_state(folder: Path, rows: list[dict], step: int) -> None:
    folder.mkdir()
    state = {"global_step": step, "log_history": rows, "max_steps": 3000, "best_metric": None}
    (folder / "trainer_state.json").write_text(json.dumps(state, indent=2) + "\n")


def _messages(follower: Follower, text: str) -> list[str]:
    return [m for m in follower.messages if text in m]


def _wait_until_seen(follower: Follower, timeout: float = 20.0) -> None:
    """Until the follow has looked at the folder and waits for a checkpoint."""
    deadline = time.monotonic() + timeout
    while not _messages(follower, "only the Trainer's"):
        assert time.monotonic() < deadline, follower.messages
        time.sleep(0.01)


def test_checkpoints_saved_after_the_tensorboard_log_are_what_the_follow_reads(tmp_path):
    """The Trainer's order: runs/<date>_<host>/ first, then a checkpoint-N every save (the
    older deleted, save_total_limit=2), each trainer_state.json the whole history so far; the
    TensorBoard log has the same values under HF's `eval/` names."""
    out = tmp_path / "out"
    # idle 5 s, not 1: a loaded machine (the whole suite on 2 cores) paused the writer for over a
    # second before its first save, and the wait then read the TensorBoard log by the idle rule
    follower = Follower(out, stop_on=(), idle_exit=5.0)
    follower.wait_for_message("does not exist yet")
    writer = _tb_writer(out)
    rows: list[dict] = []
    saved: list[Path] = []
    for i, (step, acc) in enumerate(eval_curve()):
        writer.add_scalar("eval/accuracy", acc, step)
        writer.flush()
        rows.append({"eval_accuracy": acc, "step": step, "epoch": step / 1000})
        if i == 3:  # the follow has seen the folder with only the TensorBoard log
            _wait_until_seen(follower)
        if i % 30 == 29:
            _save_state(out / f"checkpoint-{step}", rows, step)
            saved.append(out / f"checkpoint-{step}")
            if len(saved) > 2:
                shutil.rmtree(saved.pop(0))
            time.sleep(0.03)
    writer.add_scalar("train/train_runtime", 12.5, step)  # the end: after the last save
    writer.close()
    followed = follower.ends_by_itself()
    replayed, result = replay(out, stop_on=())
    assert_same(followed, replayed)
    assert followed[0].metric == "eval_accuracy"  # the checkpoints' name, not eval/accuracy
    watched = follower.watch.result
    assert (watched.n_records, watched.finished) == (result.n_records, result.finished)
    assert watched.reason == "idle" and not watched.finished  # no end row in a checkpoint
    assert len(_messages(follower, "only the Trainer's TensorBoard log")) == 1
    [said] = _messages(follower, ": following checkpoint-")
    assert "each newer checkpoint's" in said and "--idle-exit" in said


def test_a_run_that_ends_without_a_checkpoint_is_read_from_its_tensorboard_log(tmp_path):
    """save_steps beyond the run's end: no checkpoint comes; the TensorBoard log's end tag
    says so, and the follow reads that log, as a replay of the folder does."""
    out = tmp_path / "out"
    follower = Follower(out, stop_on=())
    follower.wait_for_message("does not exist yet")
    writer = _tb_writer(out, save_steps=5000)
    curve = eval_curve()
    for i, (step, acc) in enumerate(curve):
        writer.add_scalar("eval/accuracy", acc, step)
        if i % 25 == 0:
            writer.flush()
            time.sleep(0.01)
        if i == 0:
            _wait_until_seen(follower)
    writer.add_scalar("train/train_runtime", 12.5, curve[-1][0])
    writer.close()
    followed = follower.ends_by_itself(timeout=30)
    replayed, result = replay(out, stop_on=())
    assert_same(followed, replayed)
    assert followed[0].metric == "eval/accuracy"
    watched = follower.watch.result
    assert watched.reason == "finished" and watched.finished and result.finished
    assert watched.n_records == result.n_records
    assert _messages(follower, "the run ended without a checkpoint"), follower.messages
    assert _messages(follower, "waiting for its first checkpoint (saved every 5000 steps)")


def test_a_log_that_appears_while_the_folder_is_opened_is_waited_on(tmp_path, monkeypatch):
    """The Trainer's TensorBoard log created between the follow's look at the folder (nothing
    to wait for yet) and its opening (a CI run followed it at once, as before the wait): the
    opened log is closed and the follow waits for a checkpoint."""
    import phasewatch.io
    from phasewatch.live_open import open_when_ready

    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    real_open = phasewatch.io.open_source
    writers = []

    def open_after_the_trainer_wrote(path, **options):
        if not writers:
            writers.append(_tb_writer(out))
            writers[0].add_scalar("eval/accuracy", 0.5, 0)
            writers[0].flush()
        return real_open(path, **options)

    monkeypatch.setattr(phasewatch.io, "open_source", open_after_the_trainer_wrote)
    said: list[str] = []
    source, quiet_since = open_when_ready(out, follow=True, notice=said.append, say=said.append,
                                          poll=0.01, idle_exit=0.3, stop=threading.Event())
    writers[0].close()
    source.close()
    waited, decided, followed = said  # not followed at once: waited, then by --idle-exit
    assert "only the Trainer's TensorBoard log" in waited
    assert "has not grown for 0.3 s" in decided and "following runs, the folder" in followed
    assert quiet_since is not None  # the watch's own --idle-exit counts from the log's last growth


@pytest.mark.parametrize("save_strategy", ["no", None])
def test_no_wait_when_no_checkpoint_will_come(tmp_path, save_strategy):
    """The Trainer's log with save_strategy "no", or a log another writer made in runs/
    (PyTorch's SummaryWriter() default, no Trainer arguments): followed at once."""
    out = tmp_path / "out"
    writer = _tb_writer(out, save_strategy=save_strategy)
    curve = eval_curve()
    for step, acc in curve[:20]:
        writer.add_scalar("eval/accuracy", acc, step)
    writer.flush()
    follower = Follower(out, stop_on=())
    follower.wait_for_message("caught up after 20 records")
    for step, acc in curve[20:]:
        writer.add_scalar("eval/accuracy", acc, step)
    writer.add_scalar("train/train_runtime", 12.5, curve[-1][0])
    writer.close()
    followed = follower.ends_by_itself(timeout=30)
    replayed, _ = replay(out, stop_on=())
    assert_same(followed, replayed)
    assert not _messages(follower, "waiting for its first checkpoint")
    assert bool(_messages(follower, 'save_strategy "no"')) == (save_strategy == "no")


def test_idle_exit_while_waiting_reads_the_tensorboard_log_and_ends_once(tmp_path):
    """A run that stopped (crashed) before any checkpoint and without the end tag: after
    --idle-exit of no growth the follow reads the TensorBoard log and ends at once (not after
    a second --idle-exit)."""
    out = tmp_path / "out"
    writer = _tb_writer(out)
    for step, acc in eval_curve():
        writer.add_scalar("eval/accuracy", acc, step)
    writer.close()
    started = time.monotonic()
    follower = Follower(out, stop_on=(), idle_exit=3.0)
    followed = follower.ends_by_itself()
    took = time.monotonic() - started
    replayed, _ = replay(out, stop_on=())
    assert_same(followed, replayed)
    assert follower.watch.result.reason == "idle"
    # one idle period, not two; the margin is for start-up on a loaded machine (2.5 s seen
    # while a whole suite ran beside it)
    assert 3.0 <= took < 5.9, took
    assert _messages(follower, "has not grown for 3 s (--idle-exit)")


def test_a_stopped_wait_reads_the_folder_as_it_is(tmp_path):
    out = tmp_path / "out"
    writer = _tb_writer(out)
    for step, acc in eval_curve()[:40]:
        writer.add_scalar("eval/accuracy", acc, step)
    writer.close()
    follower = Follower(out, stop_on=())
    follower.wait_for_message("only the Trainer's TensorBoard log")
    follower.stop.set()
    follower.ends_by_itself()
    assert follower.watch.result.reason == "interrupted"
    assert follower.watch.result.n_records == 40


def test_a_folder_with_a_checkpoint_already_is_followed_at_once(tmp_path):
    out = tmp_path / "out"
    writer = _tb_writer(out)
    rows = [{"eval_accuracy": acc, "step": step} for step, acc in eval_curve()]
    for step, acc in eval_curve():
        writer.add_scalar("eval/accuracy", acc, step)
    writer.close()
    _save_state(out / "checkpoint-100", rows[:10], 100)
    follower = Follower(out, stop_on=(), idle_exit=0.3)
    follower.ends_by_itself()
    assert not _messages(follower, "only the Trainer's TensorBoard log")
    assert follower.watch.result.n_records == 10


def test_the_follow_says_which_file_it_follows_and_when_it_moves(tmp_path):
    """Once which file of the folder (not per checkpoint), and once when save_state()'s
    trainer_state.json appears (the run's end row: the follow ends by itself)."""
    out = tmp_path / "out"
    out.mkdir()
    rows = [{"eval_accuracy": acc, "step": step} for step, acc in eval_curve()]
    _save_state(out / "checkpoint-100", rows[:10], 100)
    follower = Follower(out, stop_on=())
    follower.wait_for_message("caught up after 10 records")
    _save_state(out / "checkpoint-200", rows[:20], 200)
    time.sleep(0.1)
    rows.append({"train_runtime": 10.0, "step": rows[-1]["step"]})
    (out / "trainer_state.json").write_text(json.dumps({"log_history": rows}))
    follower.ends_by_itself()
    assert len(_messages(follower, "following checkpoint-100/trainer_state.json")) == 1
    assert not _messages(follower, "checkpoint-200")
    assert len(_messages(follower, "following trainer_state.json, written by save_state()")) == 1
    assert follower.watch.result.reason == "finished"
    assert follower.watch.result.n_records == len(rows)
    # the folder's choice was said once, as a follow's line, not as the replay's warning
    assert not _messages(follower, "history from checkpoint-100")


def test_a_folder_of_another_log_says_which_file(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "trainer_log.jsonl").write_text(
        "".join(json.dumps({"current_steps": s, "eval_loss": 1 - a}) + "\n"
                for s, a in eval_curve()[:30]))
    follower = Follower(out, stop_on=(), idle_exit=0.3)
    follower.ends_by_itself()
    assert _messages(follower, "following trainer_log.jsonl, LLaMA-Factory's log as the run trains")


def test_real_trainer_followed_from_before_it_starts(tmp_path):
    """The real HF Trainer (tiny BERT on CPU, evaluated every step, TensorBoard on, a
    checkpoint every 10 steps, save_total_limit=2) writing while `watch OUT --follow` runs:
    the follow reads what the replay of the finished folder reads."""
    pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from scripted_eval import ScriptedMetrics
    from tiny_trainer import tiny_trainer

    followers: list[Follower] = []

    class Start(transformers.TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            # after HF's TensorBoardCallback made runs/<date>_<host>/, before any record: the
            # Trainer's start-up (seconds on a loaded machine) is not counted in --idle-exit
            # (10 s: a checkpoint save stalled past 3 s on a loaded machine, ending the follow)
            followers.append(Follower(out, stop_on=(), idle_exit=10.0))
            _wait_until_seen(followers[0])

        def on_evaluate(self, args, state, control, **kwargs):
            time.sleep(0.02)  # a real evaluation takes a while

    steps = 60
    t = np.arange(steps + 1)
    accuracy = np.where(t < 25, 0.4 + 0.3 * t / 25, 0.7 - 0.25 * (t - 25) / 35)
    accuracy = accuracy + np.random.default_rng(0).normal(0, 0.004, t.size)
    out = tmp_path / "out"
    trainer = tiny_trainer(
        out, callbacks=[Start()], compute_metrics=ScriptedMetrics(accuracy=accuracy),
        max_steps=steps, per_device_eval_batch_size=16, eval_strategy="steps", eval_steps=1,
        logging_steps=5, save_strategy="steps", save_steps=10, save_total_limit=2,
        report_to=["tensorboard"])
    trainer.train()
    [follower] = followers
    followed = follower.ends_by_itself(timeout=30)
    assert list((out / "runs").iterdir()) and not (out / "trainer_state.json").exists()
    # six saves, four deleted by save_total_limit while followed; the last holds every value
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-50", "checkpoint-60"]
    replayed, result = replay(out, stop_on=())
    assert_same(followed, replayed)
    assert followed[0].metric == "eval_accuracy"
    watched = follower.watch.result
    assert (watched.n_records, watched.n_values, watched.finished) == (
        result.n_records, result.n_values, result.finished)
    assert watched.n_values == steps and watched.phases == result.phases
    # no end row in a checkpoint, but the last one is saved at max_steps: the run is over
    assert watched.reason == "finished" and watched.finished
    assert len(_messages(follower, "only the Trainer's TensorBoard log")) == 1
    assert len(_messages(follower, ": following checkpoint-")) == 1
