"""What `watch` adds to the records for `--aggregate mean` and `--x`, as `analyze` does offline.

- Several validation sets behind one role (`metric_sets`): once the metric is chosen on the
  held records, the sets are named as `analyze` names them (a warning, or their mean with
  `aggregate="mean"`). The mean is a value of its own, added to the records at each step where
  every set has been evaluated, under the label `analyze` uses, so the monitor and the
  whole-run answer watch the same series.
- The x axis (`xaxis`): the counter the log carries beside the step (epoch, tokens, samples) is
  collected as records pass, so each alert can say where it happened in that unit.
- The step unit (`xaxis.step_unit`): where the log's steps are epochs (Keras), the alerts say
  "epoch 7", not "step 7".
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

MAX_OPEN_STEPS = 256  # steps waiting for their last set; older ones are given up


@dataclass
class SetMean:
    """The mean of `sets` at each step where all of them are finite, as records arrive."""

    sets: list[str]
    label: str
    open_steps: OrderedDict = field(default_factory=OrderedDict)  # step -> {set: value}

    def add(self, step: int, values: dict[str, Any]) -> float | None:
        """The mean at `step` once this record completes it (again if a set is re-logged)."""
        from phasewatch.values import to_float

        got = {k: to_float(values[k]) for k in self.sets if k in values}
        got = {k: v for k, v in got.items() if v is not None and math.isfinite(v)}
        if not got:
            return None
        known = self.open_steps.setdefault(step, {})
        known.update(got)
        self.open_steps.move_to_end(step)
        while len(self.open_steps) > MAX_OPEN_STEPS:
            self.open_steps.popitem(last=False)
        if len(known) < len(self.sets):
            return None
        return sum(known.values()) / len(known)


def choose_sets(run, metric_option: str | None, aggregate: str | None):
    """`metric_sets.choose_series` on the records held so far: (the metric to watch, the
    warnings to show, a `SetMean` when the mean of several sets is watched)."""
    from phasewatch.metric_sets import choose_series

    choice = choose_series(run, metric_option, aggregate)
    if len(choice.sets) > 1 and aggregate is not None:
        return choice.metric, choice.warnings, SetMean(list(choice.sets), choice.metric)
    return choice.metric, choice.warnings, None


@dataclass
class LiveAxis:
    """The x counter's (step, value) pairs seen so far, for alerts in `unit`."""

    unit: str
    carriers: tuple[str, ...]
    steps: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    fell: bool = False  # the counter fell: no axis from there (`add`)

    @classmethod
    def for_unit(cls, unit: str | None) -> LiveAxis | None:
        from phasewatch.errors import UsageError
        from phasewatch.xaxis import CARRIERS, UNITS

        if unit in (None, "step"):
            return None
        if unit not in UNITS:
            raise UsageError(f"--x must be one of {', '.join(UNITS)}, not {unit!r}")
        return cls(unit, CARRIERS[unit])

    def add(self, step: int, values: dict[str, Any]) -> str | None:
        """Take the counter's value of a record; the reason it is no axis (`xaxis.counter_falls`,
        said once) when it falls, as `analyze --x` refuses such a counter: alerts then say no
        position in the unit."""
        from phasewatch.values import to_float

        for name in self.carriers:
            if name in values:
                value = to_float(values[name])
                if value is None or not math.isfinite(value) or self.fell:
                    return None
                if self.steps and step <= self.steps[-1]:  # a resume: forget what it replaces
                    keep = sum(s < step for s in self.steps)
                    del self.steps[keep:], self.values[keep:]
                if self.values and value < self.values[-1]:
                    from phasewatch.xaxis import counter_falls

                    self.fell = True
                    return counter_falls(self.unit, name, (self.values[-1], int(self.steps[-1])),
                                         (value, step)) + "; the alerts from here say no " + \
                        f"{self.unit}"
                self.steps.append(float(step))
                self.values.append(value)
                return None
        return None

    def at(self, step: float | None) -> float | None:
        """The unit at `step`, as `xaxis.XAxis.at` gives it offline (None before any value, and
        once the counter fell)."""
        if step is None or not self.steps or self.fell:
            return None
        import numpy as np

        from phasewatch.xaxis import XAxis

        axis = XAxis(self.unit, self.carriers[0], np.asarray(self.steps), np.asarray(self.values))
        return axis.at(step)


@functools.cache
def watched_alert_class() -> type:
    """`WatchedAlert`, an `online.Alert` as `watch` gives it: `step_unit` names what its steps
    count (`format_alert` says "epoch 7" where the log's steps are epochs); `x`, with `--x`,
    where it happened in that unit (its JSON object gains `"x"`; the `*_step` fields stay
    steps). Made on first use: importing `phasewatch.online` imports numpy, which a watch that
    never alerts does not need."""
    from phasewatch.online import Alert

    @dataclass(frozen=True)
    class WatchedAlert(Alert):
        step_unit: str = "step"
        x: dict | None = None
        # its steps are a counter of their own beside the records' (validations per epoch
        # beside per-batch steps, `step_counters`): its JSON says `"step_unit": "epoch"`
        own_counter: bool = False
        # in an HF output folder with checkpoint-N: the `saved_checkpoints.SavedCheckpoint` to
        # load, from the folder as it was when the alert was given (not the monitor's decision:
        # a follow and a replay of one log give equal alerts, whatever the folder held then)
        in_hf_folder: bool = field(default=False, compare=False)
        saved: Any = field(default=None, compare=False)

        def to_dict(self) -> dict[str, Any]:
            out = super().to_dict()
            if "/" in self.step_unit or self.own_counter:  # epoch/10000 (HF console), epochs
                out["step_unit"] = self.step_unit
            if self.in_hf_folder:
                out["saved_checkpoint"] = None if self.saved is None else self.saved.to_dict()
            return out if self.x is None else {**out, "x": self.x}

    return WatchedAlert


def _in_unit(unit: str, value: float) -> str:
    """'epoch 8', '1.2e+06 tokens': where in `--x`'s unit, said after "at" (a bare "(epoch
    8)" after an alert's words read as the epoch of the level they name last)."""
    return f"epoch {value:.4g}" if unit == "epoch" else f"{value:.4g} {unit}"


def as_watched(alert, axis: LiveAxis | None, info=None, saved=None):
    """`alert` with its message naming the steps in the unit the log's steps count (`info`, the
    source's `RunInfo`: "has got worse since epoch 5", `xaxis.step_unit`) and, with `--x`, where
    it happened in the axis' unit: the message says it and the JSON object gains
    `"x": {"unit", "step", "onset", "best"}`. `saved`: (in an HF output folder, the
    `SavedCheckpoint` to load) (`live_checkpoints.LiveCheckpoints.at_alert`), or None."""
    in_hf, checkpoint = saved if saved is not None else (False, None)
    unit = getattr(info, "step_unit", "step")
    if unit != "step" or getattr(info, "counters", None) is not None and info.counters.units:
        # xaxis (numpy) only for such a log
        from phasewatch.xaxis import in_step_unit, step_unit

        unit = step_unit(info, alert.metric)
    where = None
    counters = getattr(info, "counters", None)
    own = counters is not None and alert.metric in counters.units
    if axis is not None and not own:  # the axis' counter counts the other metrics' steps
        where = {"unit": axis.unit, "step": axis.at(alert.step),
                 "onset": axis.at(alert.onset_step), "best": axis.at(alert.best_step)}
        if where["step"] is None:
            where = None
    if where is None and unit == "step" and not in_hf:
        return alert
    from phasewatch.online import Alert

    fields = {f.name: getattr(alert, f.name) for f in dataclasses.fields(Alert)}
    if unit != "step":
        fields["message"] = in_step_unit(alert.message, unit)
    if where is not None and not (axis.unit == unit.split("/")[0] and "/" in unit):
        # (not where the message says that unit already: an HF console log's epochs)
        fields["message"] += f" (at {_in_unit(axis.unit, where['step'])})"
    return watched_alert_class()(**fields, step_unit=unit, x=where, in_hf_folder=in_hf,
                                 saved=checkpoint, own_counter=own)
