"""A config's `epochs` as a run's plan where its steps are its epochs (Keras' `model.fit(epochs=...)`,
a script's `config={"epochs": 10}`, an Ultralytics YOLO run's args.yaml): the count, and whether
the rows so far are one per epoch (`EpochSteps`), read by `planned` offline and `live_plan` live."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phasewatch.planned import (
    EPOCH_METRICS,
    _lookup,
    _positive_number,
    planned_epochs,
    planned_key,
)

EPOCH_COUNT_KEY = "epochs"  # Keras' `model.fit(epochs=...)`, a script's `config={"epochs": 10}`
# Ultralytics' training-time budget, args.yaml's `time` (hours): the trainer recomputes `epochs`
# from the first epoch's duration and stops at the budget, and the file keeps the number it
# began with, so `epochs` beside it is no plan
TIME_BUDGET_KEY = "time"


def epoch_count(config: Mapping[str, Any]) -> int | None:
    """The config's `epochs`, a whole number > 0, where it states no planned steps and no
    `num_train_epochs` (a Hugging Face run's `epochs` beside them is its own) and no YOLO
    time budget (`time_budget`); else None."""
    if planned_key(config) is not None or planned_epochs(config) is not None \
            or time_budget(config) is not None:
        return None
    count = _positive_number(_lookup(config, EPOCH_COUNT_KEY))
    return int(count) if count is not None and count.is_integer() else None


def time_budget(config: Mapping[str, Any]) -> float | None:
    """The hours of an Ultralytics run's time budget (`TIME_BUDGET_KEY`), where its arguments
    (args.yaml: a `task` and `mode: train` beside it) set one; else None."""
    hours = config.get(TIME_BUDGET_KEY)
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not hours > 0 \
            or config.get("mode") != "train" or "task" not in config:
        return None
    return float(hours)


class EpochSteps:
    """Whether a run's steps are its epochs, as its rows so far say, and then its planned last
    step: the config's `epochs` E counted from the first step (0 or 1), as Keras' `Epoch 9/40`
    is epoch 39 at most. wandb-naver-bert-10ep holds `epochs: 10` and one row per epoch at
    steps 0-9 (a held-out loss and accuracy in each), and without a plan its held-out loss's
    rise from epoch 1 read live as a disruption at 7 with best checkpoint 0. The steps are
    epochs while they go up by one from 0 or 1, stay within E, and every row holds a held-out
    metric (`heldout_names`: a row per evaluation, not per batch) and no epoch column other
    than the step itself (Keras' WandbCallback logs `epoch`, the step); a row that breaks this
    ends it for good."""

    def __init__(self, epochs: int):
        self.epochs = epochs
        self.first: int | None = None
        self.last: int | None = None
        self.broken = False

    def add(self, step: int, names) -> None:
        """A row at `step` with these metric `names` (and its `epoch` value, if any, in
        `names` as a mapping's)."""
        if self.broken:
            return
        first = step if self.first is None else self.first
        ok = (step in (0, 1) if self.last is None else step in (self.last, self.last + 1)) \
            and step <= first + self.epochs - 1 and _holds_held_out(names) \
            and all(_positive_number(names[n]) in (None, float(step), float(step + 1))
                    for n in EPOCH_METRICS if isinstance(names, Mapping) and n in names)
        if not ok:
            self.broken = True
            return
        self.first, self.last = first, step

    @property
    def plan(self) -> int | None:
        return None if self.broken or self.first is None else self.first + self.epochs - 1


def _holds_held_out(names) -> bool:
    """Whether `names` hold a held-out metric, by the held-out naming rule or by a preset of a
    held-out role (a YOLO results.csv's `metrics/mAP50-95(B)`, whose `val/box_loss` the rule
    does not read as a loss of its own)."""
    from phasewatch.heldout_names import held_out_match
    from phasewatch.presets import HELD_OUT_ROLES, aliases_for

    return any(held_out_match(name) is not None for name in names) \
        or not aliases_for(names).keys().isdisjoint(HELD_OUT_ROLES)
