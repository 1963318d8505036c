"""`watch --follow` at its edges, as a new user met them (session 27 trial): a follow that
never read a record, a --metric that never appears, the messages while holding records."""

from __future__ import annotations

import json
import re
import threading

import pytest
from test_watch import curve_records, run_cli, write_run
from watch_follower import Follower

from phasewatch.errors import UsageError
from phasewatch.live import LiveWatch


# ------------------------------------------------------------------ no record ever read
def test_a_follow_of_a_path_that_never_appears_exits_3_as_its_replay(tmp_path, capsys):
    # Was: exit 0, "watched no records of ... (idle)" and a summary "None: phase no
    # significant change yet, best step -": a CI step could not tell it from a clean run.
    never = tmp_path / "runs" / "sft400"
    code, out, err = run_cli(capsys, never, "--follow", "--idle-exit", "0.3", "--poll", "0.02",
                             "--format", "jsonl")
    assert code == 3 == run_cli(capsys, never)[0]
    assert out == ""  # no summary of a watch of nothing, as a replay prints none
    assert re.search(rf"error: no record was read from {re.escape(str(never))} in 0\.\d s of "
                     rf"following \(idle\); {re.escape(str(never))}: no such file or folder", err)
    assert "None:" not in err
    # what to do (trial 33: started before `phasewatch train`, which pre-trains ~95 s first)
    assert ". To wait longer for it to appear, give a longer --idle-exit" in err
    assert "pre-trains its starting policy, once per seed" in err
    assert "a trainer creates its log only once it has set up" in err  # any trainer, not ours


def test_a_followed_log_without_records_exits_3_with_the_replays_message(tmp_path, capsys):
    log = tmp_path / "metrics.csv"
    log.write_text("step,loss\n")
    code, _, replayed = run_cli(capsys, log)
    assert code == 3
    replayed = replayed.removeprefix("phasewatch: error: ").strip()
    code, out, err = run_cli(capsys, log, "--follow", "--idle-exit", "0.3", "--poll", "0.02",
                             "--format", "jsonl")
    assert code == 3 and out == ""
    assert f"error: no record was read from {log} in " in err and err.strip().endswith(replayed)
    assert "--idle-exit" not in err  # the log is there: the trainer's pre-training is not why


def test_a_run_that_finished_without_a_record_exits_3_when_followed(tmp_path, capsys):
    run = write_run(tmp_path / "run", [])
    meta = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**meta, "status": "finished"}))
    code, out, err = run_cli(capsys, run, "--follow", "--poll", "0.02", "--format", "jsonl")
    assert code == 3 and out == ""
    assert f"no record was read from {run} in " in err
    assert "of following (the log says the run finished)" in err


def test_a_follow_stopped_before_any_record_says_so_not_none(tmp_path):
    # Ctrl-C / SIGTERM end a watch cleanly with its summary (exit 0): the summary says that no
    # record was read, not "None: phase no significant change yet".
    stop = threading.Event()
    stop.set()
    watch = LiveWatch(tmp_path / "not-yet.jsonl", follow=True, stop=stop, poll=0.01,
                      notice=lambda m: None, info=lambda m: None)
    assert list(watch.alerts()) == []
    summary = watch.result.to_dict()
    assert summary["message"].startswith(f"no record was read from {tmp_path / 'not-yet.jsonl'} in ")
    assert summary["metric"] is None and summary["records"] == 0
    line = watch.result.describe(watch.path)
    assert "no record was read" in line and line.endswith("(interrupted)") and "None" not in line



def test_a_follow_stopped_after_its_records_says_it_was_interrupted(tmp_path):
    # Trial 61: a follow ended by Ctrl-C / SIGTERM said "...; whole run: disruption >
    # readaptation > plateau, checkpoint to keep: step 290" with no word of why it ended, where
    # an idle one says "idle, ended": read as the end of a run that was still training.
    run = write_run(tmp_path / "run", curve_records(60))
    stop = threading.Event()
    watch = LiveWatch(run, follow=True, stop=stop, poll=0.02, idle_exit=30,
                      notice=lambda m: None, info=lambda m: None)
    threading.Timer(0.5, stop.set).start()
    list(watch.alerts())
    assert watch.result.reason == "interrupted" and watch.result.n_values == 60
    line = watch.result.describe(watch.path)
    assert "; interrupted, ended (the run may still be training); whole run: " in line


# ------------------------------------------------------------------ a --metric never logged
def test_a_metric_that_never_appears_in_a_followed_log_is_exit_2_as_in_the_replay(tmp_path,
                                                                                 capsys):
    # Was: exit 0 with "eval/acc: phase no significant change yet".
    run = write_run(tmp_path / "run", curve_records(60))
    code, _, replayed = run_cli(capsys, run, "--metric", "eval/acc")
    assert code == 2 and "eval/accuracy" in replayed
    code, out, err = run_cli(capsys, run, "--follow", "--idle-exit", "0.3", "--poll", "0.02",
                             "--metric", "eval/acc", "--format", "jsonl")
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == replayed.strip()  # the same message, the same list


def test_holding_for_a_metric_passed_with_metric_does_not_advise_passing_metric(tmp_path):
    run = write_run(tmp_path / "run", curve_records(20))
    said: list[str] = []
    watch = LiveWatch(run, follow=True, metric="eval/acc", idle_exit=0.3, poll=0.02,
                      notice=said.append, info=said.append)
    with pytest.raises(UsageError, match="no metric 'eval/acc' in this run"):
        list(watch.alerts())
    holding = [m for m in said if "holding them" in m]
    assert holding == ["no 'eval/acc' in the records yet; holding them until it appears or the log ends"]
    assert not any("pass --metric" in m for m in said)


def test_a_follow_caught_up_with_its_metric_read_does_not_say_it_is_not_there(tmp_path):
    # Was (session 49 trial, a YOLO results.csv and a Tinker metrics.jsonl followed with
    # --metric): "no 'metrics/mAP50-95(B)' in the records yet; holding them ..." when the file's
    # first row held it: the records wait only for that step to be complete (its next step).
    log = tmp_path / "results.csv"
    log.write_text("epoch,train/loss,val/acc\n1,2.1,0.008\n")
    follower = Follower(log, stop_on=(), idle_exit=0.5, metric="val/acc")
    follower.wait_for_message("caught up after 1 record")
    with open(log, "a", encoding="utf-8") as fh:
        fh.write("2,2.0,0.007\n3,1.9,0.012\n")
    follower.ends_by_itself()
    assert not any("holding them" in m or "in the records yet" in m for m in follower.messages)
    assert follower.watch.result.to_dict()["values"] == 3


# ------------------------------------------------------------------ small inconsistencies
def test_caught_up_after_one_record_is_singular(tmp_path):
    log = tmp_path / "metrics.jsonl"
    log.write_text('{"step": 0, "eval/accuracy": 0.5}\n')
    said: list[str] = []
    watch = LiveWatch(log, follow=True, idle_exit=0.2, poll=0.02, notice=said.append,
                      info=said.append)
    list(watch.alerts())
    assert f"following {log} (caught up after 1 record; Ctrl-C to stop)" in said


def test_a_followed_run_folder_names_its_log_file(tmp_path):
    # Was: "run: following ., the folder's log" (trial 33: the native source's path is the
    # folder; the file it follows is metrics.jsonl).
    run = write_run(tmp_path / "run", curve_records(20))
    said: list[str] = []
    watch = LiveWatch(run, follow=True, idle_exit=0.2, poll=0.02, notice=said.append,
                      info=said.append)
    list(watch.alerts())
    assert f"{run}: following metrics.jsonl, the folder's log (as a replay and `analyze` of it " \
           "read it)" in said
    assert not any("following ." in m for m in said)


def test_the_stop_file_is_a_normal_file_readable_by_others(tmp_path, capsys):
    # Was: mode 0600 (mkstemp's), so a trainer running as another user could not read it.
    import os
    import stat

    run = write_run(tmp_path / "run", curve_records())
    for umask, mode in ((0o022, 0o644), (0o027, 0o640)):
        stop_file = tmp_path / f"STOP-{umask:o}"
        before = os.umask(umask)
        try:
            code, _, _ = run_cli(capsys, run, "--stop-on", "overfit", "--stop-file", stop_file)
        finally:
            os.umask(before)
        assert code == 1
        assert stat.S_IMODE(stop_file.stat().st_mode) == mode


def test_a_followed_and_a_replayed_watch_that_stop_count_the_same_records(tmp_path):
    # Was: 85 followed, 86 replayed on the trial's log: the replay fed the stopping step when
    # the next step's first row arrived, and counted that row although it was never watched.
    from watch_follower import Follower

    records = curve_records()
    lines = [json.dumps(r) + "\n" for r in records]
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(lines))
    replay = LiveWatch(log, stop_on=("overfit",), notice=lambda m: None, info=lambda m: None)
    replayed = list(replay.alerts())
    assert replay.stopped and replayed[-1].event == "overfit"
    stop_step = replayed[-1].step
    # the follower reads up to the stopping step's last row in one read, then stops there
    upto = max(i for i, r in enumerate(records) if r["step"] == stop_step) + 1
    followed_log = tmp_path / "followed" / "metrics.jsonl"
    followed_log.parent.mkdir()
    followed_log.write_text("".join(lines[:upto]))
    follower = Follower(followed_log, stop_on=("overfit",), idle_exit=5.0)
    followed = follower.ends_by_itself()
    with open(followed_log, "a", encoding="utf-8") as fh:
        fh.writelines(lines[upto:])
    assert follower.watch.stopped and followed == replayed
    assert follower.watch.result.n_records == replay.result.n_records == upto
    keys = ("step", "records", "phase", "live_best_step")  # (the whole run's: another file)
    assert [follower.watch.result.to_dict()[k] for k in keys] == \
        [replay.result.to_dict()[k] for k in keys]


def test_a_held_out_accuracy_that_starts_an_evaluation_later_is_waited_for(tmp_path, capsys):
    """The val loss logged from step 0, the accuracy from the second evaluation on (llm.c's
    HellaSwag): the loss had 3 values first and watch chose it, while analyze takes the
    accuracy (ranked first) from the whole log. The choice now waits for the accuracy."""
    log = tmp_path / "metrics.jsonl"
    rows = []
    for i, record in enumerate(r for r in curve_records(60) if "eval/accuracy" in r):
        rows.append({"step": record["step"], "val_loss": round(2.0 - record["eval/accuracy"], 6)})
        if i:
            rows.append({"step": record["step"], "val_accuracy": record["eval/accuracy"]})
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    from phasewatch.cli import main

    assert main(["analyze", "--format", "json", str(log)]) == 0
    analyzed = json.loads(capsys.readouterr().out)["runs"][0]
    code, out, _ = run_cli(capsys, log, "--format", "jsonl")
    assert code == 0 and analyzed["metric"] == json.loads(out.splitlines()[-1])["metric"] == "val_accuracy"


def test_a_held_out_role_no_longer_logged_is_not_waited_for(tmp_path, capsys):
    """A run that evaluates its accuracy once before training (step 0) and its val loss at every
    evaluation: analyze takes the loss (the accuracy has 1 value), and the live choice must take
    it once the loss has its values, not hold every record, silent, until the log ends waiting
    for an accuracy that is no longer logged (a --follow of such a run said no alert until the
    run had ended). The accuracy is waited for while it is logged beside the loss (llm.c's
    HellaSwag, from its second evaluation on: the test above)."""
    from types import SimpleNamespace

    from phasewatch.io.source import Record
    from phasewatch.live_choice import MetricChoice

    source = SimpleNamespace(info=SimpleNamespace(performance_metric=None))
    records = [Record(0, {"val_accuracy": 0.25, "val_loss": 3.0})] + [
        Record(100 * k, {"val_loss": 1.0 + 2.0 / (k + 1)}) for k in range(1, 8)]
    choice = MetricChoice()
    chosen_at = next((r.step for r in records if choice.hold(r, source)), None)
    assert choice.ready_step is not None and chosen_at is not None and chosen_at <= 400, \
        (choice.ready_step, chosen_at)
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps({"step": r.step, **r.values}) + "\n" for r in records))
    from phasewatch.cli import main

    assert main(["analyze", "--format", "json", str(log)]) == 0
    analyzed = json.loads(capsys.readouterr().out)["runs"][0]
    code, out, _ = run_cli(capsys, log, "--format", "jsonl")
    assert code == 0 and analyzed["metric"] == json.loads(out.splitlines()[-1])["metric"] == "val_loss"


def test_the_holding_message_names_the_role_waited_for(tmp_path, capsys):
    """A follow that catches up while the val loss has 3 values and the accuracy (ranked
    before it, llm.c's HellaSwag from its second evaluation on) 2: "no held-out metric with 3
    values yet" was said beside a loss with 3; the message names both."""
    log = tmp_path / "metrics.jsonl"
    rows = [{"step": 0, "val_loss": 3.0}]
    for step, loss, accuracy in ((250, 2.5, 0.26), (500, 2.2, 0.27)):
        rows += [{"step": step, "val_loss": loss}, {"step": step, "val_accuracy": accuracy}]
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    _, _, err = run_cli(capsys, log, "--follow", "--idle-exit", "0.3", "--poll", "0.02")
    assert "no held-out metric with 3 values yet" not in err
    assert ("val_loss has 3 values, but val_accuracy, which analyze takes before it, has "
            "fewer and is logged beside it; holding the records") in err, err
