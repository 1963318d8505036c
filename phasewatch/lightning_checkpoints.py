"""Which PyTorch Lightning checkpoint file holds the model of a logged step: the `*.ckpt` files
ModelCheckpoint writes beside a logger's version folder (its default `dirpath`,
`<save_dir>/<name>/version_N/checkpoints/`).

Steps here are the steps Lightning logs (metrics.csv's `step`, TensorBoard's), as `analyze`
reads them; the files are named by `trainer.global_step`, one more. In `fit`, the optimizer
step raises `global_step` before the batch's metrics and the validation that follows it are
logged at the loop's `_batches_that_stepped`, which `_TrainingEpochLoop.on_advance_end`
increments only after that validation (Lightning 2.6.6, for `val_check_interval` and the
validation at an epoch's end alike); ModelCheckpoint saves at that validation's end, named
`epoch={epoch}-step={global_step}`, and so does a save at an epoch's end or every N training
steps. So the model logged at step s is the file `step=s+1`: trial 40's run logged its best
validation at step 139 in metrics.csv and TensorBoard, analyze said "recommended stop: step
139", and the file is `epoch=6-step=140.ckpt` (no `step=139` exists). `FILE_OFFSET` is that
rule, used by the outputs that name a file and by the Lightning callback, which reports the
steps logged (`logged_step`) and names the file.

The rule does not hold for `trainer.validate()` outside `fit` (step 0 before it is the model
before training, which ModelCheckpoint never saves; after it, the last step), for a
validation in the middle of a gradient-accumulation window, or where the module logs its own
`step`; no file is then named for those steps unless one `step=s+1` exists. A file name
without `step=N` (a `filename=` template without `{step}`, `last.ckpt`) gives no step: none is
guessed. Files are only listed, never opened: unpickling a checkpoint runs code.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

CHECKPOINTS = "checkpoints"  # ModelCheckpoint's folder in the logger's version folder
SUFFIX = ".ckpt"
FILE_OFFSET = 1  # a file's `step=` is the global step, one past the step its model was logged at
# `step=140` as ModelCheckpoint writes it: among the name's `-`-joined parts (`epoch=6-step=140`,
# `epoch=6-step=140-v1` for a second file of that name, `step=140-val_loss=0.68`)
_STEP = re.compile(r"(?:^|[-_])step=(\d+)(?=[-_.]|$)")


def logged_step(trainer: Any) -> int:
    """The step Lightning's loggers give what is logged now: the fit loop's
    `_batches_that_stepped` (what `LoggerConnector.log_metrics` uses), else the global step."""
    loop = getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None)
    step = getattr(loop, "_batches_that_stepped", None)
    return step if isinstance(step, int) else int(trainer.global_step)


def file_step(name: str) -> int | None:
    """The global step in a checkpoint file's name (`epoch=6-step=140.ckpt`: 140), else None."""
    if not name.endswith(SUFFIX):
        return None
    found = _STEP.search(name[:-len(SUFFIX)])
    return int(found.group(1)) if found else None


def files_by_step(folder: str | Path) -> dict[int, Path]:
    """The `.ckpt` files in `folder` by the logged step of the model each holds (one listing;
    of two files of one step, the first by name: `-v1` is a second save of the same step)."""
    found: dict[int, Path] = {}
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if e.is_file())
    except OSError:
        return {}
    for name in names:
        step = file_step(name)
        if step is not None and step >= FILE_OFFSET:
            found.setdefault(step - FILE_OFFSET, Path(folder) / name)
    return found


def checkpoints_folder(path: str | Path) -> Path:
    """Where ModelCheckpoint saves by default for the log at `path` (a version folder, or a
    log file in one): `version_N/checkpoints`."""
    path = Path(path)
    start = path if path.is_dir() else path.parent
    return start / CHECKPOINTS


def found(*paths: str | Path | None) -> tuple[tuple[Path, list[int]], dict[int, Path]] | None:
    """((the checkpoints folder beside the log at the first of `paths` that has one, the logged
    steps of its files, ascending), the files by logged step), or None when none holds a file
    with a step. The paths: as given, then the log read (`analyze runs/A` reads
    `runs/A/lightning_logs/version_0/metrics.csv`). A resumed run's log (a version continuing
    earlier ones: `lightning_versions`) has its earlier versions' files too, those of steps
    before the resume went back (trial 40: the best, `epoch=6-step=140.ckpt`, is version_0's;
    read from version_2's folder alone, its epoch=7-step=150.ckpt was named, 0.0057 below)."""
    from phasewatch.lightning_versions import continued_versions

    for path in paths:
        if path is None:
            continue
        files = files_by_step(folder := checkpoints_folder(path))
        for earlier, until in continued_versions(path)[::-1]:
            files = {step: file for step, file in files_by_step(earlier / CHECKPOINTS).items()
                     if step < until} | files
        if files:
            return (folder, sorted(files)), files
    return None


def version_folder(*paths: str | Path | None) -> Path | None:
    """The first of `paths` whose log is in a Lightning logger's version folder (a follow
    started before `fit` sees no checkpoint yet): its folder is `version_N`, or holds
    hparams.yaml or a checkpoints folder."""
    from phasewatch.io.lightning_folder import HPARAMS
    from phasewatch.lightning_versions import version_of

    for path in paths:
        if path is None:
            continue
        path = Path(path)
        start = path if path.is_dir() else path.parent
        if (version_of(path) is not None
                or (start / HPARAMS).is_file() or (start / CHECKPOINTS).is_dir()):
            return path
    return None


def shown(path: str | Path) -> str:
    """A file as the outputs name it, with its version folder (a folder of versions may hold
    several runs' files): `version_0/checkpoints/epoch=6-step=140.ckpt`."""
    path = Path(path)
    return "/".join(p.name for p in (path.parent.parent, path.parent, path) if p.name)


def text(saved: Any, metric: str) -> str:
    """`SavedCheckpoint.text` for Lightning's files: the recommended step's file, else the best
    saved one, each with the global step it is named by beside the step logged."""
    best = saved.best_step
    missing = "" if best is None else \
        f"no step={best + FILE_OFFSET} file, Lightning's name for step {best}"
    if saved.step is None:
        upto = f" up to step {saved.upto}" if saved.upto is not None else ""
        return "; ".join(x for x in (missing, f"no checkpoint file{upto} in {CHECKPOINTS}/") if x)
    if saved.step == best and saved.best == "saved":
        return f"saved: {shown(saved.path)}, named by the global step, one past the step logged"
    at, off = saved.score_words()
    chosen = (f"best saved: {shown(saved.path)} (logged at step {saved.step}), {metric} "
              f"{saved.value:.4g}{at}{off}")
    return "; ".join(x for x in (missing, chosen) if x)
