"""Epoch boundaries from HF's fractional epoch, whatever the log (`phasewatch.epochs`): the
trainer_state.json of a run had them, its TensorBoard log (`train/epoch`) had none, so the
figure of the same run drew no epoch lines and `inspect` listed no event (trial 35b, tb-llms:
a held-out loss stepping up at each new epoch)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phasewatch import read_run

CORPUS_WHISPER = (Path(__file__).resolve().parents[1] / "benchmarks" / "real_corpus" / "data"
                  / "hf-whisper-tiny-nb")


def _rows(epoch_name: str) -> list[dict]:
    # 223 steps an epoch, a row every 50 steps, three epochs
    return [{"step": s, epoch_name: round(s / 223, 4), "eval/loss": 1.0 + s / 1000}
            for s in range(50, 700, 50)]


def _boundaries(run) -> list[tuple[int, str]]:
    return [(e.step, e.detail) for e in run.events if e.name == "epoch_boundary"]


def test_a_jsonl_with_hfs_train_epoch_has_the_boundaries_of_its_trainer_state(tmp_path):
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in _rows("train/epoch")))
    state = tmp_path / "trainer_state.json"
    state.write_text(json.dumps({"log_history": _rows("epoch")}))
    expected = [(223, "epoch 1 begins"), (446, "epoch 2 begins")]
    assert _boundaries(read_run(log)) == expected
    assert _boundaries(read_run(state)) == expected


def test_steps_that_are_epochs_get_no_boundary_at_every_row(tmp_path):
    log = tmp_path / "history.csv"  # Keras' CSVLogger: the epoch is the step
    log.write_text("epoch,val_loss\n" + "".join(f"{e},{1.0 - e / 100}\n" for e in range(20)))
    run = read_run(log)
    assert run.step_unit == "epoch" and _boundaries(run) == []


def test_a_counter_that_goes_back_while_the_steps_go_on_makes_no_boundary(tmp_path):
    """Trial 40b, hf-whisper-tiny-nb: a streaming dataset's `epoch` fell 0.05 -> 0 at step 5050,
    5.06 -> 0 at 52050 and 1.06 -> 0 at 66050, and its 10 boundaries were listed and drawn as
    epochs of one run without a word."""
    rows = []
    for start, first in ((0, 0.0), (600, 0.0)):  # counted again from 0 at step 650
        rows += [{"step": s, "epoch": round(first + (s - start) / 223, 4), "loss": 1.0}
                 for s in range(start + 50, start + 650, 50)]
    state = tmp_path / "trainer_state.json"
    state.write_text(json.dumps({"log_history": rows}))
    run = read_run(state)
    assert _boundaries(run) == []
    [said] = [w for w in run.warnings if "goes back" in w]
    assert said.startswith("the log's epoch (epoch) goes back while the steps go on "
                           "(2.691 at step 600, 0.2242 at step 650)")


def test_each_stage_of_a_joined_run_counts_its_own_epochs():
    from phasewatch.epochs import epoch_events

    steps = np.arange(50, 1250, 50)
    # RL from 0 after 600, its first record (epoch 0) superseding SFT's last at the switch
    epochs = np.where(steps < 600, steps / 223, (steps - 600) / 223)
    said: list[str] = []
    events = epoch_events({"epoch": (steps, epochs)}, said, switches=[600])
    assert [(e.step, e.detail) for e in events] == [
        (223, "epoch 1 begins"), (446, "epoch 2 begins"), (823, "epoch 1 begins"),
        (1046, "epoch 2 begins")]
    assert said == []


@pytest.mark.skipif(not CORPUS_WHISPER.exists(), reason="the real-log corpus is not here")
def test_the_streaming_whisper_run_has_no_epoch_boundary():
    run = read_run(CORPUS_WHISPER)
    assert _boundaries(run) == []
    assert sum("goes back while the steps go on" in w for w in run.warnings) == 1


def test_the_rows_that_end_the_last_epoch_rounded_to_it_begin_no_epoch(tmp_path):
    """tb-classical-chinese-lora-trainloss: 2 epochs of 750 steps, HF's epoch logged rounded to
    two decimals, so steps 1497-1500 read 2.0; "epoch 2 begins" was listed and drawn at step
    1497, three steps before the run ended (llamafactory-luojiu-7b-trainloss: "epoch 3 begins"
    at 8700 of 8712). The boundary inside the run stays; a counter of which epoch each row is
    in (Lightning's) keeps its last epoch's boundary."""
    from phasewatch.epochs import epoch_boundaries

    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps({"step": s, "train/epoch": round(s / 750, 2),
                                       "train/loss": 1.0 / s ** 0.2}) + "\n"
                           for s in range(1, 1501)))
    assert _boundaries(read_run(log)) == [(747, "epoch 1 begins")]
    assert [e.step for e in epoch_boundaries([(0, 0), (9, 0), (14, 1), (19, 1), (24, 2), (29, 2)])
            ] == [10, 20]
