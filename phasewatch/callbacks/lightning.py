"""Lightning callback: phase alerts on validation metrics, `trainer.should_stop` on overfit.

    from phasewatch.callbacks.lightning import PhasewatchLightningCallback
    trainer = lightning.Trainer(callbacks=[PhasewatchLightningCallback(metric="val_acc")])

Without a metric, the one `phasewatch analyze` would pick is chosen from the metrics of the
first validation (`val_loss`, `val_acc`...).

At the end of each validation (sanity checks excluded) the monitor gets
`trainer.callback_metrics` at `trainer.global_step`; when a `stop_on` phase is entered the
callback sets `trainer.should_stop` (as Lightning's `EarlyStopping` does) and `stop_reason`
says why. `best_step` is the best smoothed validation step; when checkpoints are saved at
another cadence, `best_saved_step` is the best of the steps at which a checkpoint was saved
(each `on_save_checkpoint`), scored as `analyze` scores saved checkpoints. The monitor's state
goes into Lightning checkpoints, so `fit(ckpt_path=...)` resumes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from phasewatch.callbacks._common import HostedResults, MonitorHost, never_stops_training
from phasewatch.errors import require

_pl = require("lightning.pytorch", "lightning", purpose="use the Lightning callback")


class PhasewatchLightningCallback(HostedResults, _pl.Callback):
    def __init__(self, metric: str | Sequence[str] | None = None, direction: str | None = None,
                 stop_on: Sequence[str] = ("overfit",), webhook: str | None = None,
                 stop_file: str | None = None, options: dict[str, Any] | None = None):
        self.host = MonitorHost(metric, direction, tuple(stop_on), webhook, stop_file, options)

    @property
    def best_saved_step(self) -> int | None:
        return self.host.best_saved_step()

    @never_stops_training
    def on_train_start(self, trainer, pl_module) -> None:
        # max_steps is -1 when the run is limited by epochs; the optimizer steps it will then
        # take are Lightning's estimate (infinite for an iterable dataset of unknown length)
        limit = trainer.max_steps
        self.host.plan(limit if limit and limit > 0 else trainer.estimated_stepping_batches)

    @never_stops_training
    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: _scalar(v) for k, v in trainer.callback_metrics.items()}
        self.host.evaluated(trainer.global_step, metrics)
        if self.host.monitor.should_stop:
            trainer.should_stop = True

    @never_stops_training
    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        # Lightning stored our state_dict() before this hook: store it again so the checkpoint
        # knows it is itself a saved step.
        self.host.saved_step(trainer.global_step)
        if self.state_key in checkpoint.get("callbacks", {}):
            checkpoint["callbacks"][self.state_key] = self.state_dict()

    @never_stops_training
    def on_train_end(self, trainer, pl_module) -> None:
        self.host.close()

    def state_dict(self) -> dict[str, Any]:
        return self.host.state()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.host.load(state_dict)


def _scalar(value: Any) -> Any:
    """Tensors to Python floats (only 0-d / 1-element ones are metrics)."""
    if hasattr(value, "numel") and value.numel() == 1:
        return float(value.detach().cpu().item())
    return value
