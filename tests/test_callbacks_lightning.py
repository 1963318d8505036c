"""PhasewatchLightningCallback with a real `lightning.pytorch.Trainer` on a tiny CPU module.

The module really trains and validates; its logged `val_acc` follows a scripted curve (rise,
peak, decline, plus noise) so the test knows where the overfit is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

from phasewatch.callbacks.lightning import PhasewatchLightningCallback
from phasewatch.online import StopReason

N = 100
PEAK = 35
OPTIONS = {"warmup": 5, "window": 5, "confirm": 2}


def scripted(seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(N + 1)
    curve = np.where(t < PEAK, 0.4 + 0.3 * t / PEAK, 0.7 - 0.3 * (t - PEAK) / (N - PEAK))
    return curve + rng.normal(0, 0.005, t.size)


class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.curve = scripted()
        self.n_val = 0

    def training_step(self, batch, _):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, _):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def on_validation_epoch_end(self):
        if not self.trainer.sanity_checking:
            self.log("val_acc", float(self.curve[min(self.n_val, N)]))
            self.n_val += 1

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def loader():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 4, generator=g)
    data = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    return torch.utils.data.DataLoader(data, batch_size=8)


def make_trainer(callback, tmp_path, max_epochs=N):
    torch.set_num_threads(1)
    return pl.Trainer(max_epochs=max_epochs, callbacks=[callback], accelerator="cpu",
                      logger=False, enable_progress_bar=False, enable_model_summary=False,
                      enable_checkpointing=False, default_root_dir=str(tmp_path),
                      num_sanity_val_steps=1)


def test_lightning_trainer_stops_after_the_peak(tmp_path):
    callback = PhasewatchLightningCallback(metric="val_acc", options=OPTIONS)
    trainer = make_trainer(callback, tmp_path)
    model = Tiny()
    trainer.fit(model, loader(), loader())
    assert callback.stop_reason is StopReason.OVERFIT
    assert PEAK < model.n_val < N  # stopped after the peak, well before max_epochs
    events = [a.event for a in callback.alerts]
    assert events[0] == "improvement" and events[-1] == "overfit"
    # one optimizer step per epoch: the monitor's steps are global steps = epochs
    assert abs(callback.best_step - PEAK) <= 3
    assert callback.monitor.n_records_ == model.n_val  # sanity check not fed
    # limited by epochs (max_steps -1): the plan is Lightning's estimate of the optimizer steps
    assert callback.monitor.config.planned_steps == N


def test_max_steps_is_the_plan(tmp_path):
    callback = PhasewatchLightningCallback(metric="val_acc", options=OPTIONS)
    trainer = pl.Trainer(max_steps=40, callbacks=[callback], accelerator="cpu", logger=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         enable_checkpointing=False, default_root_dir=str(tmp_path))
    trainer.fit(Tiny(), loader(), loader())
    assert callback.monitor.config.planned_steps == 40


def test_state_round_trips_through_a_checkpoint(tmp_path):
    callback = PhasewatchLightningCallback(metric="val_acc", options=OPTIONS)
    trainer = make_trainer(callback, tmp_path, max_epochs=30)
    trainer.fit(Tiny(), loader(), loader())
    path = tmp_path / "c.ckpt"
    trainer.save_checkpoint(path)
    state = torch.load(path, weights_only=True)["callbacks"]
    restored = PhasewatchLightningCallback(metric="val_acc", options=OPTIONS)
    restored.load_state_dict(next(iter(state.values())))
    assert restored.monitor.state_dict() == callback.monitor.state_dict()
    # the model saved at global step 30 is the one logged (validated) at step 29
    assert list(restored.host.saved) == [29] and restored.host.saved == callback.host.saved


class TinyLoggingTrainLoss(Tiny):
    def training_step(self, batch, _):
        loss = super().training_step(batch, _)
        self.log("train_loss", loss)
        return loss


def test_lightning_csv_logger_file_is_analysed_on_its_validation_accuracy(tmp_path):
    """Lightning's own CSVLogger writes `epoch, step, train_loss, val_acc, val_loss`: analyze
    takes `val_acc` (a Keras / Lightning validation name) and finds the scripted overfit."""
    from lightning.pytorch.loggers import CSVLogger

    from phasewatch.analysis import analyze_run
    from phasewatch.io import read_run

    torch.set_num_threads(1)
    trainer = pl.Trainer(max_epochs=60, accelerator="cpu", logger=CSVLogger(str(tmp_path)),
                         log_every_n_steps=1, enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False,
                         default_root_dir=str(tmp_path), num_sanity_val_steps=0)
    trainer.fit(TinyLoggingTrainLoss(), loader(), loader())
    [csv] = list(tmp_path.glob("lightning_logs/version_0/metrics.csv"))
    run = read_run(csv)
    assert {"val_acc", "val_loss", "train_loss"} <= set(run.metrics)
    analysis = analyze_run(run)
    assert analysis.metric == "val_acc" and analysis.direction == "max"
    assert [p.name for p in analysis.phases][-1] == "overfit"
    assert abs(analysis.recommended_stop_step - PEAK) <= 3


def test_without_a_metric_the_first_validation_chooses_it_as_analyze_would(tmp_path):
    """The default was `val_acc`: a module logging only `val_loss` was watched on nothing. Now
    the metric is chosen from the first validation's metrics (val_acc beside val_loss, as
    `analyze` picks it), and a resumed callback keeps the choice."""
    callback = PhasewatchLightningCallback(options=OPTIONS)
    trainer = make_trainer(callback, tmp_path, max_epochs=30)
    trainer.fit(Tiny(), loader(), loader())
    assert callback.monitor.config.metrics == ["val_acc"]
    assert callback.monitor.trackers_[0].series.n == 30
    restored = PhasewatchLightningCallback(options=OPTIONS)
    restored.load_state_dict(callback.state_dict())
    assert not restored.host.choosing and restored.monitor.config.metrics == ["val_acc"]


def checkpointed_trainer(callback, tmp_path, checkpoint, max_epochs=N):
    """A trainer logging to CSVLogger, saving with `checkpoint` (a ModelCheckpoint) into
    `lightning_logs/version_0/checkpoints/`, as Lightning does by default."""
    from lightning.pytorch.loggers import CSVLogger

    torch.set_num_threads(1)
    return pl.Trainer(max_epochs=max_epochs, callbacks=[callback, checkpoint], accelerator="cpu",
                      logger=CSVLogger(str(tmp_path)), log_every_n_steps=1,
                      enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=str(tmp_path), num_sanity_val_steps=0)


def test_the_callback_and_analyze_name_one_step_and_one_checkpoint_file(tmp_path):
    """Trial 40 finding 4: Lightning logs a validation in `fit` at the global step less one
    (metrics.csv step 139) and ModelCheckpoint names its file by the global step
    (epoch=6-step=140.ckpt). The callback said best 140 and best_saved_step 140 where analyze
    of the run's metrics.csv said 139, and analyze named no file. Both now give the step
    logged, and the same file."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    import phasewatch

    callback = PhasewatchLightningCallback(metric="val_acc", stop_on=(), options=OPTIONS)
    checkpoint = ModelCheckpoint(monitor="val_acc", mode="max", save_top_k=3)
    checkpointed_trainer(callback, tmp_path, checkpoint, max_epochs=60).fit(
        Tiny(), loader(), loader())
    version = tmp_path / "lightning_logs" / "version_0"
    analysis = phasewatch.analyze(version, metric="val_acc")
    saved = analysis.saved_checkpoint
    assert saved is not None and saved.path is not None, analysis
    assert callback.best_saved_step == saved.step
    assert callback.best_checkpoint == str(version / "checkpoints" / Path(saved.path).name)
    assert Path(saved.path).name.endswith(f"-step={saved.step + 1}.ckpt")
    assert Path(checkpoint.best_model_path).name == Path(saved.path).name  # Lightning's own pick
    assert abs(callback.best_step - analysis.recommended_stop_step) <= 1
    assert analysis.recommended_stop_step == saved.step  # its own file is there: named
    assert f"saved: version_0/checkpoints/{Path(saved.path).name}" in saved.text("val_acc")


def test_a_checkpoint_modelcheckpoint_deleted_is_never_named(tmp_path):
    """save_top_k keeps the k best by ModelCheckpoint's own metric (here the falling val_loss:
    the last two epochs), so the file of the val_acc peak is deleted: the callback names the
    best of the files still there (it named the peak's deleted step before)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    callback = PhasewatchLightningCallback(metric="val_acc", stop_on=(), options=OPTIONS)
    checkpoint = ModelCheckpoint(monitor="val_loss", mode="min", save_top_k=2)
    checkpointed_trainer(callback, tmp_path, checkpoint, max_epochs=60).fit(
        Tiny(), loader(), loader())
    kept = sorted(p.name for p in Path(checkpoint.dirpath).glob("*.ckpt"))
    assert len(kept) == 2 and abs(callback.best_step - PEAK) <= 3
    assert callback.best_checkpoint is not None
    assert Path(callback.best_checkpoint).name in kept
    assert callback.best_saved_step + 1 == int(Path(callback.best_checkpoint).stem.rsplit("=", 1)[1])



def test_when_fit_ends_the_best_step_is_analyzes(tmp_path):
    """A val_acc that rises to a plateau (60 validations, noise 0.01), never stopped: the
    monitor's own best at the end is one high reading on the plateau, analyze of the run's
    metrics.csv names another. When fit ends the callback names analyze's, as `watch` ends
    with the whole run's answer."""
    import phasewatch

    class Plateau(Tiny):
        def __init__(self):
            super().__init__()
            t = np.arange(N + 1)
            self.curve = np.where(t < 20, 0.4 + 0.3 * t / 20, 0.7) + np.random.default_rng(
                2).normal(0, 0.01, t.size)

    from lightning.pytorch.callbacks import ModelCheckpoint

    callback = PhasewatchLightningCallback(metric="val_acc", stop_on=())
    checkpoint = ModelCheckpoint(save_top_k=-1, every_n_epochs=1)  # every epoch's file kept
    checkpointed_trainer(callback, tmp_path, checkpoint, max_epochs=60).fit(
        Plateau(), loader(), loader())
    analysis = phasewatch.analyze(tmp_path / "lightning_logs" / "version_0", metric="val_acc")
    assert abs(callback.monitor.best_step - analysis.recommended_stop_step) > 1  # no hindsight
    assert callback.best_step == analysis.recommended_stop_step
    assert callback.best_saved_step == analysis.saved_checkpoint.step


def test_one_callback_given_to_two_fits_in_a_row_follows_each_run_alone(tmp_path):
    """One callback given to two trainers in a row, the first run best at step 10, the
    second at 30: the second is followed as a new callback follows it (the same best step
    at each validation, alerts and state), not from the first run's settled step and
    monitor."""

    class Peaked(Tiny):
        def __init__(self, peak, seed):
            super().__init__()
            t = np.arange(N + 1)
            self.curve = np.where(t < peak, 0.4 + 0.3 * t / peak,
                                  0.7 - 0.3 * (t - peak) / 30) + np.random.default_rng(
                seed).normal(0, 0.005, t.size)

    class Spy(pl.Callback):
        def __init__(self, callback):
            self.callback, self.bests = callback, []

        def on_validation_end(self, trainer, pl_module):
            self.bests.append(self.callback.best_step)

    def followed(callback, folder, peak) -> list:
        spy = Spy(callback)
        trainer = make_trainer(callback, folder, max_epochs=40)
        trainer.callbacks.append(spy)
        trainer.fit(Peaked(peak, seed=peak), loader(), loader())
        return spy.bests

    reused = PhasewatchLightningCallback(metric="val_acc", stop_on=(), options=OPTIONS)
    fresh = PhasewatchLightningCallback(metric="val_acc", stop_on=(), options=OPTIONS)
    followed(reused, tmp_path / "first", 10)
    first = reused.best_step
    assert followed(reused, tmp_path / "second", 30) == followed(fresh, tmp_path / "alone", 30)
    assert abs(first - 10) <= 2 and abs(reused.best_step - 30) <= 2
    assert reused.best_step == fresh.best_step
    assert [a.to_dict() for a in reused.alerts] == [a.to_dict() for a in fresh.alerts]
    assert reused.host.state() == fresh.host.state()


def test_a_fit_resumed_with_the_same_callback_keeps_its_checkpoints_state_once(tmp_path):
    """`fit(ckpt_path=...)` after a fit, with the same callback: the checkpoint's state is the
    run's (its 20 validations, then the 10 of the resumed fit), not a new callback's, and not
    added to what the callback held (the first fit's 20 again: 50 evaluations)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    callback = PhasewatchLightningCallback(metric="val_acc", stop_on=(), options=OPTIONS)

    def trainer(epochs):
        return pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False,
                          callbacks=[callback, ModelCheckpoint(dirpath=tmp_path, save_last=True)],
                          enable_progress_bar=False, enable_model_summary=False,
                          default_root_dir=str(tmp_path), num_sanity_val_steps=1)

    torch.set_num_threads(1)
    trainer(20).fit(Tiny(), loader(), loader())
    resumed = Tiny()
    resumed.n_val = 20  # the scripted curve goes on where it was
    trainer(30).fit(resumed, loader(), loader(), ckpt_path=str(tmp_path / "last.ckpt"))
    assert list(callback.host.evals.steps) == list(range(30))
    assert callback.monitor.n_records_ == 30


def test_a_next_trainers_validate_before_its_fit_is_that_runs(tmp_path):
    """One callback given to Trainer after Trainer, each validated before its `fit()` (the
    baseline at step 0): the second Trainer's baseline is the second run's, as a new callback
    keeps a `validate()` made first, and the first run stays as it ended (its monitor was fed
    the second run's step 0 after its own last step)."""
    reused = PhasewatchLightningCallback(metric="val_acc", options=OPTIONS, stop_on=())
    make_trainer(reused, tmp_path / "a", max_epochs=10).fit(Tiny(), loader(), loader())
    ended = reused.host.state()
    second, model = make_trainer(reused, tmp_path / "b", max_epochs=10), Tiny()
    second.validate(model, loader())
    second.fit(model, loader(), loader())
    alone = PhasewatchLightningCallback(metric="val_acc", options=OPTIONS, stop_on=())
    trainer, model = make_trainer(alone, tmp_path / "alone", max_epochs=10), Tiny()
    trainer.validate(model, loader())
    trainer.fit(model, loader(), loader())
    [first] = reused.runs_before
    assert first.host.state() == ended
    assert reused.host.state() == alone.host.state()
