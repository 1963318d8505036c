"""Epoch boundaries from HF's fractional epoch, whatever the log (`phasewatch.epochs`): the
trainer_state.json of a run had them, its TensorBoard log (`train/epoch`) had none, so the
figure of the same run drew no epoch lines and `inspect` listed no event (trial 35b, tb-llms:
a held-out loss stepping up at each new epoch)."""

from __future__ import annotations

import json

from phasewatch import read_run


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
