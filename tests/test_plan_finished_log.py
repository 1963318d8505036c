"""A finished log's plan is not past its last step. A SpeechBrain recipe whose learning rate
decays linearly from 1e-3 to a floor of 1e-4 over its 35 epochs, then tests the best
checkpoint, was "planned to end at epoch 39 (where the learning rate's linear decay to 0, lr,
ends)" by `inspect` and `watch`: the decay to a floor read as one to 0 that ends four epochs
after the test line that says the run is over."""

from __future__ import annotations

import json
import math

from test_io_speechbrain_console import FileTrainLogger
from watch_follower import Follower, replay

from phasewatch.cli import main

EPOCHS = 35
READ_TO = "where the learning rate's linear decay to 0, `lr`, read from its rates would end at epoch 39"


def write_log(path, tested: bool = True) -> None:
    """35 epochs, the rate falling linearly from 1e-3 to 1e-4, then (`tested`) the test line of
    the checkpoint of epoch 33, which SpeechBrain writes after training."""
    logger = FileTrainLogger(path)
    for epoch in range(1, EPOCHS + 1):
        logger.log_stats({"Epoch": epoch, "lr": 1e-3 - 9e-4 * (epoch - 1) / (EPOCHS - 1)},
                         train_stats={"loss": 2.0 * math.exp(-epoch / 10) + 0.3},
                         valid_stats={"loss": 1.5 * math.exp(-epoch / 8) + 0.6,
                                      "error": 30 * math.exp(-epoch / 9) + 8})
    if tested:
        logger.log_stats({"Epoch loaded": 33}, test_stats={"loss": 0.66, "error": 8.93})


def test_inspect_says_the_finished_run_ends_at_its_last_epoch(tmp_path, capsys):
    log = tmp_path / "train_log.txt"
    write_log(log)
    assert main(["inspect", str(log)]) == 0
    out = capsys.readouterr().out
    assert ("planned to end at epoch 35 (the log says the run finished at epoch 35, "
            + READ_TO + ")") in out
    assert main(["inspect", str(log), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["planned_steps"] == 35
    # without the test line the run may go on: the decay's end stands
    unfinished = tmp_path / "unfinished" / "train_log.txt"
    unfinished.parent.mkdir()
    write_log(unfinished, tested=False)
    assert main(["inspect", str(unfinished)]) == 0
    assert "planned to end at epoch 39 (from the learning rate's linear decay to 0, `lr`)" \
        in capsys.readouterr().out


def test_watch_and_analyze_agree(tmp_path, capsys):
    log = tmp_path / "train_log.txt"
    write_log(log)
    _alerts, result = replay(log)
    assert result.finished and result.plan.steps == 35 and result.plan.origin == "finished"
    assert "planned length up to epoch 35 (the log says the run finished at epoch 35, where " \
           "the learning rate's linear decay to 0, `lr`, read from its rates would end at " \
           "epoch 39)" in result.describe(log)
    assert main(["analyze", str(log), "--format", "json"]) == 0
    said = json.dumps(json.loads(capsys.readouterr().out))
    assert "epoch 39" not in said and "plans" not in said


def test_a_follow_drops_the_decay_end_when_the_test_line_comes(tmp_path):
    log = tmp_path / "train_log.txt"
    write_log(log)
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:-1]))
    follower = Follower(log)
    follower.wait_for_message("planned length: up to epoch 39")
    follower.wait_for_message("caught up")
    assert follower.watch.plan.source.steps == 39  # the run may still go on
    with log.open("a") as handle:
        handle.write(lines[-1])
    follower.ends_by_itself()
    result = follower.watch.result
    assert result.reason == "finished" and result.plan.steps == 35
    assert READ_TO in result.describe(log)  # the words inspect says it by
