"""A train loss that turns NaN and stays so is a run that diverged: `analyze` says so beside the
held-out metric it analyses (`phasewatch.diverged`), which shows only the consequence (a YOLOv3
Lightning run, csv-lightning-yolov3-valacc-35: nan from step 4599, its class accuracy at
3.6657 at every evaluation after)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from watch_follower import Follower, write_in_pieces

from phasewatch.cli import main
from phasewatch.live import LiveWatch


def _lightning_csv(path: Path, nan_from: int | None, glitch_at: int | None = None) -> Path:
    """A Lightning CSVLogger file: a train loss every 50 steps, a validation accuracy every
    500; the loss `nan` from step `nan_from` on, or at `glitch_at` alone."""
    rows = ["step,train_loss,val_acc"]
    for step in range(50, 10001, 50):
        broken = (nan_from is not None and step >= nan_from) or step == glitch_at
        rows.append(f"{step},{'nan' if broken else round(2.0 * math.exp(-step / 3000) + 0.5, 4)},")
        if step % 500 == 0:
            collapsed = nan_from is not None and step > nan_from
            acc = 3.6657 if collapsed else round(30 + 2 * math.sin(step / 700) + step / 2000, 4)
            rows.append(f"{step},,{acc}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _warnings(capsys, path: Path) -> list[str]:
    assert main(["analyze", str(path), "--metric", "val_acc", "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["runs"][0]["warnings"]


def test_a_loss_nan_to_its_end_is_said_beside_the_metric_it_broke(capsys, tmp_path):
    warnings = _warnings(capsys, _lightning_csv(tmp_path / "metrics.csv", nan_from=3050))
    said = [w for w in warnings if "diverged" in w]
    expected = ("train_loss is not a number (NaN or infinite) at each of its 140 records from "
                "step 3050 to its last, step 10000 (the last finite: 1.236 at step 3000): "
                "training diverged there, and the 14 values of val_acc from step 3500 on score "
                "the diverged model")
    assert said == [expected], warnings


def test_one_nan_loss_or_none_is_no_divergence(capsys, tmp_path):
    glitch = _lightning_csv(tmp_path / "glitch.csv", nan_from=None, glitch_at=3050)
    assert not [w for w in _warnings(capsys, glitch) if "diverged" in w]
    healthy = _lightning_csv(tmp_path / "healthy.csv", nan_from=None)
    assert not [w for w in _warnings(capsys, healthy) if "diverged" in w]


def test_watch_says_it_beside_its_whole_run_answer_replayed_and_followed(capsys, tmp_path):
    """`watch` run to the end gives the whole run's answer `analyze` gives, and must not leave
    out why the run collapsed (trial 48: a replay and a follow of csv-lightning-yolov3-valacc-35
    ended "whole run: disruption > plateau" without a word of the NaN train loss)."""
    source = _lightning_csv(tmp_path / "source.csv", nan_from=3050)
    expected = ("train_loss is not a number (NaN or infinite) at each of its 140 records from "
                "step 3050 to its last, step 10000")
    assert main(["watch", str(source), "--metric", "val_acc"]) == 0
    replayed = [line for line in capsys.readouterr().err.splitlines() if "diverged there" in line]
    assert len(replayed) == 1 and expected in replayed[0], replayed
    followed_path = tmp_path / "metrics.csv"
    follower = Follower(followed_path, metric="val_acc", stop_on=(), idle_exit=1.0)
    follower.wait_for_message("does not exist yet")
    write_in_pieces(followed_path, source.read_text())
    follower.ends_by_itself()
    followed = [m for m in follower.messages if "diverged there" in m]
    assert len(followed) == 1 and expected in followed[0], follower.messages
    healthy = _lightning_csv(tmp_path / "healthy.csv", nan_from=None)
    assert main(["watch", str(healthy), "--metric", "val_acc"]) == 0
    assert "diverged" not in capsys.readouterr().err


def test_a_follow_says_it_once_the_loss_is_nan_three_records_in_a_row(tmp_path):
    """Live the held-out metric shows a divergence only evaluations later, as a fall without a
    cause (trial 48: the YOLOv3 run's one alert came at step 7447, 57 records of NaN loss after
    step 4599): a follow says where the loss broke as soon as it is a state (`MIN_BROKEN`
    records), before the rest of the log is written, and once."""
    lines = _lightning_csv(tmp_path / "source.csv", nan_from=3050).read_text().splitlines()
    cut = lines.index("3150,nan,") + 1  # the third NaN record
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join(lines[:cut - 1]) + "\n")
    follower = Follower(path, metric="val_acc", stop_on=(), idle_exit=1.0)
    follower.wait_for_message("caught up")
    assert not [m for m in follower.messages if "diverged" in m]  # two NaN records: a glitch yet
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(lines[cut - 1] + "\n")
    follower.wait_for_message("training has diverged")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n".join(lines[cut:]) + "\n")
    follower.ends_by_itself()
    live = [m for m in follower.messages if "training has diverged" in m]
    assert len(live) == 1 and ("train_loss is not a number (NaN or infinite) at each of its 3 "
                               "records from step 3050 to step 3150 (the last finite: 1.236 at "
                               "step 3000)") in live[0], follower.messages


def test_a_loss_finite_again_after_the_note_is_said_to_be_so(tmp_path):
    """Three NaN records in a row are said as they come; the loss finite again after them is
    said too: then the run did not diverge to its end, and `analyze` reports nothing."""
    lines = _lightning_csv(tmp_path / "m.csv", nan_from=None).read_text().splitlines()
    for i, line in enumerate(lines):
        step, loss, _ = line.split(",")
        if step in ("3050", "3100", "3150") and loss:
            lines[i] = f"{step},nan,"
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join(lines) + "\n")
    messages: list[str] = []
    list(LiveWatch(path, metric="val_acc", notice=messages.append, info=lambda m: None).alerts())
    said = [m for m in messages if "train_loss" in m]
    assert len(said) == 2 and "training has diverged" in said[0], messages
    assert said[1].endswith("train_loss is finite again at step 3200 (1.188): the training said "
                            "to be broken goes on"), messages


def test_a_loss_never_a_number_is_said_as_broken_from_the_start(capsys, tmp_path):
    """An llm.c run whose loss was nan at each of its 901 steps (a reading of public logs) had
    its chance-level HellaSwag accuracy called constant, without a word of the loss."""
    warnings = _warnings(capsys, _lightning_csv(tmp_path / "metrics.csv", nan_from=50))
    said = [w for w in warnings if "not a number" in w]
    expected = ("train_loss is not a number (NaN or infinite) at each of its 200 records, "
                "from its first, step 50, to its last, step 10000: training was broken "
                "from its start, and the 20 values of val_acc score the broken model")
    assert said == [expected], warnings


def test_two_records_of_a_loss_never_a_number_say_nothing(capsys, tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,train_loss,val_acc\n50,nan,\n100,nan,\n"
                    + "".join(f"{s},,{0.3 + s / 10000}\n" for s in range(100, 1001, 100)))
    assert not [w for w in _warnings(capsys, path) if "not a number" in w]


def test_a_loss_not_a_number_from_its_first_record_is_said_broken_as_it_comes(tmp_path):
    """As `analyze` says of a loss never a number (an llm.c run, nan at each of its 901 steps),
    a watch says it once its first 3 records are not a number, not later, not again."""
    lines = ["step,train_loss,val_acc"] + [
        f"{s},nan," if s % 500 else f"{s},nan,0.25" for s in range(50, 2001, 50)]
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join(lines) + "\n")
    messages: list[str] = []
    list(LiveWatch(path, metric="val_acc", notice=messages.append, info=lambda m: None).alerts())
    said = [m for m in messages if "is broken from its start" in m]
    assert len(said) == 1 and said[0].endswith(
        "train_loss is not a number (NaN or infinite) at each of its first 3 records, from step "
        "50 to step 150: training is broken from its start, and every evaluation of val_acc from "
        "now on scores the broken model"), messages


def test_an_evaluation_before_the_first_loss_is_not_counted_as_broken(capsys, tmp_path):
    """An evaluation at step 0, before the first update, scored the model before any loss was
    computed: a loss never a number from step 50 on does not show that model broken."""
    path = _lightning_csv(tmp_path / "metrics.csv", nan_from=50)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], "0,,0.31"] + lines[1:]) + "\n")
    said = [w for w in _warnings(capsys, path) if "not a number" in w]
    expected = ("train_loss is not a number (NaN or infinite) at each of its 200 records, "
                "from its first, step 50, to its last, step 10000: training was broken from its "
                "start, and the 20 values of val_acc from step 500 on score the broken model")
    assert said == [expected], said
