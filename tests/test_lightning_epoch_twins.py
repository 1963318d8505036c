"""Lightning's `self.log("train_loss", ..., on_step=True, on_epoch=True)` writes two series:
`train_loss_step` (a batch's loss every `log_every_n_steps`) and `train_loss_epoch` (the
epoch's mean, at its last step, where `val_loss` is logged). The train loss is the series at
the validation's cadence: the epoch's mean beside a validation once an epoch, the batches'
beside one several times an epoch (`val_check_interval`; a run stopped by `max_steps` within its
first epoch logs the epoch's mean once, and its train loss judged a held-out rise by one
reading); alone, or beside a validation logged once or twice, the epoch's mean where it has
3 values. `watch` chooses on the records up to the step after the third validation: the same
series. Such a run's epoch is 0 on every row, and
`--x epoch` printed every phase as "0 -> 0"."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from phasewatch import read_run
from phasewatch.cli import main
from phasewatch.diverged import diverged_note
from phasewatch.signals import choose_metric

HEADER = "epoch,step,train_loss_epoch,train_loss_step,val_loss"


def metrics_csv(tmp_path, epochs: int, per_epoch: int, validate: bool = True,
                nan_from: int | None = None, val_every: int | None = None) -> str:
    """A CSVLogger file as Lightning writes it: a row per `log_every_n_steps` (10) batches, a
    validation's row every `val_every` batches (else at an epoch's last batch), and at an
    epoch's last batch the epoch's own row."""
    rows = [HEADER]
    for epoch in range(epochs):
        for step in range(epoch * per_epoch + 9, (epoch + 1) * per_epoch, 10):
            loss = math.nan if nan_from is not None and step >= nan_from else 2.0 / (1 + step / 50)
            rows.append(f"{epoch},{step},,{loss},")
            if validate and val_every and (step + 1) % val_every == 0:
                rows.append(f"{epoch},{step},,,{1.0 + 50 / (step + 100)}")
        last = (epoch + 1) * per_epoch - 1
        if validate and not val_every:
            rows.append(f"{epoch},{last},,,{1.0 + 0.5 / (1 + epoch)}")
        rows.append(f"{epoch},{last},{2.0 / (1 + last / 80)},,")
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join(rows) + "\n")
    return str(path)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def role_of(inspect_text: str, name: str) -> str:
    row = next(line for line in inspect_text.splitlines() if line.startswith(name + " "))
    return row.split()[-1]


def test_the_train_loss_is_the_epochs_mean_beside_a_validation_each_epoch(tmp_path, capsys):
    path = metrics_csv(tmp_path, epochs=8, per_epoch=100)
    run = read_run(path)
    assert run.own_name("train/loss") == "train_loss_epoch"
    code, out, _ = cli(capsys, "inspect", path)
    assert code == 0 and role_of(out, "train_loss_epoch") == "train/loss"
    assert role_of(out, "train_loss_step") != "train/loss"
    # with no validation the train loss analysed is the epoch's mean too
    alone = read_run(metrics_csv(tmp_path, epochs=8, per_epoch=100, validate=False))
    assert alone.resolve_metric(choose_metric(alone)) == "train_loss_epoch"


def test_a_run_stopped_by_max_steps_in_its_first_epoch_takes_the_step_series(tmp_path, capsys):
    path = metrics_csv(tmp_path, epochs=1, per_epoch=600, validate=False)
    run = read_run(path)
    assert run.column("train_loss_epoch").values.size == 1
    assert run.own_name("train/loss") == "train_loss_step"
    assert run.resolve_metric(choose_metric(run)) == "train_loss_step"
    code, out, _ = cli(capsys, "inspect", path)
    assert code == 0 and role_of(out, "train_loss_step") == "train/loss"
    code, out, _ = cli(capsys, "analyze", path)
    assert code == 0 and "metric train_loss_step (min)" in out and "one reading" not in out


def test_x_epoch_on_a_run_that_never_left_its_first_epoch_is_a_usage_error(tmp_path, capsys):
    path = metrics_csv(tmp_path, epochs=1, per_epoch=600)
    code, out, err = cli(capsys, "analyze", path, "--x", "epoch")
    assert code == 2 and out == ""
    assert ("--x epoch: this log's epoch is 0 at every one of its 60 values (steps 9-599): no "
            "epoch passed (a run stopped by max_steps within its first epoch); use --x step") in err
    assert cli(capsys, "analyze", metrics_csv(tmp_path, 3, 100), "--x", "epoch")[0] == 0


def test_a_divergence_is_read_from_the_batches_loss(tmp_path):
    run = read_run(metrics_csv(tmp_path, epochs=8, per_epoch=100, nan_from=650))
    note = diverged_note(run, "val_loss")
    assert note is not None and note.startswith("train_loss_step is not a number")


@pytest.mark.parametrize("epochs, val_every, alone, expected", [
    (3, None, False, "train_loss_epoch"),  # a validation an epoch: its cadence
    (2, None, False, "train_loss_step"),  # 2 validations: no cadence, no trend (as alone)
    (4, 100, False, "train_loss_step"),  # 7.5 validations an epoch (val_check_interval)
    (6, 400, False, "train_loss_epoch"),  # 1.875 an epoch, by global step: fewer than 2
    (1, 100, False, "train_loss_step"),  # max_steps within the first epoch
    (2, None, True, "train_loss_step"),  # alone: 2 epochs' means show no trend
    (3, None, True, "train_loss_epoch"),
])
def test_the_train_loss_is_the_series_at_the_validations_cadence(tmp_path, epochs, val_every,
                                                                 alone, expected):
    path = metrics_csv(tmp_path, epochs=epochs, per_epoch=750, val_every=val_every,
                       validate=not alone)
    assert read_run(path).own_name("train/loss") == expected


def test_a_run_stopped_by_max_steps_and_validated_once_at_its_end_takes_the_step_series(
        tmp_path, capsys):
    """`max_steps` within the first epoch, the validation at its end: `val_loss` and
    `train_loss_epoch` once, at the last step, beside 60 readings of `train_loss_step`. One
    validation has no cadence to match: the train loss is the batches' curve, as with none."""
    path = metrics_csv(tmp_path, epochs=1, per_epoch=600)
    run = read_run(path)
    assert run.column("val_loss").values.size == run.column("train_loss_epoch").values.size == 1
    assert run.own_name("train/loss") == "train_loss_step"
    code, out, _ = cli(capsys, "inspect", path)
    assert code == 0 and role_of(out, "train_loss_step") == "train/loss"
    assert role_of(out, "train_loss_epoch") != "train/loss"
    code, out, _ = cli(capsys, "analyze", path, "--metric", "train/loss")
    assert code == 0 and "metric train_loss_step (min)" in out and "one reading" not in out


@pytest.mark.parametrize("val_every", [None, 100, 400])
def test_watch_holding_records_to_the_third_validation_chooses_the_same_series(tmp_path,
                                                                               val_every):
    """`live_choice` holds the records up to the first of a later step than the third
    validation's: the train loss `watch` follows beside the held-out loss is read off them.
    A validation every 400 steps in 750-step epochs has 3 when one epoch has ended (3 to 1),
    11 in the whole log's 6 (11 to 6): the validations are counted within the epochs ended."""
    from phasewatch.expert_data import watched_train_loss

    path = metrics_csv(tmp_path, epochs=6, per_epoch=750, val_every=val_every)
    lines = Path(path).read_text().splitlines()
    val_steps = [int(line.split(",")[1]) for line in lines[1:] if line.split(",")[4]]
    third = val_steps[2]
    held = [lines[0]] + [line for line in lines[1:] if int(line.split(",")[1]) <= third]
    prefix = tmp_path / "held" / "metrics.csv"
    prefix.parent.mkdir()
    prefix.write_text("\n".join(held) + "\n")
    whole = read_run(path)
    assert watched_train_loss(read_run(prefix), "val_loss") == whole.own_name("train/loss") \
        == watched_train_loss(whole, "val_loss")
