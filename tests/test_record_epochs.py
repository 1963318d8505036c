import json

from phasewatch.io import read_run


def test_a_json_list_numbered_by_record_gets_epoch_boundaries_from_its_fractional_epoch(tmp_path):
    """A JSON list whose `epoch` is no integer is numbered by record; its epoch still counts
    passes over the training data, and the records where a new one begins are its boundaries
    (drawn, listed by inspect, and the steps a multi-epoch loss may take, as in any log)."""
    rows = [{"epoch": round(0.25 * (i + 1), 2), "train_loss": 2.0 - 0.05 * i,
             "val_loss": 1.5 + 0.1 * (i // 4) if i % 2 else None} for i in range(12)]
    path = tmp_path / "training_curve.json"
    path.write_text(json.dumps({"epoch_losses": rows}))
    run = read_run(path)
    assert run.step_unit == "record"
    # epoch 1 begins at the fourth record (epoch 1.0), epoch 2 at the eighth (2.0)
    assert [(e.step, e.detail) for e in run.events if e.name == "epoch_boundary"] == [
        (3, "epoch 1 begins"), (7, "epoch 2 begins")]
