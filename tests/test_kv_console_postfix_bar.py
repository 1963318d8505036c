"""A tqdm bar over an epoch with a postfix, as Lightning's TQDMProgressBar draws it in a saved
console (`Epoch 3: 100%|...| 30/30 [00:00<00:00, 35.1it/s, v_num=0, train_loss_step=0.138,
val_loss=0.423, val_acc=0.800, train_loss_epoch=0.298]`): every draw was a record at its epoch,
so the running values of unfinished draws and, before the epoch's validation, the previous
epoch's `val_loss` were rows of the epoch beside its own ("logged several times at one step
with different values" on every series; a run drawing as many rows every epoch read their
mean), and `v_num`, the logger's version, was a series."""

from __future__ import annotations

import pytest

from phasewatch.io import read_run

PER_EPOCH = 30
VAL_LOSS = [0.435, 0.423, 0.422, 0.438, 0.457, 0.475]
VAL_ACC = [0.78, 0.80, 0.82, 0.82, 0.81, 0.81]
EPOCH_LOSS = [0.500, 0.298, 0.247, 0.218, 0.200, 0.184]
STEP_LOSS = [0.182, 0.138, 0.131, 0.124, 0.121, 0.120]


def draw(epoch: int, n: int, postfix: dict[str, float]) -> str:
    items = "".join(f", {name}={value:.3f}" for name, value in postfix.items())
    items = items.replace("v_num=0.000", "v_num=0")
    return (f"Epoch {epoch}: {100 * n // PER_EPOCH:3d}%|{'#' * (10 * n // PER_EPOCH):10s}| "
            f"{n}/{PER_EPOCH} [00:00<00:00, 35.13it/s{items}]")


def lightning_console(epochs: int = 6) -> str:
    """Lightning's draws as a file holds them ('\\r' between redraws): each epoch's draws at
    10, 20 and 30 batches with the values logged so far, its validation bar, the finished
    draw redrawn with the validation's values and then with the epoch's mean, the bar's reset;
    the last line with what the script printed after fit on stdout."""
    shown: dict[str, float] = {"v_num": 0}
    draws = []
    for epoch in range(epochs):
        for n in (10, 20, 30):
            draws.append(draw(epoch, n, shown))
            shown["train_loss_step"] = STEP_LOSS[epoch] + (30 - n) / 100
            draws.append(draw(epoch, n, shown))
        draws += ["Validation DataLoader 0: 100%|##########| 2/2 [00:00<00:00, 74.88it/s]"]
        shown.update(val_loss=VAL_LOSS[epoch], val_acc=VAL_ACC[epoch])
        draws.append(draw(epoch, 30, shown))
        shown["train_loss_epoch"] = EPOCH_LOSS[epoch]
        draws.append(draw(epoch, 30, shown))
        draws.append(draw(epoch, 0, shown))
    draws[-1] = draws[-2] + "`Trainer.fit` stopped: `max_epochs=6` reached."
    return "GPU available: False, used: False\n" + "\r".join(draws) + "\n"


def test_each_epoch_is_read_once_at_its_last_finished_draw(tmp_path):
    path = tmp_path / "train.log"
    path.write_text(lightning_console())
    run = read_run(path)
    assert run.n_records == 6 and run.warnings == []
    assert sorted(run.metrics) == ["train_loss_epoch", "train_loss_step", "val_acc", "val_loss"]
    for name, values in (("val_loss", VAL_LOSS), ("val_acc", VAL_ACC),
                         ("train_loss_epoch", EPOCH_LOSS), ("train_loss_step", STEP_LOSS)):
        series = run.series(name)
        assert series.index.tolist() == list(range(6)), name
        assert series.tolist() == pytest.approx(values), name


def test_a_loop_killed_within_an_epoch_keeps_its_finished_epochs(tmp_path):
    """The last epoch's unfinished draws hold running values: no record."""
    text = lightning_console(4)
    cut = text.rindex("Epoch 3:  66%")
    path = tmp_path / "train.log"
    path.write_text(text[:cut] + "\n")
    run = read_run(path)
    assert run.series("val_loss").index.tolist() == [0, 1, 2]
    assert run.series("val_loss").tolist() == pytest.approx(VAL_LOSS[:3])


def test_a_loops_postfix_bar_drawn_as_often_every_epoch_reads_its_last_draw(tmp_path):
    """`set_postfix(loss=...)` drawn twice an epoch: read as two rows of every epoch, the mean
    of the running and the final value was each epoch's reading (0.85 for 0.8)."""
    finals = [0.8, 0.5, 0.3, 0.2]
    path = tmp_path / "train.log"
    path.write_text("".join(
        f"Epoch {e}:  50%|#####     | 50/100 [00:01<00:01, 50it/s, loss={final + 0.1:.3f}]\n"
        f"Epoch {e}: 100%|##########| 100/100 [00:02<00:00, 50it/s, loss={final:.3f}]\n"
        for e, final in enumerate(finals)))
    run = read_run(path)
    assert run.series("loss").tolist() == pytest.approx(finals) and run.warnings == []
