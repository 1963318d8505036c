"""What Ultralytics YOLO writes beside a training run's `results.csv`: the run's arguments.

The trainer saves them before the first epoch (YOLOv8 and later: `args.yaml`, from
`vars(self.args)`; YOLOv5's train.py: `opt.yaml`), so a run folder `runs/detect/train/` holds its
planned `epochs` beside the one row per epoch results.csv gains. Unread, a run was a table of
unknown length: `analyze` could not say that a run of 102 epochs planned for 150 ended early,
nor `watch` judge what is early against the plan (`epoch_steps.EpochSteps` turns the epochs
into the run's last step, as it does for Keras' `epochs`). With a training-time budget (`time`,
hours) the trainer recomputes `epochs` from the first epoch's duration and the file keeps the
value it started with, so `epochs` is then no plan (`epoch_steps.time_budget`): it stays in the
run's config as the file says, and a warning says the budget may end the run first. The row of
the last planned epoch is the run's end (the trainer's `final_epoch`: it validates, saves and
stops there), and so is the row its early stopping stops at (`patience`: `yolo_early_stop`):
a watch that follows the file ends there as at an HF trainer's `train_runtime` row
(`TrainerEnd`).
"""

from __future__ import annotations

from pathlib import Path

from phasewatch.io.yaml_config import take_config, yaml_config

RESULTS = "results.csv"
ARGS_FILES = ("args.yaml", "opt.yaml")  # Ultralytics (YOLOv8+), YOLOv5's train.py
EPOCHS = "epochs"


def ultralytics_args(folder: Path) -> tuple[dict, str] | None:
    """The arguments of the YOLO run in `folder` and the file they are in; None while the
    folder has no arguments file (a follow looks again)."""
    for name in ARGS_FILES:
        found = yaml_config(Path(folder) / name)
        if found is not None:
            return found, name
    return None


def budget_note(args: dict, name: str) -> str | None:
    """What a time budget does to the run's `epochs`, where args.yaml sets both; else None."""
    from phasewatch.epoch_steps import time_budget

    hours, epochs = time_budget(args), args.get(EPOCHS)
    if hours is None or not isinstance(epochs, int) or isinstance(epochs, bool):
        return None
    return (f"{name} sets `epochs: {epochs}` and a training-time budget, `time: {hours:g}` "
            f"(hours), which may end the run first: the trainer recomputes the epochs from the "
            f"first one's duration and stops at the budget, so no planned length is taken "
            f"from `epochs`")


V5_MAP = "metrics/mAP_0.5:0.95"  # YOLOv5's mAP column (Ultralytics': `metrics/mAP50-95(B)`)


def best_pt_again(step: int, values, previous: int | None) -> str | None:
    """Why a results.csv row is left out, where it is YOLOv5's validation of best.pt after
    training: train.py, on COCO, validates best.pt once the epochs are over and logs its results
    through `on_fit_epoch_end` with the last `epoch`, a second row of that epoch (a resumed run
    starts at the epoch after the last, never at it again). Read as the last epoch's, the best
    epoch's mAP ended the curve: a run falling 0.5 -> 0.41 over its last 9 epochs read as a
    plateau ending at 0.5. None for any other row."""
    if previous is None or step != previous or V5_MAP not in values:
        return None
    return (f"a second row of epoch {step} is YOLOv5's validation of weights/best.pt after "
            f"training (train.py logs it so on COCO), not epoch {step}'s: left out")


class TrainerEnd:
    """Whether a results.csv row is the run's last: the last planned epoch's (`steps`, the
    `epoch_steps.EpochSteps` that makes the plan from `epochs` E: epoch E where the file counts
    from 1, Ultralytics; E - 1 from 0, YOLOv5 and early 8.0 releases), or the one the
    trainer's early stopping stops at (`yolo_early_stop`)."""

    def __init__(self, steps=None, early_stop=None) -> None:
        self.steps = steps
        self.early_stop = early_stop

    def reached(self, epoch: int, values: dict) -> bool:
        plan = None
        if self.steps is not None:
            self.steps.add(epoch, values)
            plan = self.steps.plan
        planned = plan is not None and epoch >= plan
        stopped = self.early_stop is not None and self.early_stop.reached(epoch, values)
        return planned or stopped

    def said(self, epoch: int) -> str | None:
        """What the run's end at `epoch` was, where the early stopping ended it before its
        planned epochs: 'the trainer's early stopping ended the run at epoch 102, before the
        epoch 150 it plans (patience 100 in args.yaml: ...)'."""
        words = None if self.early_stop is None else self.early_stop.words
        if words is None:
            return None
        plan = None if self.steps is None else self.steps.plan
        before = "" if plan is None else f", before the epoch {plan} it plans"
        return f"the trainer's early stopping ended the run at epoch {epoch}{before} ({words})"


def take_ultralytics_args(source, folder: Path) -> None:
    """Give `source`'s run the arguments of the YOLO run in `folder`, once they are there (the
    log's own settings win), and its `trainer_end`; a source asks at each read until then."""
    from phasewatch.epoch_steps import EpochSteps, epoch_count
    from phasewatch.yolo_early_stop import live_early_stop

    if getattr(source, "_ultralytics_args_read", False):
        return
    args, name = ultralytics_args(folder) or (None, "")
    if not take_config(source, args, "_ultralytics_args_read"):
        return
    count = epoch_count(args)  # (none beside a time budget)
    source.trainer_end = TrainerEnd(None if count is None else EpochSteps(count),
                                    live_early_stop(args, name))
    if (note := budget_note(args, name)) is not None:
        source.warn(note)
