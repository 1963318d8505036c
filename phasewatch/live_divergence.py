"""A train loss that turns non-finite while a watch reads the log: said as it happens.

`analyze` warns where the run's train loss is NaN (or infinite) at each of its last
`diverged.MIN_BROKEN` or more records after finite ones (`diverged.diverged_note`), and a watch
says the same beside its whole-run answer. Live that comes too late: the monitor follows the
held-out metric, which shows the divergence only as a fall one or more evaluations later, named
a disruption with no cause, and confirmed over a window. A YOLOv3 Lightning run
(csv-lightning-yolov3-valacc-35) logged `train_loss` nan from step 4599; its class accuracy
read 3.6657 from step 4654 and the one alert, at step 7447, was a "disruption ... getting worse
from the first evaluation". `LiveDivergence` watches the train loss beside the monitor and says
once, as soon as the loss has been non-finite for MIN_BROKEN records in a row after a finite
one (the offline rule's count: fewer is a glitch, as `analyze` reads it), where it broke, and
once more if the loss is finite again after that; a loss not a number at each of its first
MIN_BROKEN records is said to be broken from its start (`analyze` says so of a loss never a
number: an llm.c GPT-2 run whose loss was nan at each of its 901 steps). It reads the records
only: the alerts and the monitor's decisions are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phasewatch.presets import role_matches
from phasewatch.values import MAX_VALUE, to_float


class LiveDivergence:
    """The run's train loss (role `train/loss`, not the `watched` metric), record by record."""

    def __init__(self, watched: str):
        from phasewatch.diverged import MIN_BROKEN  # (numpy: not on a watch's import path)

        self.watched, self.min_broken = watched, MIN_BROKEN
        self.loss: str | None = None  # the train loss's own name, once a record holds one
        self.last_finite: tuple[int, float] | None = None  # (step, value)
        self.broken_from: int | None = None  # the first non-finite step after it
        self.broken = 0  # non-finite records in a row since
        self.said = False

    def add(self, step: int, values: Mapping[str, Any]) -> str | None:
        """Feed one record; the note to say when this record makes the loss's break a state,
        or, once one was said, shows the loss finite again (then a break was no divergence to
        the run's end, which `analyze` would not report)."""
        if self.loss is None:
            names = [n for n in role_matches("train/loss", values) if n != self.watched]
            if not names:
                return None
            self.loss = names[0]
        value = to_float(values.get(self.loss))
        if value is None:
            return None
        if abs(value) <= MAX_VALUE:  # finite: any break before it was a glitch
            said, self.said = self.said, False
            self.last_finite, self.broken_from, self.broken = (step, value), None, 0
            return (f"{self.loss} is finite again at step {step} ({value:.4g}): the training "
                    "said to be broken goes on") if said else None
        if self.said:
            return None
        if self.broken_from is None:
            self.broken_from = step
        self.broken += 1
        if self.broken < self.min_broken:
            return None
        self.said = True
        scores = f"every evaluation of {self.watched} from now on scores the"
        if self.last_finite is None:  # never a number: broken from its first record
            return (f"{self.loss} is not a number (NaN or infinite) at each of its first "
                    f"{self.broken} records, from step {self.broken_from} to step {step}: "
                    f"training is broken from its start, and {scores} broken model")
        at, last = self.last_finite
        return (f"{self.loss} is not a number (NaN or infinite) at each of its {self.broken} "
                f"records from step {self.broken_from} to step {step} (the last finite: "
                f"{last:.4g} at step {at}): training has diverged, and {scores} diverged model")
