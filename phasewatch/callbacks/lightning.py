"""Lightning callback: phase alerts on validation metrics, `trainer.should_stop` on overfit.

    from phasewatch.callbacks.lightning import PhasewatchLightningCallback
    trainer = lightning.Trainer(callbacks=[PhasewatchLightningCallback(metric="val_acc")])

Without a metric, the one `phasewatch analyze` would pick is chosen from the metrics of the
first validation (`val_loss`, `val_acc`...).

At the end of each validation (sanity checks excluded) the monitor gets
`trainer.callback_metrics` at the step Lightning's loggers log it at (metrics.csv's and
TensorBoard's `step`: `lightning_checkpoints.logged_step`), so its steps are those `analyze`
reads from the run's logs; when a `stop_on` phase is entered the callback sets
`trainer.should_stop` (as Lightning's `EarlyStopping` does) and `stop_reason` says why.
The train loss beside a held-out loss is followed from what the training steps log (each
`log_every_n_steps`, at the step the loggers log it at; an epoch-level one once an epoch, at its
last step), as `watch` follows it in metrics.csv (`MonitorHost.trained`). `best_step` is the
best smoothed validation step while training runs, and `analyze`'s recommended step on the
validations received once `fit` ends (`MonitorHost.settle`); `best_saved_step` is the best of the steps whose model was
saved (each `on_save_checkpoint`, at the logged step of the model it saves: the global step
less one), scored as `analyze` scores saved checkpoints, among those whose file
is still in a ModelCheckpoint's folder (`save_top_k` deletes the others); `best_checkpoint` is
that file, named by the global step (`epoch=6-step=140.ckpt` for step 139). Trial 40's callback
said best 140 where `analyze` of the same run's metrics.csv said 139. The monitor's state goes
into Lightning checkpoints, so `fit(ckpt_path=...)` resumes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from phasewatch.callbacks._common import MonitorHost, logger, never_stops_training
from phasewatch.callbacks.hosted import HostedResults, RunResults
from phasewatch.errors import require
from phasewatch.lightning_checkpoints import FILE_OFFSET, files_by_step, logged_step

_pl = require("lightning.pytorch", "lightning", purpose="use the Lightning callback")


class PhasewatchLightningCallback(HostedResults, _pl.Callback):
    def __init__(self, metric: str | Sequence[str] | None = None, direction: str | None = None,
                 stop_on: Sequence[str] = ("overfit",), webhook: str | None = None,
                 stop_file: str | None = None, options: dict[str, Any] | None = None):
        self.host = MonitorHost(metric, direction, tuple(stop_on), webhook, stop_file, options)
        self.runs_before: list[RunResults] = []  # the runs followed before this one
        self.dirpaths: list[str] = []  # the trainer's ModelCheckpoint folders
        self._logged: dict[str, Any] = {}  # `trainer.logged_metrics` when last passed on
        self._run_trainer = None  # the Trainer of the run followed (`on_validation_end`)

    @property
    def best_saved_step(self) -> int | None:
        """The logged step of the saved model to keep (its file: `best_checkpoint`)."""
        return self._saved(self._files())

    @property
    def best_checkpoint(self) -> str | None:
        """The file of `best_saved_step` in a ModelCheckpoint's folder (None: nothing saved
        there, or no ModelCheckpoint)."""
        files = self._files()  # one listing for the step and its file
        step = self._saved(files)
        return None if step is None or not files or step not in files else str(files[step])

    def _saved(self, files: dict[int, Path] | None) -> int | None:
        return self.host.best_saved_step(
            (lambda step: True) if files is None else files.__contains__)

    def _files(self) -> dict[int, Path] | None:
        """The ModelCheckpoint folders' files by logged step, as they are now; None without a
        ModelCheckpoint (a checkpoint saved elsewhere cannot be looked for)."""
        if not self.dirpaths:
            return None
        found: dict[int, Path] = {}
        for folder in self.dirpaths:
            for step, path in files_by_step(folder).items():
                found.setdefault(step, path)
        return found

    def on_fit_start(self, trainer, pl_module) -> None:
        # before the sanity check; outside the guard: a monitor an error turned off in a fit
        # before is on again
        if self.begin_run():
            self._logged = {}
        self._run_trainer = trainer

    @never_stops_training
    def on_train_start(self, trainer, pl_module) -> None:
        if not self.host.began:  # restored after on_fit_start (FSDP, DeepSpeed): this run's
            self.begin_run()
        # max_steps is -1 when the run is limited by epochs; the optimizer steps it will then
        # take are Lightning's estimate (infinite for an iterable dataset of unknown length)
        limit = trainer.max_steps
        self.host.plan(limit if limit and limit > 0 else trainer.estimated_stepping_batches)
        self._dirpaths(trainer)

    @never_stops_training
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        """What this training step logs to the loggers (`trainer.logged_metrics`, at the step
        they log it at): the train loss beside a held-out loss (`MonitorHost.trained`). The
        loggers write it after this hook, on every `log_every_n_steps`-th optimizer step (the
        predicate of Lightning's `LoggerConnector.should_update_logs`)."""
        every = trainer.log_every_n_steps
        accumulate = getattr(trainer, "accumulate_grad_batches", 1) or 1
        step = logged_step(trainer)
        if not every or (step + 1) % every or (batch_idx + 1) % accumulate:
            return
        if logged := self._logged_since(trainer):
            self.host.trained(step, logged)

    @never_stops_training
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        """The epoch-level values (`self.log(..., on_epoch=True)`), which the loggers write at
        the epoch's last step: one train loss an epoch, as metrics.csv holds it."""
        if logged := self._logged_since(trainer):
            self.host.trained(logged_step(trainer) - 1, logged)

    def _logged_since(self, trainer) -> dict[str, Any]:
        """What the loggers were given since the last call. `trainer.logged_metrics` keeps each
        name's last value: an epoch-level train loss stays there through the next epoch's steps,
        and passed on at each it was one reading five times over where metrics.csv holds one, at
        the wrong step. A value equal to the one last passed on is that one (Lightning rebuilds
        the tensor after the epoch ends; a float loss logged twice exactly is rare and one
        reading less)."""
        logged = {k: _scalar(v) for k, v in trainer.logged_metrics.items()}
        new = {k: v for k, v in logged.items() if k not in self._logged or self._logged[k] != v}
        self._logged = logged
        return new

    @never_stops_training
    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        if self.host.began and trainer is not self._run_trainer and trainer.global_step == 0:
            # another Trainer's validate() before its fit() (a sweep's baseline of its next
            # run): that run's, as a new callback keeps a validate() made first, not the run
            # before's (whose monitor counted a step gone backwards)
            self._follow_next_run()
        metrics = {k: _scalar(v) for k, v in trainer.callback_metrics.items()}
        self.host.evaluated(logged_step(trainer), metrics)
        if self.host.monitor.should_stop:
            trainer.should_stop = True

    @never_stops_training
    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        # Lightning stored our state_dict() before this hook: store it again so the checkpoint
        # knows it is itself a saved step. The file is named by the global step, its model
        # logged one step before (`lightning_checkpoints`).
        self._dirpaths(trainer)
        if trainer.global_step >= FILE_OFFSET:
            self.host.saved_step(trainer.global_step - FILE_OFFSET)
        if self.state_key in checkpoint.get("callbacks", {}):
            checkpoint["callbacks"][self.state_key] = self.state_dict()

    @never_stops_training
    def on_train_end(self, trainer, pl_module) -> None:
        self.host.settle()  # analyze's checkpoint to keep, on the evaluations of the run
        files = self._files()
        if files and self.best_step is not None:
            from phasewatch.saved_checkpoints import choose

            series = self.host.monitor.trackers_[0].series
            saved = choose(Path(self.dirpaths[0]), sorted(files), self.host.evals.steps,
                           self.host.evals.values, series.sign, self.best_step, files=files)
            logger.warning("best step %s (%s)", self.best_step,
                           saved.text(series.label))
        self.host.close()

    def _dirpaths(self, trainer) -> None:
        self.dirpaths = [str(c.dirpath) for c in getattr(trainer, "checkpoint_callbacks", [])
                         if getattr(c, "dirpath", None)]

    def state_dict(self) -> dict[str, Any]:
        return self.host.state()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.restore(state_dict)


def _scalar(value: Any) -> Any:
    """Tensors to Python floats (only 0-d / 1-element ones are metrics)."""
    if hasattr(value, "numel") and value.numel() == 1:
        return float(value.detach().cpu().item())
    return value
