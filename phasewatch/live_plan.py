"""The planned length a watch's monitor judges "early" against (`planned.PlanSource`): the
option, else the log's config, else the config's epochs times the steps one takes (known once
the log's `epoch` says it, refined as the run goes on). Said once, as it decides the alerts:
two copies of one run's values, one with `steps` in its tracker config, alerted differently
with nothing saying why (trial 32)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from phasewatch.planned import EPOCHS_KEY, PlanSource, epoch_plan, planned_epochs


class LivePlan:
    """Where a watch's plan comes from; `source` is the PlanSource (None without a plan)."""

    def __init__(self, say: Callable[[str], None]):
        self.say = say
        self.source: PlanSource | None = None
        self._epochs: float | None = None  # a run planned in epochs, until the steps are known

    def start(self, options: dict[str, Any], info, log_format: str) -> None:
        """Set `options["planned_steps"]` from the option or the log's config (`info` the
        source's run info, `log_format` its format) and say it."""
        if options.get("planned_steps") is not None:
            self.source = PlanSource(options["planned_steps"], "option")
        else:
            self.source = PlanSource.of_config(info.config, log_format)
            if self.source is not None:
                options["planned_steps"] = self.source.steps
            else:  # else epochs x the steps one takes (`from_epochs`)
                self._epochs = planned_epochs(info.config)
        if self.source is not None:
            self.say(self.source.said(info.step_unit))

    def from_epochs(self, step: int, values: Mapping[str, Any], current: int | None,
                    unit: str) -> int | None:
        """The planned steps the epoch logged with this record gives, when they differ from
        `current` (said the first time); else None."""
        if self._epochs is None:
            return None
        plan = epoch_plan(self._epochs, step, values)
        if plan is None or plan == current:  # 8 us a call
            return None
        if self.source is None:
            self.source = PlanSource(plan, "epochs", EPOCHS_KEY, epochs=self._epochs)
            self.say(self.source.said(unit))
        self.source.steps = plan
        return plan
