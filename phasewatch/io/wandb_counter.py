"""The run's own step counter in a W&B history, where `wandb.log` was called without `step=`.

W&B numbers each history row with `_step`: the `step=` the script passed, else a count of its
`wandb.log` calls (0, 1, 2, ...: the SDK's `_history_assign_step`). A script that logs its own
counter as a value and declares nothing (nanoGPT: `wandb.log({"iter": iter_num, "train/loss":
..., "val/loss": ...})`, an evaluation every 250 iterations) has `_step` 0-20 where its
iterations are 0-5000: read on `_step`, wandb-nanogpt-valloss-21 said "recommended stop: step
7" where its console and its CSV say iteration 1750, and every text and figure counted
`wandb.log` calls as training steps. The SDK's Python TensorBoard sync writes the same kind
of rows (`global_step` in each, `_step` counting commits: `integration/tensorboard/log.py`).

The rule (`OwnCounter`) is the one every table reader applies to its columns
(`lines.find_step_key`), so a run read from its `.wandb` file, its `wandb-history.jsonl` or
W&B's "Export CSV" (which holds `_step` beside `iter`) gets the same steps:
1. The first row that holds a metric decides. The key `find_step_key` picks among its keys,
   W&B's `_step` included, is the run's counter when it is not `_step` and holds an integer
   there: only names ranked above `_step` (`step`, `global_step`, `train/global_step`,
   `iteration`, `iter`, ...), never `epoch` (a Keras row's `epoch` beside `_step` stays a
   value, as `epoch` loses to `_step` in a CSV export). A history whose first row has no such
   key (a counter logged only beside some metrics, such as an image's `step`) keeps `_step`.
   Deciding on the first row keeps a live `watch` and `analyze` of the whole file alike.
2. Each row's step is then its counter's value; a row without it (a validation logged by a
   `wandb.log` call of its own) is placed at the counter's last value, which is what W&B
   itself writes into such a row for a step metric declared with `define_metric` (its
   `step_sync`). A counter that goes back is read as any step that goes back is: a restart,
   whose later rows replace the earlier ones (`resumes`).
3. A metric declared against a step metric (`define_metric(..., step_metric=...)`) keeps its
   declaration (`wandb.StepMetrics`); the counter is the step of the others, and no metric.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phasewatch.io.lines import find_step_key
from phasewatch.values import to_step

WANDB_STEP = "_step"


def integer_step(value: Any) -> int | None:
    """A history step, or None when it is missing or not a usable integer (`values.to_step`)."""
    if value is None:
        return None
    try:
        return to_step(value)
    except ValueError:
        return None


class OwnCounter:
    """The counter a W&B history logs as a value (`key`, None for W&B's `_step`), decided on
    the first row with a metric, and its last value (for the rows logged without it)."""

    def __init__(self) -> None:
        self.key: str | None = None
        self.decided = False
        self.last: int | None = None
        self.wandb_steps: list[int | None] = [None, None]  # W&B's first and last `_step`
        self.used = False  # a metric was placed on the counter (declared ones are not: HF's)

    def see(self, row: Mapping[str, Any], has_metric: bool) -> None:
        """Take `row` (every key of one history row, W&B's bookkeeping included); the first
        row where `has_metric` decides the counter."""
        if not self.decided and has_metric:
            self.decided = True
            key = find_step_key(row.keys())
            if key is not None and key != WANDB_STEP and integer_step(row[key]) is not None:
                self.key = key
                self.wandb_steps[0] = integer_step(row.get(WANDB_STEP))
        if self.key is not None:
            self.wandb_steps[1] = integer_step(row.get(WANDB_STEP))
            step = integer_step(row.get(self.key))
            if step is not None:
                self.last = step

    def step(self) -> int | None:
        """The step of a metric of the row last seen, on the run's counter (None: no counter,
        use `_step`)."""
        if self.key is None:
            return None
        self.used = True
        return self.last

    def note(self) -> str | None:
        """What a user comparing with the W&B charts must know, once a counter is the axis of
        some metric (not where every metric is declared against its step metric)."""
        if not self.used:
            return None
        first, last = self.wandb_steps
        calls = f" ({first}-{last} here)" if first is not None and last is not None else ""
        return (f"steps are the run's own counter '{self.key}', logged in its rows; W&B's "
                f"'_step', the x-axis of its charts by default, numbers the logged rows{calls}")
