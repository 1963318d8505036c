"""Lightning's `trainer.validate()` after `fit` (`phasewatch.io.lightning_after_fit`): logged one
step past the last and in an epoch no training row has, it evaluates weights the curve has a
point for (fit's last, or the checkpoint `ckpt_path` loads) and is no point of the curve. The
logs are written by Lightning itself: a real Trainer, CSVLogger and TensorBoardLogger."""

from __future__ import annotations

import logging
import warnings

import pytest
from watch_follower import assert_same, eval_curve, follow_while_written, replay

import phasewatch
from phasewatch import read_run

pl = pytest.importorskip("lightning.pytorch")
torch = pytest.importorskip("torch")
loggers = pytest.importorskip("lightning.pytorch.loggers")


class Tiny(pl.LightningModule):
    """A linear classifier that logs `train_loss`, `val_loss`, `val_acc` and `test_loss`."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 2)

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.layer(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, _):
        x, y = batch
        out = self.layer(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(out, y))
        self.log("val_acc", (out.argmax(1) == y).float().mean())

    def test_step(self, batch, _):
        x, y = batch
        self.log("test_loss", torch.nn.functional.cross_entropy(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


def loader(seed: int, batch_size: int):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 4, generator=generator)
    y = (x[:, 0] + 0.5 * torch.randn(64, generator=generator) > 0).long()
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size)


def fit_then(tmp_path, logger: str, after, mode: str = "min", epochs: int = 4, **trainer):
    """Fit `Tiny` (8 batches an epoch, validation at each epoch's end: steps 7, 15, 23, 31 for
    4 epochs), call each of `after(trainer, model, val)` after fit; the log's folder."""
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    kind = loggers.CSVLogger if logger == "csv" else loggers.TensorBoardLogger
    log = kind(str(tmp_path), name="exp")
    checkpoint = pl.callbacks.ModelCheckpoint(monitor="val_loss", mode=mode)
    trainer = pl.Trainer(max_epochs=epochs, logger=log, callbacks=[checkpoint],
                         enable_progress_bar=False, enable_model_summary=False,
                         log_every_n_steps=2, **trainer)
    model, val = Tiny(), loader(1, 16)
    trainer.fit(model, loader(0, 8), val)
    for call in after:
        call(trainer, model, val)
    return tmp_path / "exp" / "version_0"


def validate(trainer, model, val):
    trainer.validate(model, val, verbose=False)


def validate_other_data(trainer, model, _):
    """The final weights on other data (a split redrawn by `random_split` at each setup)."""
    trainer.validate(model, loader(2, 16), verbose=False)


def validate_best(trainer, _, val):
    trainer.validate(ckpt_path="best", dataloaders=val, verbose=False)


def run_test(trainer, model, val):
    trainer.test(model, val, verbose=False)


def test_final_weights_validated_on_other_data_after_fit_are_no_last_point(tmp_path):
    folder = fit_then(tmp_path, "csv", [validate_other_data, run_test])
    path = folder / "metrics.csv"
    run = read_run(path)
    acc = run.series("val_acc")
    assert acc.index.tolist() == [7, 15, 23, 31]  # not step 32, validate()'s
    assert run.series("test_loss").index.tolist() == [32]  # a test metric: no curve's, kept
    note = next(w for w in run.warnings if "after fit" in w)
    lines = path.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("4,32,,,0."))
    assert note.startswith(f"metrics.csv line {line}: a validation logged after fit (step 32, "
                           "epoch 4: val_acc ")
    assert f"(step 31: {acc[31]:.4g})" in note and "other results" in note
    assert phasewatch.analyze(path).recommended_stop_step <= 31


def test_the_same_validation_again_after_fit_is_left_out_without_a_word(tmp_path):
    run = read_run(fit_then(tmp_path, "csv", [validate]) / "metrics.csv")
    assert run.series("val_loss").index.tolist() == [7, 15, 23, 31]
    assert not any("after fit" in w for w in run.warnings), run.warnings


def test_best_checkpoint_validated_after_fit_is_that_checkpoint_again(tmp_path):
    """`mode="max"` on val_loss makes epoch 0 (step 7) the best checkpoint: validate with
    ckpt_path="best" logs its results exactly, at step 32, in TensorBoard's events."""
    pytest.importorskip("tensorboard")
    folder = fit_then(tmp_path, "tensorboard", [validate_best], mode="max")
    run = read_run(folder)
    assert run.series("val_acc").index.tolist() == [7, 15, 23, 31]
    assert run.series("epoch").index.max() == 31  # its epoch event goes with it
    note = next(w for w in run.warnings if "after fit" in w)
    assert note.startswith("events.out.tfevents.") and "checkpoint of step 7 evaluated again" in note


def test_final_weights_fit_did_not_validate_are_a_point_and_the_best_again_is_not(tmp_path):
    """Validation every second epoch (steps 15 and 31 of 5 epochs, training to step 39): the
    final weights' validation after fit, at step 40, is the curve's last point; the best
    checkpoint's after it, at the same step, is not (read as the later value of step 40, it
    took the final weights' place)."""
    folder = fit_then(tmp_path, "csv", [validate, validate_best], epochs=5,
                      check_val_every_n_epoch=2)
    rows = (folder / "metrics.csv").read_text().splitlines()
    final = float(next(r for r in rows if r.startswith("5,40,")).split(",")[-2])
    acc = read_run(folder / "metrics.csv").series("val_acc")
    assert acc.index.tolist() == [15, 31, 40] and acc[40] == final


def test_validation_at_an_epochs_first_batch_stays_a_point(tmp_path):
    """Validating every batch, the validation of an epoch's first batch (steps 8 and 16) has
    the step and epoch a validation after fit would have: training rows after it show it is
    fit's, so it stays; the validation after fit (step 24) is left out."""
    folder = fit_then(tmp_path, "csv", [validate], epochs=3, val_check_interval=1,
                      check_val_every_n_epoch=None)
    assert read_run(folder / "metrics.csv").series("val_acc").index.tolist() == list(range(24))


def test_watch_follow_of_a_growing_metrics_csv_gives_the_replays_alerts(tmp_path):
    """A CSVLogger's metrics.csv of a run that overfits, then a validation after fit on other
    data that reads better than any: followed while written and replayed, the same alerts and
    the warning; the curve ends at fit's last validation."""
    folder = tmp_path / "logs"
    log = loggers.CSVLogger(str(folder), name="exp")
    curve = eval_curve()
    for epoch, (_, accuracy) in enumerate(curve):
        step = 10 * epoch + 9  # the last of the epoch's 10 batches, as the Trainer logs it
        log.log_metrics({"train_loss": 2.0 / (epoch + 1), "epoch": epoch}, step)
        log.log_metrics({"val_acc": accuracy, "epoch": epoch}, step)
    log.log_metrics({"val_acc": max(a for _, a in curve) + 0.05, "epoch": len(curve)},
                    10 * len(curve))
    log.finalize("success")
    text = (folder / "exp" / "version_0" / "metrics.csv").read_text()
    path = tmp_path / "metrics.csv"
    follower = follow_while_written(path, text)
    replayed, result = replay(path, stop_on=())
    assert_same(follower.alerts, replayed)
    assert result.best_step < 10 * len(curve)
    assert read_run(path).series("val_acc").index[-1] == 10 * len(curve) - 1
    assert any("after fit" in m for m in follower.messages), follower.messages
