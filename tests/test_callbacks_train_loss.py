"""The framework callbacks follow the train loss beside a held-out loss, as `watch` follows it in
the log the trainer writes (`MonitorConfig.train_loss`, `MonitorHost.trained`): a held-out loss
rising from the start to a level it holds is an overfit beside a falling train loss and stays a
disruption beside a rising one. The callbacks fed evaluations only, and stopped the second case
as an overfit that `watch` of the same run's log (and `analyze`) calls a disruption.

The tiny models really train; their losses are scripted (the loss returned keeps the model's
graph, times zero), so the test knows the shapes."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from tiny_trainer import tiny_trainer

from phasewatch import watch
from phasewatch.callbacks.hf import PhasewatchCallback

MAX_STEPS, EVAL_EVERY, LOG_EVERY = 220, 10, 2


def eval_loss(step: int) -> float:
    """0.70 at the start, rising to 0.90 by 40% of the evaluations, then flat, with noise."""
    rng = np.random.default_rng(step)
    t = step / (MAX_STEPS - EVAL_EVERY)
    return 0.70 + 0.20 * min(t / 0.4, 1.0) + float(rng.normal(0, 0.008))


def train_loss(step: int, falls: bool) -> float:
    rng = np.random.default_rng(10_000 + step)
    level = 1.2 * np.exp(-step / 90) if falls else 0.3 + 0.4 * step / MAX_STEPS
    return float(level + rng.normal(0, 0.03))


class ScriptedLossTrainer(transformers.Trainer):
    """A Trainer whose training and evaluation losses follow the scripts above."""

    def __init__(self, *args, train_falls: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.train_falls = train_falls

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        outputs = model(**inputs)
        step = self.state.global_step
        value = train_loss(step, self.train_falls) if model.training else eval_loss(step)
        loss = outputs.loss * 0.0 + value
        return (loss, outputs) if return_outputs else loss


def run_trainer(tmp_path, callback, train_falls: bool):
    trainer = tiny_trainer(
        tmp_path / "out", callbacks=[callback], trainer_class=ScriptedLossTrainer,
        trainer_options={"train_falls": train_falls}, max_steps=MAX_STEPS,
        per_device_eval_batch_size=16, eval_strategy="steps", eval_steps=EVAL_EVERY,
        eval_on_start=True, save_strategy="no", logging_steps=LOG_EVERY)
    trainer.train()
    trainer.save_state()  # the log `watch` reads: output_dir/trainer_state.json
    return tmp_path / "out" / "trainer_state.json"


@pytest.mark.slow
@pytest.mark.parametrize("train_falls", [True, False])
def test_hf_callback_alerts_equal_watch_on_the_log_of_the_same_run(tmp_path, train_falls):
    callback = PhasewatchCallback(stop_on=())
    log = run_trainer(tmp_path, callback, train_falls)
    live = [(a.event, a.step, a.best_step) for a in callback.alerts]
    replayed = [(a.event, a.step, a.best_step) for a in watch(log)]
    assert live == replayed
    assert [event for event, _, _ in live] == (["disruption", "overfit"] if train_falls
                                               else ["disruption"])
    assert callback.monitor.config.train_loss == "loss"


pl = pytest.importorskip("lightning.pytorch")
EPOCHS, BATCHES = 22, 10  # 220 optimizer steps, a validation after each epoch's 10


class ScriptedLosses(pl.LightningModule):
    """A module whose logged `train_loss` (each step) and `val_loss` (each validation) follow
    the scripts above; the layer trains on the scripted loss's graph, times zero."""

    def __init__(self, train_falls: bool, per_epoch: bool = False):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)
        self.train_falls = train_falls
        self.per_epoch = per_epoch  # `train_loss` logged as the epoch's mean only

    def training_step(self, batch, _):
        x, y = batch
        real = torch.nn.functional.mse_loss(self.layer(x), y)
        loss = real * 0.0 + train_loss(self.global_step, self.train_falls)
        self.log("train_loss", loss, on_step=not self.per_epoch, on_epoch=self.per_epoch)
        return loss

    def validation_step(self, batch, _):
        pass

    def on_validation_epoch_end(self):
        if not self.trainer.sanity_checking:
            self.log("val_loss", eval_loss(self.global_step))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _loader(n: int):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    data = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    return torch.utils.data.DataLoader(data, batch_size=1)


def fit_lightning(tmp_path, module):
    """The callback after a real Trainer fitted `module`, and the run's metrics.csv."""
    from lightning.pytorch.loggers import CSVLogger

    from phasewatch.callbacks.lightning import PhasewatchLightningCallback

    torch.set_num_threads(1)
    callback = PhasewatchLightningCallback(stop_on=())
    trainer = pl.Trainer(max_epochs=EPOCHS, callbacks=[callback], accelerator="cpu",
                         logger=CSVLogger(str(tmp_path)), log_every_n_steps=LOG_EVERY,
                         enable_progress_bar=False, enable_model_summary=False,
                         enable_checkpointing=False, num_sanity_val_steps=0)
    trainer.fit(module, _loader(BATCHES), _loader(1))
    return callback, tmp_path / "lightning_logs" / "version_0" / "metrics.csv"


@pytest.mark.slow
@pytest.mark.parametrize("train_falls", [True, False])
def test_lightning_callback_alerts_equal_watch_on_the_runs_metrics_csv(tmp_path, train_falls):
    callback, log = fit_lightning(tmp_path, ScriptedLosses(train_falls))
    live = [(a.event, a.step, a.best_step) for a in callback.alerts]
    planned = EPOCHS * BATCHES  # the callback's plan: Lightning's estimated stepping batches
    replayed = [(a.event, a.step, a.best_step) for a in watch(log, planned_steps=planned)]
    assert live == replayed
    assert [event for event, _, _ in live] == (["disruption", "overfit"] if train_falls
                                               else ["disruption"])
    assert callback.monitor.config.train_loss == "train_loss"


@pytest.mark.slow
def test_an_epoch_level_train_loss_is_followed_once_an_epoch_as_metrics_csv_holds_it(tmp_path):
    """`self.log("train_loss", ..., on_step=False, on_epoch=True)`: `trainer.logged_metrics`
    keeps the epoch's value through the next epoch's steps, and the callback fed it at each of
    them (five readings of one value, two steps late) where metrics.csv holds one."""
    import csv

    callback, log = fit_lightning(tmp_path, ScriptedLosses(True, per_epoch=True))
    with open(log) as fh:
        logged = [int(row["step"]) for row in csv.DictReader(fh) if row["train_loss"]]
    followed = callback.monitor.train_loss_.series
    assert list(followed.steps) == logged[-len(followed.steps):]
    assert len(followed.steps) == min(len(logged), followed.steps.maxlen or len(logged))
    live = [(a.event, a.step, a.best_step) for a in callback.alerts]
    replayed = [(a.event, a.step, a.best_step)
                for a in watch(log, planned_steps=EPOCHS * BATCHES)]
    assert live == replayed
