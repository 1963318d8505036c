"""What both framework callbacks expose about their `self.host` (a MonitorHost), and how a run
that begins gets its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phasewatch.callbacks._common import MonitorHost


class HostedResults:
    """The results of the run the callback follows, read from its `host`."""

    host: MonitorHost

    @property
    def monitor(self):
        return self.host.monitor

    @property
    def alerts(self):
        return self.host.alerts

    @property
    def stop_reason(self):
        return self.host.monitor.stop_reason_

    @property
    def best_step(self) -> int | None:
        """The step to keep (may have no checkpoint): the best smoothed evaluation while
        training goes on, `analyze`'s recommendation once it has ended (`MonitorHost.settle`)."""
        return self.host.best_step

    def begin_run(self) -> bool:
        """A run begins (HF's `on_train_begin`; Lightning's `on_fit_start`, or `on_train_start` after a
        state restored since). A callback that
        followed a run before (one callback given to two trainers in a row in a notebook's
        sweep, `train()` called twice) starts this one as a new callback would: the first
        run's monitor, evaluations, saves, alerts, settled checkpoint, notes said once, plan
        and a monitor turned off by an error are not this run's. A state restored from this
        run's checkpoint (a resumed trainer: `restore`) is kept, as are evaluations made
        before the first run began (`trainer.evaluate()` first). True where renewed."""
        renew = self.host.began and not self.host.restored
        if renew:
            self.host = self.host.renewed()
        self.host.began, self.host.restored = True, False
        return renew

    def restore(self, state: Mapping[str, Any]) -> None:
        """The state saved with a checkpoint (a resumed trainer), loaded into a host that holds
        no other run's, and kept by the run that begins next (`begin_run`)."""
        if self.host.began:
            self.host = self.host.renewed()
        self.host.load(state)
        self.host.restored = True
