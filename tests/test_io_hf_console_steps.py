"""HF console logs: the optimizer step where the Trainer's banner fixes it, else the epoch.

Was (trial 28, finding 2): a console log's rows were always at epoch x 10,000, and `watch`
said "checkpoint to keep: step 13500", `sweep` recommended_step 13500 and `analyze --format
csv` 13500 for a run whose best evaluation was at optimizer step 900 (epoch 1.35).
"""

from __future__ import annotations

import csv
import io
import json
import random
import threading
import time

import pytest

import phasewatch
from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.io.hf_console import LineParser, TrainingBanner

BANNER = ("***** Running training *****\n  Num examples = {examples:,}\n  Num Epochs = {epochs:,}\n"
          "  Instantaneous batch size per device = {device:,}\n"
          "  Total train batch size (w. parallel, distributed & accumulation) = {total:,}\n"
          "  Gradient Accumulation steps = {accum}\n  Total optimization steps = {steps:,}\n"
          "  Number of trainable parameters = 124,439,808\n")


def accuracy(step: int, rng: random.Random) -> float:
    """A dip to step 150, a rise to its best at step 900, then a slow decline."""
    if step <= 150:
        level = 0.55 - 0.30 * step / 150
    elif step <= 900:
        level = 0.25 + 0.50 * (step - 150) / 750
    else:
        level = 0.75 - 0.10 * (step - 900) / 1100
    return 0.7649 if step == 900 else round(level + rng.gauss(0, 0.01), 4)


def console_lines(banner: str | None, per_epoch: int = 667, epochs: int = 3) -> list[str]:
    """What the Trainer prints (ProgressCallback's `f"{v:.4g}"` strings) for a run of
    `per_epoch` optimizer steps an epoch, evaluated every 50 steps."""
    rng = random.Random(28)
    lines = [] if banner is None else banner.splitlines(keepends=True)
    last = per_epoch * epochs
    for step in range(0, last + 1, 10):
        epoch = f"{step / per_epoch:.4g}"
        if step:
            lines.append(str({"loss": "1", "learning_rate": "1e-05", "epoch": epoch}) + "\n")
        if step % 50 == 0:
            lines.append(str({"eval_accuracy": f"{accuracy(step, rng):.4g}",
                              "eval_runtime": "1.5", "epoch": epoch}) + "\n")
    lines.append(str({"train_runtime": "100", "train_loss": "0.5", "epoch": str(epochs)}) + "\n")
    return lines


EXACT = BANNER.format(examples=5336, epochs=3, device=8, total=8, accum=1, steps=2001)
# the trial's banner: no batch lines, and 2,000 steps are no 3 epochs of whole steps
NO_BATCH = ("***** Running training *****\n  Num examples = 1000\n  Num Epochs = 3\n"
            "  Total optimization steps = 2000\n")


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def banner(text: str) -> TrainingBanner:
    found = TrainingBanner()
    for line in text.splitlines():
        found.feed(line)
    return found


@pytest.mark.parametrize("fields, expected", [
    # one process, no accumulation: ceil(5336 / 8) = 667 steps an epoch, 3 epochs
    ({"examples": 5336, "epochs": 3, "device": 8, "total": 8, "accum": 1, "steps": 2001}, 667),
    # max_steps 1500 ends the 3rd epoch early: still 667 an epoch
    ({"examples": 5336, "epochs": 3, "device": 8, "total": 8, "accum": 1, "steps": 1500}, 667),
    # 2 processes x 4 accumulated batches of 8: 5000 examples -> 313 batches each: 4 does
    # not divide them, so the epoch is not a whole number of steps
    ({"examples": 5000, "epochs": 2, "device": 8, "total": 64, "accum": 4, "steps": 158}, None),
    # 4 accumulated batches of 8 on one process: 640 examples -> 80 batches -> 20 steps
    ({"examples": 640, "epochs": 5, "device": 8, "total": 32, "accum": 4, "steps": 100}, 20),
    # steps that no count of epochs of 667 makes (a custom sampler, a dropped batch)
    ({"examples": 5336, "epochs": 3, "device": 8, "total": 8, "accum": 1, "steps": 2100}, None),
    # a total batch that is no whole number of processes
    ({"examples": 5336, "epochs": 3, "device": 8, "total": 12, "accum": 1, "steps": 2001}, None),
])
def test_steps_per_epoch_only_where_the_banner_fixes_them(fields, expected):
    assert banner(BANNER.format(**fields)).steps_per_epoch() == expected


def test_a_banner_without_the_batch_lines_fixes_nothing():
    assert banner(NO_BATCH).steps_per_epoch() is None
    # a streamed dataset (no length): Num Epochs 2**63 - 1
    streamed = BANNER.format(examples=8000, epochs=2**63 - 1, device=8, total=8, accum=1,
                             steps=1000)
    assert banner(streamed).steps_per_epoch() is None


def test_a_coarse_printed_epoch_falls_back_to_epochs():
    # older Trainers printed round(epoch, 2): 0.01 epoch is 6.67 of 667 steps
    parser = LineParser()
    for line in EXACT.splitlines():
        parser.feed(line, 0)
    parser.feed("{'loss': 1.0, 'epoch': 0.01}", 9)
    assert parser.per_epoch is None and parser.step_unit == "epoch/10000"
    parser = LineParser()  # 20 steps an epoch: 0.01 epoch is 0.2 step, exact
    for line in BANNER.format(examples=640, epochs=5, device=8, total=32, accum=4,
                              steps=100).splitlines():
        parser.feed(line, 0)
    assert parser.feed("{'loss': 1.0, 'epoch': 1.35}", 9)[0][0] == 27
    assert parser.step_unit == "step" and parser.settings == {"planned_steps": 100}


def test_rows_that_share_a_rounded_epoch_are_counted_in_the_note():
    """grpo-finqa (trial 35b): a GRPO run logged at every step with the epoch printed to 2
    decimals kept 53 of its 2400 rows; the note says how many are read (here 11 epoch values
    of 40 rows) and where the steps are."""
    parser = LineParser()
    for i in range(40):
        parser.feed(f"{{'loss': 0.1, 'reward': {i}, 'epoch': {round(i / 400, 2)}}}", i + 1)
    parser.feed("{'train_runtime': 10.0, 'epoch': 0.1}", 41)
    [note] = parser.notes
    assert note.startswith("29 of 40 log rows share their epoch value with the row before")
    assert "so 11 are read: the Trainer's trainer_state.json" in note


def test_a_banner_that_fixes_the_steps_gives_every_output_the_optimizer_step(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text("".join(console_lines(EXACT)))
    run = read_run(log)
    assert run.step_unit == "step" and run.config.get("planned_steps") == 2001
    assert 900 in run.series("eval_accuracy").index and "epoch" in run.columns()
    code, out, err = cli(capsys, "analyze", log, "--format", "json")
    [result] = json.loads(out)["runs"]
    assert code == 0 and result["recommended_stop_step"] == 900 and "step_unit" not in result
    code, out, _ = cli(capsys, "analyze", log)
    assert "recommended stop: step 900" in out and "x axis" not in out
    code, out, err = cli(capsys, "watch", log)
    assert "checkpoint to keep: step 900" in err and "13500" not in out + err
    code, out, _ = cli(capsys, "sweep", log, "--workers", "1", "--no-progress")
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row["recommended_step"] == "900" and row["step_unit"] == "step"


def test_without_a_step_every_output_says_the_epoch(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text("".join(console_lines(NO_BATCH)))
    code, out, _ = cli(capsys, "analyze", log)
    assert code == 0 and "recommended stop: epoch 1.349\n" in out and "13490" not in out
    assert "the rows read carry no training step: the JSON output's steps are epochs x 10,000" in out
    code, out, _ = cli(capsys, "analyze", log, "--format", "json")
    [result] = json.loads(out)["runs"]
    assert result["step_unit"] == "epoch/10000"
    assert result["x"]["recommended_stop"] == pytest.approx(1.349)
    code, out, _ = cli(capsys, "analyze", log, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["step_unit"] for r in rows} == {"epoch"}
    assert rows[0]["recommended_stop_step"] == "1.349" and "13490" not in out
    code, out, err = cli(capsys, "watch", log)
    assert "checkpoint to keep: epoch 1.349" in err and "up to epoch 3;" in err
    assert "13490" not in out + err and not any(l.startswith("step ") for l in out.splitlines())
    assert "at epoch 1.349:" in out
    code, out, _ = cli(capsys, "watch", log, "--format", "jsonl")
    events = [json.loads(line) for line in out.splitlines()]
    assert all(e["step_unit"] == "epoch/10000" for e in events)
    code, out, _ = cli(capsys, "sweep", log, "--workers", "1", "--no-progress")
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row["recommended_step"] == "1.349" and row["peak_step"] == "1.349"
    assert row["step_unit"] == "epoch"
    code, out, _ = cli(capsys, "analyze", log, log)  # the comparison table: epochs, said once
    header, *_, last = out.splitlines()[-3:]
    assert "stop epoch" in header and last.split()[3] == "1.349" and "13490" not in out
    code, out, _ = cli(capsys, "inspect", log)
    assert "best 0.7649 at epoch 1.349" in out and "13490" not in out
    # its figure names the stop in epochs, once (trial 36b: "stop (epoch 0.0014)" for epoch 14)
    code, _, err = cli(capsys, "plot", log, "-o", tmp_path / "one.png", "--data", tmp_path / "one.csv")
    assert code == 0, err
    [stop] = [r for r in csv.DictReader(io.StringIO((tmp_path / "one.csv").read_text())) if r["kind"] == "stop"]
    assert float(stop["step"]) == 13490 and float(stop["epoch"]) == pytest.approx(1.349)
    from phasewatch import plot
    run = read_run(log)
    analysis = phasewatch.analyze(run)
    analysis.recommended_stop_step = 20_000  # a whole epoch: "stop (epoch 2)" before relabelling
    fig = plot.phase_figure(run, analysis)
    plot.phase.stop_in_unit(fig, "epoch", lambda step: step / 10_000)
    assert "stop (epoch 2)" in [t.get_text() for lg in fig.legends for t in lg.get_texts()]
    # a figure of it beside a run in steps: no axis holds both, in either order (trial 35b)
    other = tmp_path / "other.jsonl"
    other.write_text("".join(f'{{"step": {s}, "eval/accuracy": 0.5}}\n' for s in range(0, 90, 10)))
    for pair in ((log, other), (other, log)):
        code, _, err = cli(capsys, "plot", *pair, "-o", tmp_path / "both.png")
        assert code == 2 and "its rows read carry no training step (they count epochs)" in err
        assert "--x step" not in err and not (tmp_path / "both.png").exists()


@pytest.mark.parametrize("banner_text", [EXACT, NO_BATCH], ids=["steps", "epochs"])
def test_a_followed_log_gives_the_steps_of_its_replay(tmp_path, capsys, banner_text):
    lines = console_lines(banner_text)
    log = tmp_path / "train.log"
    log.write_text("".join(lines))
    code, replayed, _ = cli(capsys, "watch", log, "--format", "jsonl")
    assert code == 0
    grown = tmp_path / "grown.log"
    grown.write_text("")

    def write():
        with open(grown, "a") as fh:
            for i, line in enumerate(lines):
                fh.write(line)
                fh.flush()
                if i % 40 == 0:
                    time.sleep(0.01)

    writer = threading.Timer(0.2, write)
    writer.start()
    try:
        code, followed, err = cli(capsys, "watch", grown, "--follow", "--idle-exit", "2",
                                  "--poll", "0.02", "--format", "jsonl")
    finally:
        writer.join()
    assert code == 0, err
    assert followed == replayed
    steps = [json.loads(line)["best_step"] for line in followed.splitlines()]
    assert steps[-1] == (900 if banner_text is EXACT else 13490)  # epoch 1.349
