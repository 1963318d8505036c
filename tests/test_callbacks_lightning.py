"""PhasewatchLightningCallback with a real `lightning.pytorch.Trainer` on a tiny CPU module.

The module really trains and validates; its logged `val_acc` follows a scripted curve (rise,
peak, decline, plus noise) so the test knows where the overfit is.
"""

from __future__ import annotations

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
    assert list(restored.host.saved) == [30] and restored.host.saved == callback.host.saved


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
