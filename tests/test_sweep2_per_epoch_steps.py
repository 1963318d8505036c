"""A print-statement log whose step counts within the epoch (`Epoch 1 | Step 20/6501 | Loss: ...`:
the step starts again as the epoch advances). It was read as a resumed run, each epoch's records
superseding the one before (AnshDhalla1/PyTorch_finetune_GPT2's train.log in the second sweep:
1302 records read as 651 steps, the first epoch lost); now the step is counted over the epochs."""

from __future__ import annotations

import json

from phasewatch.cli import main
from phasewatch.io import read_run


def _lines(epochs: int, per_epoch: int, epoch_total: bool = False, step_total: bool = True,
           sep: str = "colon") -> str:
    out = []
    for e in range(epochs):
        for i in range(0, per_epoch, 10):
            g = e * per_epoch + i
            loss = 0.4 + 8 / (1 + g / 30)
            epoch = f"Epoch {e}/{epochs}" if epoch_total else f"Epoch {e}"
            step = f"Step {i:4d}/{per_epoch}" if step_total else f"Step {i}"
            items = (f"Loss: {loss:.4f} | PPL: {2.7 ** loss:.2f}" if sep == "colon"
                     else f"loss={loss:.4f} ppl={2.7 ** loss:.2f}")
            out.append(f"INFO:__main__:{epoch} | {step} | {items}")
    return "\n".join(out) + "\n"


def test_a_per_epoch_step_is_counted_over_the_epochs(tmp_path, capsys):
    log = tmp_path / "train.log"
    log.write_text(_lines(epochs=3, per_epoch=200))
    run = read_run(log)
    loss = run.series("Loss")
    assert len(loss) == 60  # every record kept: none superseded by the next epoch's
    assert list(loss.index[19:22]) == [190, 200, 210] and int(loss.index[-1]) == 590
    assert "max_steps" not in run.config  # `/200` is the epoch's length, not the run's
    assert any("counts within each epoch" in w for w in run.warnings)
    assert main(["watch", "--format", "jsonl", str(log)]) == 0
    summary = [json.loads(x) for x in capsys.readouterr().out.splitlines()][-1]
    assert summary["records"] == 60


def test_with_the_number_of_epochs_the_planned_length_is_theirs(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(_lines(epochs=2, per_epoch=100, epoch_total=True, sep="equals"))
    run = read_run(log)
    assert int(run.series("loss").index[-1]) == 190 and run.config["max_steps"] == 200


def test_without_a_total_the_steps_go_on_from_the_last_one(tmp_path):
    log = tmp_path / "train.log"
    log.write_text(_lines(epochs=2, per_epoch=100, step_total=False))
    steps = [int(s) for s in read_run(log).series("Loss").index]
    assert steps == sorted(set(steps)) and len(steps) == 20 and steps[10] == 91


def test_a_global_step_beside_its_epoch_is_left_as_it_is(tmp_path):
    log = tmp_path / "train.log"
    log.write_text("".join(f"epoch {s // 100} step {s} loss={1 / (1 + s):.5f}\n" for s in range(0, 400, 10)))
    run = read_run(log)
    assert [int(s) for s in run.series("loss").index] == list(range(0, 400, 10))
    assert not any("counts within each epoch" in w for w in run.warnings)
