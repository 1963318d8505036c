"""`watch --follow` on the formats written as files that grow or are rewritten (TensorBoard
event files, HF's trainer_state.json and checkpoint folders, line formats written in pieces):
the alerts equal a replay of the final file, and the watch ends by itself where the log says
the run finished."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from watch_follower import Follower, assert_same, eval_curve, replay, write_in_pieces


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
def save_trainer_state(path: Path, rows: list[dict], step: int, max_steps: int = 3000) -> None:
    """As HF's TrainerState.save_to_json: the whole state rewritten in place."""
    state = {"best_metric": None, "epoch": step / 1000, "global_step": step,
             "log_history": rows, "max_steps": max_steps, "num_train_epochs": 3}
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(state, indent=2, sort_keys=True) + "\n")


def trainer_rows(i: int, step: int, acc: float) -> list[dict]:
    """The Trainer's rows at the `i`-th evaluation: a train loss, then the evaluation."""
    return [{"epoch": step / 1000, "loss": 1.0 / (i + 1), "step": step},
            {"epoch": step / 1000, "eval_accuracy": acc, "step": step}]


# the Trainer's last row, its summary: the run finished
TRAIN_END_ROW = {"epoch": 3.0, "step": 2990, "train_runtime": 100.0, "train_loss": 0.5}


def test_trainer_state_rewritten_at_each_checkpoint_feeds_only_new_rows(tmp_path):
    path = tmp_path / "checkpoint" / "trainer_state.json"
    path.parent.mkdir()
    follower = Follower(path, stop_on=())
    follower.wait_for_message("does not exist yet")
    rows: list[dict] = []
    for i, (step, acc) in enumerate(eval_curve()):
        rows += trainer_rows(i, step, acc)
        if i % 20 == 19:
            save_trainer_state(path, rows, step)
            time.sleep(0.03)
    rows.append(TRAIN_END_ROW)
    save_trainer_state(path, rows, 2990)
    followed = follower.ends_by_itself()
    replayed, _ = replay(path, stop_on=())
    assert_same(followed, replayed)
    # each row was fed once: the monitor saw as many records as the file holds rows, and no
    # rewrite of the file looked like a step counter going back (rows fed again)
    assert follower.watch.result.n_records == len(rows)
    assert follower.watch.result.resumes == [] and follower.watch.result.reason == "finished"
    assert followed[0].metric == "eval_accuracy"  # the log's own name


def test_one_row_without_a_step_is_said_in_the_singular(tmp_path):
    """'skipped 1 log rows that are not records' was printed for one HF predict row (hf-cpt-rouge,
    the first save); a JSON list of records says its one skipped entry so too."""
    from phasewatch.io import read_run

    path = tmp_path / "trainer_state.json"
    rows = [{"epoch": s / 1000, "eval_accuracy": a, "step": s} for s, a in eval_curve()[:10]]
    save_trainer_state(path, [*rows, {"epoch": 0.1, "predict_loss": 0.5}], 90)
    assert any(w.startswith("skipped 1 log row that is not a record (line ")
               for w in read_run(path).warnings), read_run(path).warnings
    listed = tmp_path / "history.json"
    listed.write_text(json.dumps({"history": [{"step": 1, "val_loss": 0.5}, {"step": 2, "val_loss": 0.4},
                                              {"step": 3, "val_loss": 0.3}, "a note"]}))
    warnings = read_run(listed).warnings
    assert any(w.startswith("skipped 1 entry that is not a record") for w in warnings), warnings


def test_trainer_state_rows_without_a_step_are_said_once_not_at_every_rewrite(tmp_path):
    """A Trainer run that predicts at each epoch logs its predict_* rows without a step: each
    rewrite of the file holds one more. The follow says the skipped rows once, when it first
    sees one (it said "skipped 1 ...", "skipped 2 ...", ... at every save: hf-cpt-rouge's 10
    epochs gave 9 such lines), and the source's warnings are those of the final file, as a
    replay's are."""
    path = tmp_path / "trainer_state.json"
    follower = Follower(path, stop_on=())
    follower.wait_for_message("does not exist yet")
    rows: list[dict] = []
    for i, (step, acc) in enumerate(eval_curve()):
        rows += trainer_rows(i, step, acc)
        if i % 50 == 49:  # an epoch's end: a predict row (no step), then the save
            rows.append({"epoch": step / 1000, "predict_loss": 0.5, "predict_runtime": 9.0})
            save_trainer_state(path, rows, step)
            time.sleep(0.05)
    rows.append(TRAIN_END_ROW)
    save_trainer_state(path, rows, 2990)
    followed = follower.ends_by_itself()
    said = [m for m in follower.messages if "that are not records" in m or "not a record" in m]
    assert len(said) == 1, said
    replayed, _ = replay(path, stop_on=())
    assert_same(followed, replayed)
    skipped = [w for w in follower.watch.source.warnings if "not records" in w]
    assert len(skipped) == 1 and skipped[0].startswith("skipped 6 log rows"), skipped


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
        rows += trainer_rows(i, step, acc)
        if i % 30 == 29:
            folder = out / f"checkpoint-{step}"
            folder.mkdir()
            save_trainer_state(folder / "trainer_state.json", rows, step)
            saved.append(folder)
            if len(saved) > 2:
                shutil.rmtree(saved.pop(0))
            time.sleep(0.05)
    rows.append(TRAIN_END_ROW)
    save_trainer_state(out / "trainer_state.json", rows, 2990)
    followed = follower.ends_by_itself()
    replayed, _ = replay(out, stop_on=())
    assert_same(followed, replayed)
    result = follower.watch.result
    assert result.n_records == len(rows) and result.resumes == []
    assert result.reason == "finished"


def test_hf_folder_of_checkpoints_ends_at_the_one_saved_at_max_steps(tmp_path):
    """A script that never calls save_state leaves checkpoints only, none with the
    train_runtime row: the last one, at global_step == max_steps, says the run is over, and
    the follow ends there instead of waiting out --idle-exit (trial 33)."""
    out = tmp_path / "output"
    follower = Follower(out, stop_on=(), idle_exit=60)
    follower.wait_for_message("does not exist yet")
    out.mkdir()
    rows: list[dict] = []
    curve = eval_curve()
    for i, (step, acc) in enumerate(curve):
        rows.append({"epoch": step / 1000, "eval_accuracy": acc, "step": step})
        if i % 50 == 49 or i == len(curve) - 1:
            (out / f"checkpoint-{step}").mkdir()
            save_trainer_state(out / f"checkpoint-{step}" / "trainer_state.json", rows, step,
                               max_steps=curve[-1][0])
            time.sleep(0.05)
    started = time.monotonic()
    followed = follower.ends_by_itself()
    assert time.monotonic() - started < 30  # not the 60 s of --idle-exit
    assert follower.watch.result.reason == "finished"
    assert_same(followed, replay(out, stop_on=())[0])


def test_idle_exit_ends_a_follow_on_a_log_that_stopped_growing(tmp_path):
    path = tmp_path / "trainer_state.json"
    save_trainer_state(path, [{"step": s, "eval_accuracy": a} for s, a in eval_curve()[:50]], 490)
    follower = Follower(path, idle_exit=0.3)
    follower.ends_by_itself(timeout=10)
    assert follower.watch.result.reason == "idle" and follower.watch.result.n_records == 50


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
    write_in_pieces(path, text)
    followed = follower.ends_by_itself()
    replayed, _ = replay(path, stop_on=())
    assert_same(followed, replayed)
    if not no_end_marker:  # HF's train_runtime row, verl's final validation line
        assert follower.watch.result.reason == "finished"


def test_hf_folder_resume_warning_names_the_state_file_the_resumed_history_came_from(tmp_path):
    """Trial 29 finding 7: a run crashes after checkpoint-200 and resumes from checkpoint-100;
    its history is in the newer checkpoint-300. The resume warning named the file the follow
    began with (checkpoint-100, which holds neither step); it names checkpoint-300 now."""
    out = tmp_path / "output"
    curve = dict(eval_curve())
    rows: list[dict] = []

    def log(steps, shift=0.0):
        for step in steps:
            rows.append({"epoch": step / 1000, "loss": 1.0, "step": step})
            rows.append({"epoch": step / 1000, "eval_accuracy": curve[step] + shift, "step": step})

    def save(step):
        (out / f"checkpoint-{step}").mkdir(parents=True)
        save_trainer_state(out / f"checkpoint-{step}" / "trainer_state.json", rows, step)

    log(range(10, 101, 10))
    save(100)
    follower = Follower(out, stop_on=())
    follower.wait_for_message("following")
    log(range(110, 201, 10))
    save(200)
    deadline = time.monotonic() + 20
    while getattr(follower.watch.monitor, "last_step_", None) != 200 and time.monotonic() < deadline:
        time.sleep(0.01)  # checkpoint-200 read before the resumed history appears
    del rows[20:]  # resume_from_checkpoint=checkpoint-100: its rows, then new values
    log(range(110, 301, 10), shift=0.01)
    save(300)
    follower.wait_for_message("step counter went back")
    rows.append({"epoch": 0.3, "step": 300, "train_runtime": 10.0, "train_loss": 0.5})
    save_trainer_state(out / "trainer_state.json", rows, 300)
    follower.ends_by_itself()
    warning = next(m for m in follower.messages if "step counter went back" in m)
    assert warning.startswith(f"{out / 'checkpoint-300' / 'trainer_state.json'}: step counter "
                              "went back from 200 to 110")
    assert follower.watch.result.resumes == [(200, 110)]


def test_a_console_log_of_two_train_calls_is_followed_past_the_first_ones_end(tmp_path,
                                                                              monkeypatch):
    """Trial 30 finding 3: a script that calls Trainer.train() twice into one log (a warm-up,
    then the run) printed the first call's `train_runtime` row, and the follow ended there,
    having watched one record; the replay of the final file reads both calls. The end marker
    now ends a follow only once FINISH_GRACE seconds pass with no new record."""
    import phasewatch.live

    monkeypatch.setattr(phasewatch.live, "FINISH_GRACE", 2.0)
    warm_up = ["{'loss': 1.9, 'learning_rate': 2e-05, 'epoch': 0.5}",
               "{'train_runtime': 3.0, 'train_loss': 1.9, 'epoch': 1.0}"]
    run = []
    for i, (s, a) in enumerate(eval_curve()[::3]):  # 100 evaluations
        run.append(f"{{'loss': {1.0 / (i + 1):.4f}, 'learning_rate': 2e-05, 'epoch': {s / 3000:.4f}}}")
        run.append(f"{{'eval_loss': '{1 - a:.4f}', 'eval_accuracy': '{a}', 'epoch': '{s / 3000:.4f}'}}")
    run.append("{'train_runtime': 61.2, 'train_loss': 0.5, 'epoch': 1.0}")
    path = tmp_path / "console.log"
    follower = Follower(path, stop_on=())
    follower.wait_for_message("does not exist yet")
    write_in_pieces(path, "\n".join(warm_up) + "\n")
    time.sleep(0.8)  # the second Trainer is built: less than the grace
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n".join(run) + "\n")
    followed = follower.ends_by_itself()
    replayed, _ = replay(path, stop_on=())
    assert_same(followed, replayed)
    result = follower.watch.result
    assert result.reason == "finished" and result.metric == "eval_accuracy"
    assert result.n_values == 100


def test_lightning_csvlogger_rewriting_metrics_csv_is_followed_as_its_replay(tmp_path,
                                                                              monkeypatch):
    """Trial 40 finding 7: Lightning's CSVLogger rewrites the whole metrics.csv (new header)
    each time a metric it has not logged appears, then appends. The follow said "was truncated;
    reading it again from its start", "step counter went back from 19 to 0; treated as a resumed
    run" and "2 rows with different values at step 0", and counted 148 records against the
    replay's 141. The rewrite's rows are the records read: they are read again silently."""
    pytest.importorskip("lightning")
    from lightning.fabric.loggers.csv_logs import _ExperimentWriter

    from phasewatch.io.reread import Reread

    rereads = []
    truncated = Reread.truncated
    monkeypatch.setattr(Reread, "truncated",
                        lambda self, notice: (rereads.append(notice), truncated(self, notice)))
    folder = tmp_path / "version_0"
    path = folder / "metrics.csv"
    follower = Follower(path, metric="val_acc", stop_on=(), idle_exit=1.5)
    follower.wait_for_message("does not exist yet")
    writer = _ExperimentWriter(str(folder))

    def log(metrics, step):  # as Lightning's logger connector: log_metrics, then save
        writer.log_metrics(metrics, step)
        writer.save()
        time.sleep(0.002)

    curve = eval_curve(120)
    log({"epoch": 0, "val_acc": curve[0][1], "val_loss": 1 - curve[0][1]}, 0)  # validate()
    follower.wait_for_message("following")  # read before the first rewrite
    for i, (step, acc) in enumerate(curve[1:], 1):
        log({"epoch": i // 20, "train_loss_step": 1.0 / i}, step - 5)  # a new column: rewrite
        log({"epoch": i // 20, "val_acc": acc, "val_loss": 1 - acc}, step)
        if i % 20 == 19:
            log({"epoch": i // 20, "train_loss_epoch": 1.0 / i}, step)  # another rewrite
    followed = follower.ends_by_itself()
    replayed, result = replay(path, metric="val_acc", stop_on=())
    assert rereads, follower.messages  # the follow did read the file again
    assert_same(followed, replayed)
    assert follower.watch.result.n_records == result.n_records == 1 + 119 * 2 + 6
    said = " | ".join(follower.messages)
    for text in ("truncated", "went back", "rows with different values"):
        assert text not in said, said


def test_a_rewrite_that_differs_is_said_and_read_again_from_its_top(tmp_path):
    """A file rewritten with other records (here a resumed run's logger reopened with "w"
    and a changed value at step 20) keeps its notice and is read from its top."""
    path = tmp_path / "metrics.csv"
    rows = [f"{s},{a}" for s, a in eval_curve(60)]
    path.write_text("step,val_acc\n" + "\n".join(rows[:30]) + "\n")
    follower = Follower(path, metric="val_acc", stop_on=(), idle_exit=1.0)
    follower.wait_for_message("following")
    rows[2] = "20,0.99"
    path.write_text("step,val_acc,train_loss\n" + "\n".join(f"{r}," for r in rows) + "\n")
    follower.ends_by_itself()
    said = " | ".join(follower.messages)
    assert "was truncated; reading it again from its start" in said, said
    assert "went back" in said, said
