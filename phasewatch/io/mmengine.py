"""OpenMMLab's mmengine `vis_data/scalars.json` (and its copy `vis_data/<timestamp>.json`).

mmengine's `LocalVisBackend` writes one JSON object a line. A training row carries the global
iteration as `step` beside `iter`, `epoch`, `loss`, `lr`, `data_time`, `time`, `memory`; a
validation row carries only its metrics (`accuracy/top1`, `coco/bbox_mAP`, `mIoU`...) and
`step`. mmengine before 0.7.4 (its commit 6df9621a, June 2023, added the global `iter` to
the training row) wrote no `iter`: a training row of those is told by its `epoch` (an
epoch-based loop) or its learning rate (`lr`, the only rows LogProcessor gives one). With an
epoch-based loop (mmpretrain, mmdet's default) that validation `step` is the *epoch*
(mmengine's `LoggerHook`, with its default `log_metric_by_epoch=True`), so a generic JSON lines
reader puts epoch 3's accuracy at step 3 beside losses at step 3000, and sees the step counter
go back at every validation. Here a validation row whose step is the epoch of the
training rows before it is put at the last training step read (the iteration the validation
followed, to within one logging interval); an iteration-based loop's validation rows already
carry the iteration and are kept as they are. A validation row's timings become `val/data_time`,
`val/time`. The checkpoint hook's `save_best` of the config dumped beside the log is the run's
(`mmengine_config`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasewatch.io.jsonl import flatten
from phasewatch.io.jsonlines import first_json_object, loads
from phasewatch.io.lines import BadLine, as_step
from phasewatch.io.mmengine_config import checkpoint_settings
from phasewatch.io.source import LineRecordSource, collect
from phasewatch.run import Run

FORMAT = "mmengine"

# what every training row of mmengine's LogProcessor holds besides the losses and the lr (and,
# since 0.7.4, `iter`: `is_training_row`)
TRAIN_ROW_KEYS = frozenset({"step", "data_time", "time"})
# timings every row has: a validation row's are named `val/data_time`, `val/time`, so that at
# the step it shares with a training row neither overwrites the other
TIMING_KEYS = frozenset({"data_time", "time"})


def sniff(path: Path, head: bytes) -> bool:
    first = first_json_object(head) if path.is_file() else None
    return bool(first) and TRAIN_ROW_KEYS <= set(first) and is_training_row(first)


def is_training_row(row: dict[str, Any]) -> bool:
    """A training row of LogProcessor's: since mmengine 0.7.4 it carries the global `iter`;
    before, only a training row carried the `epoch` (an epoch-based loop) and the learning rates
    (keys ending in `lr`, which `get_log_after_iter` formats apart), a validation row its metrics
    and timings alone (`get_log_after_epoch`). A balloon detector's mmdet 3.0 log of June 2023
    (no `iter`) was read by no rule of this reader: each validation row's epoch (10, 20...) was
    a step counter going back from iteration 59, 'a run started again' at each evaluation."""
    return "iter" in row or "epoch" in row or any(str(k).endswith("lr") for k in row)


class LineParser:
    """Training rows as written; validation rows at the training step they followed."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self._train_step: int | None = None  # the last training row's step (global iteration)
        self._train_epoch: int | None = None  # and its epoch, when the loop counts epochs

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        obj = loads(line)
        if not isinstance(obj, dict) or "step" not in obj:
            raise BadLine("not a JSON object with a 'step' key")
        return self.row(obj)

    def row(self, obj: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
        """A row as scalars.json holds it (`step` among its keys), from a line of the file or
        of mmengine's text log (`io.mmengine_console`)."""
        step = as_step(obj["step"])
        training = is_training_row(obj)
        if training:
            self._train_step = step
            epoch = obj.get("epoch")
            self._train_epoch = as_step(epoch) if isinstance(epoch, (int, float)) else None
        elif (self._train_epoch is not None and self._train_step is not None
              and step == self._train_epoch and step < self._train_step):
            if not self.notes:
                self.notes.append(
                    "validation rows carry the epoch as their step (mmengine's epoch-based "
                    "loop); each is put at the last training step before it")
            step = self._train_step
        values = flatten({k: v for k, v in obj.items() if k != "step"})
        if not training:  # a validation row's own timings, not the training rows'
            values = {f"val/{k}" if k in TIMING_KEYS else k: v for k, v in values.items()}
        return [(step, values)]


def source(path: Path, follow: bool = False, notice=None) -> LineRecordSource:
    path = Path(path)
    src = LineRecordSource(path, FORMAT, LineParser, follow=follow, notice=notice)
    src.info.name = path.parent.parent.name if path.parent.name == "vis_data" else path.stem
    take_checkpoint_settings(src)
    return src


def take_checkpoint_settings(src) -> None:
    """The run's config: its checkpoint hook's `save_best` and `rule`, from the config dumped
    beside the log (`mmengine_config`), which steer the metric `analyze` and `watch` take."""
    settings, unread = checkpoint_settings(src.path)
    src.info.config.update(settings)
    if unread is not None:
        src.warn(unread)


def read(path: Path) -> Run:
    return collect(source(path))
