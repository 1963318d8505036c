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
   whose later rows replace the earlier ones (`resumes`), except in rule 3.
3. A counter that starts again from its first value (or below) while `_step` goes on rising
   counts each pass of the run, not the run: a script logging `{"iteration": i, ...}` with `i`
   from 0 in every epoch. Read as restarts, each pass would replace the one before (a history of
   three epochs kept its last: one validation of three), where `_step`, W&B's row count, proves
   one process logged them all in turn (a W&B resume from a checkpoint continues `_step` too,
   but from a checkpoint mid-run, not from the counter's first value). So the passes are counted
   on: each pass's steps follow the one before's last step by that counter's usual increment
   (passes of 0, 10, ..., 90 become 0-90, 100-190, 200-290: the run's iteration when a pass
   holds a whole number of logging intervals), decided row by row, so a live `watch` and
   `analyze` read alike, and said in `note`.
4. A metric declared against a step metric (`define_metric(..., step_metric=...)`) keeps its
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
        self.passes = Passes()

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
                self.last = self.passes.step(step, self.wandb_steps[1])

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
                f"'_step', the x-axis of its charts by default, numbers the logged rows{calls}"
                + (f"; {self.passes.note(self.key)}" if self.passes.starts else ""))


class Passes:
    """A counter that starts again at each pass (rule 3): its values counted on across the
    passes. One rule for the W&B readers and W&B's "Export CSV" (`_step` beside the counter)."""

    def __init__(self) -> None:
        self.first: int | None = None  # the counter's first value
        self.raw: int | None = None  # its last value, as logged
        self.wandb_step: int | None = None  # `_step` of the row it was last read in
        self.increment = 1  # its last rise, the gap a new pass follows the last one by
        self.offset = 0
        self.starts: list[tuple[int, int, int]] = []  # (W&B step, went back from, to)

    def step(self, raw: int, wandb_step: int | None) -> int:
        """The step of a row whose counter reads `raw` and whose `_step` is `wandb_step` (None
        where the row has none: no proof that one process logged it after the last)."""
        rose = None not in (wandb_step, self.wandb_step) and wandb_step > self.wandb_step
        self.wandb_step = wandb_step
        if self.first is None:
            self.first = raw
        elif raw > self.raw:
            self.increment = raw - self.raw
        elif raw < self.raw and raw <= self.first and rose:
            self.starts.append((wandb_step, self.raw, raw))
            self.offset += self.raw + self.increment - raw
        self.raw = raw
        return raw + self.offset

    def note(self, key: str) -> str:
        """What a user must know once the counter started again (`starts` not empty)."""
        wandb_step, back_from, to = self.starts[0]
        times = "once" if len(self.starts) == 1 else f"{len(self.starts)} times"
        return (f"'{key}' started again {times} while '_step' rose (first at W&B step "
                f"{wandb_step}, from {back_from} to {to}), as a counter of each epoch's "
                "iterations does: its passes are counted on, each from the last one's end plus "
                "its interval")
