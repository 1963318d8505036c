"""The planned length a watch's monitor judges "early" against (`planned.PlanSource`): the
option, else the log's config, else the config's epochs times the steps one takes (known once
the log's `epoch` says it, refined as the run goes on). Said once, as it decides the alerts:
two copies of one run's values, one with `steps` in its tracker config, alerted differently
with nothing saying why (trial 32)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from phasewatch.epoch_steps import EPOCH_COUNT_KEY, EpochSteps, epoch_count
from phasewatch.lr_schedule import LiveDecay
from phasewatch.planned import (
    EPOCHS_KEY,
    PlanSource,
    epoch_plan,
    logged_epoch,
    plan_in_other_steps,
    planned_epochs,
)


class LivePlan:
    """Where a watch's plan comes from; `source` is the PlanSource (None without a plan)."""

    def __init__(self, say: Callable[[str], None]):
        self.say = say
        self.source: PlanSource | None = None
        self._epochs: float | None = None  # a run planned in epochs, until the steps are known
        self._count: EpochSteps | None = None  # a config's `epochs`, while the steps are epochs
        self._last_epoch: tuple[int, Any] | None = None  # the last (step, epoch) logged
        self._rounded = False  # two rows at different steps logged the same epoch
        self._decay: LiveDecay | None = None  # the learning rate's decay, without another plan
        self.last_step: int | None = None  # the latest step of the records read
        # the metric watched counts epochs beside the log's batches (`step_counters`): a plan
        # from the config or the logged epoch counts the batches' steps, not its own
        self.apart = False

    def start(self, options: dict[str, Any], info, log_format: str) -> None:
        """Set `options["planned_steps"]` from the option or the log's config (`info` the
        source's run info, `log_format` its format) and say it."""
        if options.get("planned_steps") is not None:
            self.source = PlanSource(options["planned_steps"], "option")
        elif self.apart:
            return
        elif (other := plan_in_other_steps(info.config, log_format)) is not None:
            self.say(f"no planned length from the run's config: {other}")
            self._decay = LiveDecay()  # where the learning rate's decay ends, in the log's steps
        else:
            self.source = PlanSource.of_config(info.config, log_format)
            if self.source is not None:
                options["planned_steps"] = self.source.steps
            else:  # else epochs x the steps one takes, or the epochs the steps are
                self._epochs = planned_epochs(info.config)
                count = epoch_count(info.config)
                self._count = EpochSteps(count) if count is not None else None
                # and without either, where the learning rate's decay ends (`lr_schedule`)
                self._decay = LiveDecay() if self._epochs is None and count is None else None
        if self.source is not None:
            self.say(self.source.said(info.step_unit))

    def at_finish(self, unit: str) -> PlanSource | None:
        """The plan once the log says the run finished, at the latest step read: a learning
        rate's decay read to end past it ends there, and says why (`PlanSource.finished_at`,
        the rule `inspect` reads it by)."""
        if self.source is not None:
            self.source = self.source.finished_at(self.last_step, unit)
        return self.source

    def drop_apart(self, metric: str) -> bool:
        """The metric watched is found to count epochs beside the batches' steps: a plan that
        is not the option's is in the batches' steps, and is dropped (said); True when it was
        in force."""
        self.apart, self._epochs, self._count, self._decay = True, None, None, None
        if self.source is None or self.source.origin == "option":
            return False
        self.say(f"planned length dropped: {metric} counts epochs, and the plan counts the "
                 "steps of the run's other metrics")
        self.source = None
        return True

    def from_epochs(self, step: int, values: Mapping[str, Any], current: int | None,
                    unit: str) -> int | None:
        """The planned steps the epoch logged with this record gives, when they differ from
        `current` (said the first time); 0 when a plan given before is gone (the steps were not
        the epochs after all); else None."""
        self.last_step = step if self.last_step is None else max(self.last_step, step)
        if self._count is not None:
            return self._from_count(step, values, current, unit)
        if self._decay is not None:
            return self._from_decay(step, values, current, unit)
        if self._epochs is None:
            return None
        epoch = logged_epoch(values)
        if epoch is not None:
            last, self._last_epoch = self._last_epoch, (step, epoch)
            self._rounded |= last is not None and last[0] != step and last[1] == epoch
        plan = epoch_plan(self._epochs, step, values, self._rounded)
        if plan is None and self._rounded and self.source is not None and epoch is not None:
            self.say(f"planned length dropped: the `epoch` logged is rounded ({epoch} at step "
                     f"{step}), too coarse to tell the steps an epoch takes")
            self.source = None  # a plan read from an epoch taken as exact
            return 0
        if plan is None or plan == current:  # 8 us a call
            return None
        if self.source is None:
            self.source = PlanSource(plan, "epochs", EPOCHS_KEY, epochs=self._epochs)
            self.say(self.source.said(unit))
        self.source.steps = plan
        return plan

    def _from_count(self, step: int, values: Mapping[str, Any], current: int | None,
                    unit: str) -> int | None:
        """The config's `epochs` as the plan, while the rows say the steps are epochs."""
        self._count.add(step, values)
        plan, epochs = self._count.plan, self._count.epochs
        if plan is None:
            self._count = None
        return self._settle(plan, current, unit,
                            f"the row at step {step} shows the steps are not the epochs the "
                            f"config's `{EPOCH_COUNT_KEY}` counts",
                            lambda: PlanSource(plan, "epoch_count", EPOCH_COUNT_KEY, epochs=epochs))

    def _from_decay(self, step: int, values: Mapping[str, Any], current: int | None,
                    unit: str) -> int | None:
        """Where the learning rate's linear or cosine decay ends, as its rates so far say
        (`lr_schedule.LiveDecay`); 0 when a plan read before is gone (the rates left the
        curve)."""
        decay = self._decay
        if not decay.add(step, values):
            return None
        found, name = decay.decay, decay.name
        plan, words = (found.end, found.words()) if found is not None else (None, "")
        if self.source is not None and found is not None:
            self.source.decay = words
        return self._settle(plan, current, unit,
                            f"the learning rate ({name}) left the linear or cosine decay it fell "
                            f"on, at step {step}",
                            lambda: PlanSource(plan, "lr", name, decay=words))

    def _settle(self, plan: int | None, current: int | None, unit: str, dropped: str,
                new_source: Callable[[], PlanSource]) -> int | None:
        """What a plan read from the records so far makes of the monitor's `current` one: 0
        where a plan said before is gone (said, `dropped` why), the plan where it differs (its
        source, `new_source()`, said the first time), else None."""
        if plan is None:
            if self.source is None:
                return None
            self.say(f"planned length dropped: {dropped}")
            self.source = None
            return 0
        if plan == current:
            return None
        if self.source is None:
            self.source = new_source()
            self.say(self.source.said(unit))
        self.source.steps = plan
        return plan
