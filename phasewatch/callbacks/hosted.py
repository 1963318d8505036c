"""What both framework callbacks expose about their `self.host` (a MonitorHost), how a run
that begins gets its own, and what is kept of the runs followed before it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phasewatch.callbacks._common import MonitorHost


class RunResults:
    """The results of one run the callback followed, read from its `host`."""

    host: MonitorHost

    def __init__(self, host: MonitorHost):
        self.host = host

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


class HostedResults(RunResults):
    """The results of the run the callback follows, and `runs_before`: those of the runs it
    followed before (oldest first), as they were when the next one began, evaluations made
    after their training included (`trainer.evaluate()` after `train()` evaluates that run's
    final model: its record, not the next run's, and kept, not dropped with the host)."""

    runs_before: list[RunResults]  # set by the callback's __init__

    def begin_run(self) -> bool:
        """A run begins (HF's `on_train_begin`; Lightning's `on_fit_start`, or `on_train_start` after a
        state restored since). A callback that
        followed a run before (one callback given to two trainers in a row in a notebook's
        sweep, `train()` called twice) starts this one as a new callback would: the first
        run's monitor, evaluations, saves, alerts, settled checkpoint, notes said once, plan
        and a monitor turned off by an error are not this run's (they stay the first run's, in
        `runs_before`). A state restored from this
        run's checkpoint (a resumed trainer: `restore`) is kept, as are evaluations made
        before the first run began (`trainer.evaluate()` first). True where renewed."""
        renew = self.host.began and not self.host.restored
        if renew:
            self._follow_next_run()
        self.host.began, self.host.restored = True, False
        return renew

    def restore(self, state: Mapping[str, Any]) -> None:
        """The state saved with a checkpoint (a resumed trainer), loaded into a host that holds
        no other run's, and kept by the run that begins next (`begin_run`)."""
        if self.host.began:
            self._follow_next_run()
        self.host.load(state)
        self.host.restored = True

    def _follow_next_run(self) -> None:
        """Keep the results of the run followed so far in `runs_before` and follow the next
        with a new host. The old host is closed first: a run that raised (HF calls no callback
        then, Lightning not `on_train_end`) left its webhook thread running, alerts of its own
        still queued, to be posted during the next run; they go out now, or are dropped
        (`WebhookSink.close`), and the thread ends."""
        self.host.close()
        self.runs_before.append(RunResults(self.host))
        self.host = self.host.renewed()
