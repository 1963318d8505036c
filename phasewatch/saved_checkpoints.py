"""Which saved checkpoint to load: the `checkpoint-N` folders a Hugging Face output folder still
holds, beside the step the data recommend.

The recommended step (analyze's `recommended_stop_step`, an alert's or the watch summary's
`best_step`) is the best evaluation: the data's answer. Evaluations and saves rarely share a
cadence (eval every 100 steps, save every 200), and `save_total_limit` deletes older
checkpoints, so that step may have no checkpoint on disk. Where the log is (or is inside) an HF
output folder with `checkpoint-N` sub-folders, the outputs also name the saved checkpoint to
load (`SavedCheckpoint`):
- each checkpoint that exists is scored with the evaluation at its step, else the evaluation
  nearest it (a tie: the later one, as the HF callback scores a save with the level at or just
  after it), when that evaluation is no farther from it than the evaluations are apart; the
  level there is the one `analyze` ranks evaluations by (`phase_stats.point_levels`: a 3-point
  median on a dense run, so one lucky evaluation does not pick the checkpoint);
- the best score among them wins (`best_saved`, the one rule the HF / Lightning callbacks use;
  a tie: the earlier checkpoint);
- what became of the recommended step's own checkpoint: "saved", "not saved" (off the save
  cadence), "deleted" (on the save cadence, older than checkpoints still there: what
  `save_total_limit` rotation does), or "not found" (one checkpoint: no cadence to tell by).
The save cadence is the run's `save_steps` (trainer_state.json) when the checkpoints agree with
it, else the smallest gap between the checkpoints other than the newest (the newest may be the
end-of-training save, off the cadence).

The folder is read when an answer is given (one listing of at most three folders), never per
record: live, checkpoints appear and disappear while a watch follows (`live_checkpoints`).
Lightning's `.ckpt` files (`lightning_checkpoints`) and a YOLO run folder's `weights/*.pt`
(`yolo_weights`) are chosen among by the same rule, each file at the step or epoch it holds.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from phasewatch import lightning_checkpoints
from phasewatch.folders import checkpoint_step
from phasewatch.output import counted

CHECKPOINT_PREFIX = "checkpoint"
HF_FORMATS = frozenset({"trainer_state", "tensorboard", "llamafactory"})


def best_saved(scores: Mapping[int, float | None],
               exists: Callable[[int], bool] = lambda step: True) -> int | None:
    """The saved step with the best score (higher is better) among those whose checkpoint still
    exists; unscored ones are skipped; a tie goes to the earlier step."""
    scored = {s: v for s, v in scores.items() if v is not None and exists(s)}
    if not scored:
        return None
    return max(scored, key=lambda s: (scored[s], -s))


def to_load(scores: Mapping[int, float | None], best_step: int | None,
            exists: Callable[[int], bool] = lambda step: True) -> int | None:
    """The saved step to load: the best step's own checkpoint where it was saved, scored and
    still exists, else the best-scored one that exists (`best_saved`). One rule for `analyze`,
    `watch` and the callbacks (the HF callback ranked by score alone, and its closing line
    could name checkpoint-96 as the best step's own beside a best_model_checkpoint of 108)."""
    if best_step is not None and scores.get(best_step) is not None and exists(best_step):
        return best_step
    return best_saved(scores, exists)


def checkpoint_path(folder: str | Path, step: int) -> Path:
    return Path(folder) / f"{CHECKPOINT_PREFIX}-{int(step)}"


def checkpoint_steps(folder: Path) -> list[int]:
    """The steps of the `checkpoint-N` folders in `folder`, ascending (one listing)."""
    try:
        with os.scandir(folder) as entries:
            return sorted(n for e in entries
                          if (n := checkpoint_step(e.name)) is not None and e.is_dir())
    except OSError:
        return []


def candidate_folders(path: str | Path, fmt: str | None = None) -> list[Path]:
    """The folders that may be the HF output folder of the log at `path`: the folder itself
    (or the file's), its parent when that is a `checkpoint-N` folder, and for a TensorBoard log
    the two folders above it (HF writes it to `output_dir/runs/<date>_<host>/`)."""
    path = Path(path)
    start = path if path.is_dir() else path.parent
    found = [start]
    if checkpoint_step(start.name) is not None:
        found.append(start.parent)
    elif fmt == "tensorboard":
        found += [start.parent, start.parent.parent]
    return found


def output_folder(candidates: list[Path]) -> tuple[Path, list[int]] | None:
    """(the first candidate holding `checkpoint-N` folders, their steps), or None."""
    for folder in candidates:
        steps = checkpoint_steps(folder)
        if steps:
            return folder, steps
    return None


def save_interval(steps: list[int], save_steps: Any = None) -> int | None:
    """The save cadence (see the module docstring), or None with a single checkpoint."""
    older = steps[:-1]  # the newest may be the end-of-training save
    gaps = [b - a for a, b in pairwise(steps)]
    try:
        given = int(save_steps) if save_steps is not None and float(save_steps) >= 1 else None
    except (TypeError, ValueError):
        given = None
    if given and all(s % given == 0 for s in older) and given in gaps:
        return given
    if len(steps) == 2:
        return gaps[0]
    inner = [b - a for a, b in pairwise(older)]
    return min(inner) if inner else None


@dataclass
class SavedCheckpoint:
    """The saved checkpoint to load (`step`, `path`, its score's evaluation `value` at
    `value_step`; None when no checkpoint is left up to `upto`) and `best`, what became of
    the checkpoint of the recommended step `best_step`."""

    best_step: int | None
    best: str | None  # saved / not saved / deleted / not found (None: no recommended step)
    step: int | None = None
    path: str | None = None
    value: float | None = None
    value_step: int | None = None
    upto: int | None = None  # an alert's step: checkpoints after it did not exist yet
    # live: older checkpoints are being deleted (save_total_limit): the one named may be gone
    # at the next save (trial 30: an alert named checkpoint-125, deleted 1 s later)
    rotating: bool = False
    # the level that ranked it where that is not `value` (a dense run's 3-point median)
    level: float | None = None
    best_value: float | None = None  # the evaluation at `best_step`, to say how far off it is
    # a joined run's: which stage's own step and folder the steps above are of
    # (`stage_checkpoints`), e.g. "the RL run's step 320, in runs/grpo_out", and the same as
    # {"name", "step", "folder"}; `missing` when that folder has no checkpoint to look at
    stage: str | None = None
    stage_of: dict[str, Any] | None = None
    missing: str | None = None
    saved_stage: str | None = None  # ... and the stage of `step` when it is another's
    lightning: bool = False  # Lightning's `.ckpt` files: said by `lightning_checkpoints.text`
    yolo: Any = None  # a YOLO run folder's weights (`yolo_weights.RunFolder`): said by its text
    later: int = 0  # with no checkpoint to load: how many the folder holds after `upto`
    # what one value of the series is: "reading" for a train loss or reward
    # (`Analysis.value_word`), whose level is no median of evaluations
    reading: str = "evaluation"

    def to_dict(self) -> dict[str, Any] | None:
        """The JSON `saved_checkpoint`: null when there is no checkpoint to load, except in a
        joined run, whose stage's own step and folder are said even then (step null)."""
        if self.step is None and self.stage_of is None:
            return None
        stage = {} if self.stage_of is None else {
            "stage": self.stage, **{f"stage_{k}": v for k, v in self.stage_of.items()},
            **({"stage_note": self.missing} if self.missing else {})}
        elsewhere = {} if self.saved_stage is None else {"saved_stage": self.saved_stage}
        if self.yolo is not None and self.yolo.best_pt is not None:  # which epoch(s) it holds
            elsewhere["best_pt"] = self.yolo.best_pt.to_dict()
        return {"step": self.step, "path": self.path, "value": self.value,
                "value_step": self.value_step, "best_step_checkpoint": self.best,
                "being_deleted": self.rotating, "level": self.level, **stage, **elsewhere}

    def text(self, metric: str) -> str:
        """What follows the recommended step in the text outputs, e.g. 'not saved; best saved:
        checkpoint-200, eval_loss 0.41'; in a joined run, after the stage's own step and folder
        the steps are of."""
        if self.lightning:
            return lightning_checkpoints.text(self, metric)
        if self.yolo is not None:
            from phasewatch.yolo_weights import text

            return text(self, metric)
        said = self.missing or self._text(metric)
        return said if self.stage is None else f"{self.stage}: {said}"

    def _text(self, metric: str) -> str:
        name = f"{CHECKPOINT_PREFIX}-{self.best_step}"
        said = {"saved": "saved", "not saved": "not saved",
                "deleted": "deleted, likely by save_total_limit",
                "not found": f"no {name} in the folder"}.get(self.best or "", "")
        copy = (f"; older checkpoints are being deleted: copy {CHECKPOINT_PREFIX}-{self.step} "
                "now" if self.rotating and self.step is not None else "")
        if self.best == "saved" and self.step == self.best_step:
            return f"saved: {name}{copy}"
        if self.step is None:
            upto = f" up to step {self.upto}" if self.upto is not None else ""
            later = f", only {counted(self.later, 'later one')}" if self.later else ""
            return f"{said}; no checkpoint{upto} left in the folder{later}" if said else \
                f"no checkpoint{upto} left in the folder{later}"
        at, off = self.score_words()
        of = "" if self.saved_stage is None else f" ({self.saved_stage})"
        best = (f"best saved: {CHECKPOINT_PREFIX}-{self.step}{of}, {metric} {self.value:.4g}{at}"
                f"{off}{copy}")
        return f"{said}; {best}" if said else best


    def score_words(self, unit: str = "step") -> tuple[str, str]:
        """(' at step 1200 (ranked by 0.61, its median with the evaluations beside it)',
        ', 0.012 from step 1000's 0.62'): where the saved one's score was read and what ranked
        it, not only a raw value that may contradict it, and how far it is from the recommended
        step's evaluation (trial 34: the best saved, after the overfit, read as a substitute
        for a best 18 sds better). One wording for HF, Lightning and YOLO files."""
        at = "" if self.value_step == self.step else f" at {unit} {self.value_step}"
        if self.level is not None:
            at += f" (ranked by {self.level:.4g}, its median with the {self.reading}s beside it)"
        off = ("" if self.best_value is None or self.value is None else
               f", {abs(self.value - self.best_value):.3g} from {unit} {self.best_step}'s "
               f"{self.best_value:.4g}")
        return at, off


def choose(folder: Path, steps: list[int], eval_steps, oriented, sign: float,
           best_step: int | None, save_steps: Any = None, upto: int | None = None,
           files: Mapping[int, Path] | None = None, yolo: Any = None) -> SavedCheckpoint:
    """The saved checkpoint among `steps` (the folder's, ascending) to load, scored by the
    evaluations (`eval_steps`, ascending, and their values `oriented` higher-is-better;
    `sign` turns them back), with what became of `best_step`'s checkpoint. `files`: Lightning's
    `.ckpt` files by logged step (`lightning_checkpoints`), whose names tell no save cadence:
    the best step's is saved or not found; so are a YOLO run folder's weights, by the epoch
    each holds (`yolo`: its `yolo_weights.RunFolder`)."""
    import numpy as np

    interval = save_interval(steps, save_steps)
    if upto is not None:
        steps = [s for s in steps if s <= upto]
    fate = _fate(best_step, steps, interval) if files is None or best_step is None else \
        "saved" if best_step in steps else "not found"
    found = SavedCheckpoint(best_step, fate, upto=upto, lightning=files is not None
                            and yolo is None, yolo=yolo)
    eval_steps = np.asarray(eval_steps, dtype=np.int64)
    y = np.asarray(oriented, dtype=np.float64)
    if y.size == 0 or not steps:
        return found
    scores, at = score_saves(steps, eval_steps, y)
    if best_step is not None and (k := int(np.searchsorted(eval_steps, best_step))) < y.size \
            and eval_steps[k] == best_step and math.isfinite(y[k]):
        found.best_value = float(sign * y[k])
    chosen = to_load(scores, best_step)  # the folder's steps: they exist
    if chosen is None and steps[-1] > eval_steps[-1]:
        # the folder's checkpoints are all past the evaluations read (a replay of a finished
        # run stopped early: `watch --stop-on` read up to its stop), so none is scored; "no
        # checkpoint left in the folder" was said of a folder holding two (the live helper's
        # trial: checkpoint-2700 and -2800 beside a stop at step 900)
        found.upto = int(eval_steps[-1]) if upto is None else upto
        found.later = sum(1 for s in steps if s > found.upto)
    if chosen is not None:
        k = at[chosen]
        value, level = float(sign * y[k]), sign * scores[chosen]
        found.step = chosen
        found.path = str(checkpoint_path(folder, chosen) if files is None else files[chosen])
        found.value = value if math.isfinite(value) else None
        found.value_step = int(eval_steps[k])
        found.level = level if math.isfinite(level) and level != value else None
    return found


def score_saves(steps, eval_steps, oriented) -> tuple[dict[int, float], dict[int, int]]:
    """(saved step -> score, saved step -> index of its evaluation): each saved step scored with
    the level (`phase_stats.point_levels`) of the evaluation at it, else the one nearest it (a
    tie: the later), when no farther than the evaluations are apart. The one scoring `analyze`,
    `watch` and the HF / Lightning callbacks rank saved checkpoints by (`best_saved`)."""
    import numpy as np

    from phasewatch.phase_stats import point_levels

    eval_steps = np.asarray(eval_steps, dtype=np.int64)
    y = np.asarray(oriented, dtype=np.float64)
    if y.size == 0:
        return {}, {}
    levels = point_levels(y)
    spacing = int(np.max(np.diff(eval_steps))) if y.size > 1 else 0
    scores, at = {}, {}
    for step in steps:
        k = int(np.searchsorted(eval_steps, step))  # the first evaluation at or after it
        if k == y.size or (k > 0 and step - eval_steps[k - 1] < eval_steps[k] - step):
            k -= 1
        if abs(int(eval_steps[k]) - step) <= spacing:
            scores[step], at[step] = float(levels[k]), k
    return scores, at


def _fate(best: int | None, steps: list[int], interval: int | None) -> str | None:
    """saved / not saved / deleted / not found: the recommended step's checkpoint."""
    if best is None:
        return None
    if best in steps:
        return "saved"
    if interval is None:
        return "not found" if steps and best < steps[-1] else "not saved"
    newest = steps[-1] if steps else None
    if best > 0 and best % interval == 0 and (newest is None or best < newest):
        return "deleted"
    return "not saved"


def for_run(path: str | Path, run, analysis) -> tuple[bool, SavedCheckpoint | None]:
    """(whether the log at `path` is in an HF output folder, a Lightning version folder with
    checkpoint files or a YOLO run folder with `weights/`, the saved checkpoint beside
    `analysis.recommended_stop_step`), on the series `analysis` was made from (the run's
    finite values of its metric, without the outliers it left out)."""
    from phasewatch.xaxis import step_unit
    from phasewatch.yolo_weights import run_folder

    yolo = run_folder(run)  # a YOLO run folder's weights/, by the epoch each file holds
    if yolo is not None:
        eval_steps, oriented, sign = _series(run, analysis)
        yolo.place_best(eval_steps, oriented)
        saved = choose(yolo.weights, sorted(yolo.files), eval_steps, oriented, sign,
                       analysis.recommended_stop_step, files=yolo.files, yolo=yolo)
        saved.reading = analysis.value_word
        return True, saved
    if step_unit(run, analysis.metric) != "step":  # an HF console log's epochs: not steps
        return False, None
    found = output_folder(candidate_folders(path, getattr(run, "format", None)))
    files = None  # Lightning's `.ckpt` files beside the log's version folder, by logged step
    lightning = None if found is not None else \
        lightning_checkpoints.found(path, getattr(run, "source", None))
    if lightning is not None:
        found, files = lightning
    if found is None:  # a joined run: the stage's own folder (`stage_checkpoints`)
        from phasewatch.stage_checkpoints import joined_stages

        stages = joined_stages(path)
        if not stages:
            return False, None
    eval_steps, oriented, sign = _series(run, analysis)
    if found is None:
        from phasewatch.stage_checkpoints import joined_checkpoint

        saved = joined_checkpoint(path, stages, run, analysis, eval_steps, oriented, sign)
        in_folder = saved is not None
    else:
        folder, steps = found
        saved = choose(folder, steps, eval_steps, oriented, sign,
                       analysis.recommended_stop_step, run.config.get("save_steps"), files=files)
        in_folder = True
    if saved is not None:  # a joined run's stage too: its level is a median of these values
        saved.reading = analysis.value_word
    return in_folder, saved


def _series(run, analysis):
    """(steps, values turned higher-is-better, the sign that turned them) of the series
    `analysis` was made from: the run's finite values of its metric, without the outliers it
    left out."""
    import numpy as np

    from phasewatch.values import MAX_VALUE

    column = run.column(analysis.metric, finite=False)
    keep = np.abs(column.values) <= MAX_VALUE
    keep &= ~np.isin(column.steps, analysis.extra.get("outlier_steps", []))
    sign = 1.0 if analysis.direction == "max" else -1.0
    return column.steps[keep], sign * column.values[keep], sign
