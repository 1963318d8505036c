"""The saved checkpoint to load beside a live alert: the watched metric's evaluations as a watch
(or a framework callback) feeds them, and the checkpoints as the output folder holds them when
the alert is given (`saved_checkpoints.choose`, the one rule `analyze` names a checkpoint by).

Live, checkpoints appear and disappear while a watch follows: HF's `save_total_limit` deletes
the older ones at each save (trial 30: an alert named checkpoint-125, deleted 1 s later), and
ModelCheckpoint's `save_top_k` the ones it ranks below its k best, and a YOLO trainer
overwrites its last.pt and best.pt (`yolo_weights.at_alert`). The folder is listed when an
alert is given, never per record, and an alert names only a checkpoint saved up to its step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasewatch import lightning_checkpoints
from phasewatch.folders import checkpoint_step
from phasewatch.saved_checkpoints import (
    HF_FORMATS,
    SavedCheckpoint,
    candidate_folders,
    checkpoint_path,
    choose,
    output_folder,
    save_interval,
)


def trainer_state_now(folder: Path, steps: list[int]) -> tuple[bool, int | None]:
    """(whether the run is over, the step of the trainer's `best_model_checkpoint`, which
    `save_total_limit` rotation never deletes) from the newest trainer_state.json in an HF
    output folder (its own, or its newest checkpoint's): over when `global_step` reached
    `max_steps` or the trainer was told to stop (`TrainerControl.should_training_stop`). A
    replay of a finished folder said 'older checkpoints are being deleted: copy checkpoint-700
    now' of the checkpoint the trainer kept as its best (trial 31). Unreadable: (False, None)."""
    import json

    newest: dict = {}
    for path in (folder / "trainer_state.json",
                 checkpoint_path(folder, steps[-1]) / "trainer_state.json" if steps else None):
        try:
            state = json.loads(path.read_text()) if path is not None else None
        except (OSError, ValueError):
            continue
        if isinstance(state, dict) and (state.get("global_step") or 0) >= (
                newest.get("global_step") or 0):
            newest = state
    step, limit = newest.get("global_step") or 0, newest.get("max_steps") or 0
    control = ((newest.get("stateful_callbacks") or {}).get("TrainerControl") or {})
    stopped = bool((control.get("args") or {}).get("should_training_stop"))
    return (bool(newest) and (stopped or 0 < limit <= step),
            checkpoint_step(newest.get("best_model_checkpoint") or ""))


class LiveCheckpoints:
    """The watched metric's evaluations as a watch feeds them (steps and oriented values, 16
    bytes each: kept only for a log that may be in an HF output folder), and the saved
    checkpoint to load beside an alert's best step, from the folder as it is when the alert is
    given."""

    def __init__(self, candidates: list[Path] | None, lightning: Path | None = None,
                 yolo: Path | None = None):
        from array import array

        self.candidates = candidates  # None: off (no folder to look in, nothing kept)
        self.lightning = lightning  # a Lightning log, whose `.ckpt` files are looked for
        self.yolo = yolo  # a YOLO run's results.csv, beside its weights/ (`yolo_weights`)
        self.listed: set[int] = set()  # every checkpoint step seen in a listing so far
        self.steps = array("q")
        self.values = array("d")

    @classmethod
    def for_watch(cls, path: Path, source) -> LiveCheckpoints:
        """Off where no answer can come: the log (`source`, a reader's) is not of an HF trainer
        (nor beside checkpoints already), or its steps are not steps (an HF console log's)."""
        from phasewatch.yolo_weights import beside_weights

        if (yolo := beside_weights(getattr(source, "path", None))) is not None:
            return cls([], yolo=yolo)  # a YOLO run folder: its epochs are what files hold
        if getattr(source.info, "step_unit", "step") != "step":
            return cls(None)
        candidates = candidate_folders(path, source.format)
        if source.format in HF_FORMATS or output_folder(candidates) is not None:
            return cls(candidates)
        lightning = lightning_checkpoints.version_folder(path, getattr(source, "file", None))
        return cls(candidates, lightning) if lightning is not None else cls(None)

    def sync(self, monitor) -> None:
        """Take the values the monitor's main series got since the last call (from its ring
        buffer: a call per record fed, so only the newest few are looked at)."""
        if self.candidates is None:
            return
        series = monitor.trackers_[0].series
        last = self.steps[-1] if self.steps else None
        if series.last_step is None or (last is not None and series.last_step <= last):
            return
        new = []
        for step, y in zip(reversed(series.steps), reversed(series.values)):
            if last is not None and step <= last:
                break
            new.append((step, y))
        for step, y in reversed(new):
            self.steps.append(step)
            self.values.append(y)

    def rewind(self, step: int) -> None:
        """A resumed run: forget the evaluations from `step` on."""
        if self.candidates is None:
            return
        from bisect import bisect_left

        keep = bisect_left(self.steps, step)
        del self.steps[keep:], self.values[keep:]

    def at_alert(self, monitor, alert, info) -> tuple[bool, SavedCheckpoint | None] | None:
        """(in an HF output folder now, the checkpoint to load beside `alert.best_step` among
        those up to `alert.step`), or None when off; `info`: the source's `RunInfo`."""
        if self.candidates is None:
            return None
        self.sync(monitor)
        sign = monitor.trackers_[0].series.sign
        if self.yolo is not None:
            from phasewatch.yolo_weights import at_alert

            saved = at_alert(self.yolo, self.steps, self.values, sign, alert)
            if saved is not None and alert.metric in monitor.config.train_metrics:
                saved.reading = "reading"
            return saved is not None, saved  # None: not a YOLO trainer's results.csv
        found, files = output_folder(self.candidates), None  # the folder as it is now
        if found is None and self.lightning is not None:  # Lightning's `.ckpt` files
            found, files = lightning_checkpoints.found(self.lightning) or (None, None)
        if found is None:
            return False, None
        saved = choose(found[0], found[1], self.steps, self.values, sign, alert.best_step,
                       info.config.get("save_steps"), upto=alert.step, files=files)
        if alert.metric in monitor.config.train_metrics:
            saved.reading = "reading"
        # (ModelCheckpoint keeps its top k by its own metric: no rotation to tell by)
        saved.rotating = files is None and self.rotating(found[1], info.config.get("save_steps"))
        if saved.rotating and saved.step is not None:
            # "copy now" only while the trainer runs, and not for the checkpoint it keeps itself
            over, kept = trainer_state_now(found[0], found[1])
            saved.rotating = not over and kept != saved.step
        return True, saved

    def rotating(self, steps: list[int], save_steps: Any = None) -> bool:
        """Whether older checkpoints are being deleted (`save_total_limit`): one seen in an
        earlier listing is gone, or the save cadence puts one before the oldest left that is
        not there (with save_steps 25, checkpoint-150 and -175 left: -125 was deleted)."""
        gone = bool(self.listed - set(steps))
        self.listed.update(steps)
        interval = save_interval(steps, save_steps) if len(steps) > 1 else None
        return gone or (interval is not None and steps[0] - interval >= interval)
