"""Which saved weights of an Ultralytics YOLO run folder hold the model of an epoch: the files
in `weights/` beside `results.csv`, named to the user beside the recommended epoch through
`saved_checkpoints.choose`, the one rule HF and Lightning checkpoints are named by.

What the trainers save, and when (read from their source):
- Ultralytics (YOLOv8 and later), `engine/trainer.py` `BaseTrainer._do_train` and `save_model`:
  after each epoch's validation `save_metrics` appends the results.csv row of epoch
  `self.epoch + 1` (the loop counts from 0), then, with `save` (default true) or at the final
  epoch, `save_model` writes `last.pt`, `best.pt` when `self.best_fitness == self.fitness`, and
  with `save_period > 0` `epoch{self.epoch}.pt` when `self.epoch % save_period == 0`: the file
  `epoch{N}.pt` holds the model of results.csv's epoch N + 1. Early 8.0 releases wrote
  `self.epoch` itself (and a header padded to 23 characters): a results.csv from epoch 0 holds
  epoch N in `epoch{N}.pt` (2 of the corpus's 24 Ultralytics results.csv count from 0).
  `validate` raises `best_fitness` only on a strictly higher fitness, and `save_model` compares
  with `==`, so an epoch that ties the best overwrites best.pt: it holds the *last* epoch of
  the highest fitness.
- YOLOv5 `train.py` (and `segment/train.py`): `best_fitness = max(best_fitness, fi)`, then
  (unless `nosave`, or at the final epoch) `last.pt`, `best.pt` when `best_fitness == fi` (the
  last of equals again), and `epoch{epoch}.pt` when `epoch % save_period == 0`; results.csv's
  epoch is the loop's own, from 0, so `epoch{N}.pt` holds epoch N. `classify/train.py` saves
  last.pt and best.pt alike, with `fitness = top1`.
- With Ultralytics' `save: false` or YOLOv5's `nosave` only the final epoch is saved: best.pt,
  if there, holds the last epoch.

The fitness, from the columns results.csv logs (the validator's `mean_results`, before the
trainer pops `fitness` from them):
- Ultralytics `utils/metrics.py` `Metric.fitness`: `w = [0, 0, 0.1, 0.9]` on [P, R, mAP50,
  mAP50-95] up to 8.3.197, `[0, 0, 0, 1]` (mAP50-95 alone) from 8.3.198; DetMetrics and
  OBBMetrics take the boxes' (`(B)`), SegmentMetrics and PoseMetrics the boxes' plus the masks'
  (`(M)`) or keypoints' (`(P)`); ClassifyMetrics `(top1 + top5) / 2`. args.yaml does not say the
  version; it holds every key of the trainer's defaults, and one without `compile` (8.3.197
  writes it, 8.3.194 does not) is older than 8.3.198. Where the two weightings pick different
  epochs and the file cannot tell, both are said, and best.pt is ranked as the one of the two
  the analysed series scores lower (`RunFolder.place_best`): it is at least that good.
- YOLOv5 `utils/metrics.py` `fitness`: 0.1 mAP@0.5 + 0.9 mAP@0.5:0.95; `utils/segment/
  metrics.py` `fitness`: the same for boxes plus for masks.
The fitness is computed from results.csv's rounded values (Ultralytics `%.6g`, YOLOv5
`%.5g`): two epochs closer than that rounding may be ordered otherwise by the trainer.

Files are only listed, never opened: unpickling a checkpoint runs code.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasewatch.io.ultralytics_folder import RESULTS, ultralytics_args

WEIGHTS = "weights"
BEST, LAST = "best.pt", "last.pt"
PERIODIC = re.compile(r"epoch(\d+)\.pt")  # `save_period`'s files
NEW_FITNESS = "8.3.198"  # the first Ultralytics release whose fitness is mAP50-95 alone
ADDED_WITH = "compile"  # an args.yaml key 8.3.194 and earlier releases do not write
_MAP = {"ultralytics": ("metrics/mAP50{}", "metrics/mAP50-95{}"),
        "yolov5": ("metrics/mAP_0.5{}", "metrics/mAP_0.5:0.95{}")}
_TOP1, _TOP5 = "metrics/accuracy_top1", "metrics/accuracy_top5"
_V5_CLASSIFY_LR = "lr/0"  # YOLOv5 classify/train.py's learning-rate column (Ultralytics: lr/pg0)


@dataclass(frozen=True)
class Fitness:
    """One way a trainer scores an epoch for best.pt: `weights` on results.csv columns;
    `trainer` and `formula` say it ("Ultralytics'", "0.1 mAP50 + 0.9 mAP50-95"), `release`
    which releases weigh so where that changed ("before 8.3.198")."""

    weights: tuple[tuple[str, float], ...]
    trainer: str
    formula: str
    release: str = ""

    def of(self, columns: dict[str, dict[int, float]], epoch: int) -> float | None:
        """The fitness of `epoch`, None where a column has no row there (NaN counts 0, as the
        metrics' `np.nan_to_num` counts it)."""
        total = 0.0
        for name, weight in self.weights:
            value = columns[name].get(epoch)
            if value is None:
                return None
            total += weight * (0.0 if math.isnan(value) else value)
        return total


@dataclass
class BestPt:
    """The epoch best.pt holds (`epochs`: one, or two where it depends on the Ultralytics
    release) and the fitness that chose each (`by`)."""

    epochs: tuple[int, ...]
    by: tuple[str, ...]
    highest: bool = True  # chosen by a fitness (not the only epoch saved)

    @property
    def epoch(self) -> int | None:
        return self.epochs[0] if len(self.epochs) == 1 else None

    def text(self) -> str:
        """'epoch 31, the highest Ultralytics' fitness 0.1 mAP50 + 0.9 mAP50-95'; two: 'epoch
        31 by ... or epoch 29 by ... (args.yaml does not say which release trained it)'."""
        if len(self.epochs) == 1:
            return f"epoch {self.epochs[0]}, {'the highest ' if self.highest else ''}{self.by[0]}"
        each = " or ".join(f"epoch {e} by {b}" for e, b in zip(self.epochs, self.by))
        return f"{each} (args.yaml does not say which release trained it)"

    def to_dict(self) -> list[dict[str, Any]]:
        return [{"epoch": e, "by": b} for e, b in zip(self.epochs, self.by)]


@dataclass
class RunFolder:
    """A YOLO run folder's weights: `files` by the results.csv epoch each holds, `offset` the
    number a periodic file's name is below its epoch, and what best.pt holds (None: no
    best.pt, or no fitness known for the run's columns)."""

    folder: Path
    files: dict[int, Path]
    offset: int
    best_pt: BestPt | None
    ranked_as: int | None = None  # best.pt's epoch of two it is ranked as (`place_best`)
    over: bool = False  # results.csv reached the epochs args.yaml plans: no file changes now

    @property
    def weights(self) -> Path:
        return self.folder / WEIGHTS

    def shown(self, path: str | Path) -> str:
        """A file as the outputs name it: `weights/epoch30.pt`."""
        return f"{WEIGHTS}/{Path(path).name}"

    def place_best(self, eval_steps, oriented) -> None:
        """Where best.pt's epoch is one of two (the release is not known), rank it as the one
        of them the evaluations (`eval_steps`, `oriented` higher-is-better) score lower: it is
        at least that good. Unranked, a run whose best.pt holds the recommended epoch or the
        one after it named last.pt, 0.072 below both."""
        from phasewatch.saved_checkpoints import score_saves

        note, path = self.best_pt, self.weights / BEST
        if note is None or note.epoch is not None or not path.is_file():
            return
        scores, _ = score_saves(note.epochs, eval_steps, oriented)
        if scores:
            self.ranked_as = min(scores, key=lambda e: (scores[e], -e))
            self.files.setdefault(self.ranked_as, path)


@dataclass
class Trained:
    """What a YOLO run's results.csv and its trainer's arguments say: `config` (args.yaml, or
    YOLOv5's opt.yaml: `arguments` names the file), the columns by epoch, the fitnesses the
    trainer may have scored its epochs by, and the epochs logged."""

    folder: Path
    arguments: str
    args: dict | None
    config: dict
    columns: dict[str, dict[int, float]]
    v5: bool
    fitnesses: list[Fitness]
    epochs: list[int]


def trained(run) -> Trained | None:
    """`Trained` of the YOLO run whose results.csv `run` was read from, when the file has a
    YOLO trainer's metric columns (or args.yaml is an Ultralytics trainer's); else None."""
    source = getattr(run, "source", None)
    if source is None or Path(source).name != RESULTS:
        return None
    folder = Path(source).parent
    config, arguments = ultralytics_args(folder) or ({}, "args.yaml")
    v5 = arguments == "opt.yaml"
    args = None if v5 or not config else config
    columns = {name: dict(zip(*(a.tolist() for a in run.columns()[name])))
               for name in run.metrics}
    v5 = v5 or _V5_CLASSIFY_LR in columns or any(n.startswith("metrics/mAP_0.5")
                                                  for n in columns)
    known = fitnesses(columns, v5, args)
    if not known and not (args is not None and "save_period" in args):
        return None  # another trainer's results.csv (a U-Net's Dice per epoch): not YOLO's files
    return Trained(folder, arguments, args, config, columns, v5, known,
                   sorted({int(s) for s in run.steps}))


def run_folder(run) -> RunFolder | None:
    """The weights of the YOLO run whose results.csv `run` was read from (`trained`), when a
    `weights/` folder is beside it; else None."""
    source = getattr(run, "source", None)
    if source is None or not (Path(source).parent / WEIGHTS).is_dir():
        return None
    found = trained(run)
    if found is None:
        return None
    folder, config, columns, epochs = found.folder, found.config, found.columns, found.epochs
    last = epochs[-1] if epochs else None
    has_best = (folder / WEIGHTS / BEST).is_file()
    best = None
    if has_best and (config.get("save") is False or config.get("nosave") is True):
        best = None if last is None else BestPt((last,), ("the only epoch saved",), False)
    elif has_best:
        best = best_pt(found.fitnesses, columns, epochs)
    offset = 0 if found.v5 or (epochs and epochs[0] == 0) else 1  # early 8.0: from 0
    from phasewatch.epoch_steps import epoch_count

    planned = epoch_count(config)  # (none beside a time budget)
    over = planned is not None and last is not None and last + 1 - offset >= planned
    return RunFolder(folder, weight_files(folder / WEIGHTS, offset, last, best), offset, best,
                     over=over)


def beside_weights(path: str | Path | None) -> Path | None:
    """The results.csv at `path` (the file, or a folder holding it) when a `weights/` folder
    is beside it, for a watch to name files from at its alerts; else None."""
    if path is None:
        return None
    path = Path(path)
    results = path / RESULTS if path.is_dir() else path
    return results if results.name == RESULTS and (results.parent / WEIGHTS).is_dir() else None


def at_alert(results: Path, eval_steps, oriented, sign: float, alert) -> Any:
    """The `SavedCheckpoint` beside a live alert's best epoch: the files in `weights/` now,
    those of epochs up to the alert's, best.pt's epoch from results.csv as it is now (read at
    the alert, never per record). last.pt and best.pt are overwritten as the run goes on
    (every epoch; at each new best): named while it runs, they are said to be copied now.
    None when results.csv cannot be read."""
    from phasewatch.errors import PhasewatchError
    from phasewatch.io import read_run
    from phasewatch.saved_checkpoints import choose

    try:
        run = read_run(results)
    except (PhasewatchError, OSError):
        return None
    yolo = run_folder(run)
    if yolo is None:
        return None
    yolo.place_best(eval_steps, oriented)
    saved = choose(yolo.weights, sorted(yolo.files), eval_steps, oriented, sign,
                   alert.best_step, upto=alert.step, files=yolo.files, yolo=yolo)
    saved.rotating = not yolo.over and saved.path is not None \
        and Path(saved.path).name in (BEST, LAST)
    return saved


def fitnesses(columns, v5: bool, args: dict | None) -> list[Fitness]:
    """The fitnesses the run's trainer may have scored its epochs by: two where it is an
    Ultralytics release that args.yaml does not date and the weighting changed between them."""
    if _TOP1 in columns:
        if v5:
            return [Fitness(((_TOP1, 1.0),), "YOLOv5 classifier's fitness", "top-1 accuracy")]
        if _TOP5 in columns:
            return [Fitness(((_TOP1, 0.5), (_TOP5, 0.5)), "Ultralytics' fitness",
                            "(top-1 + top-5 accuracy) / 2")]
        return []
    fifty, wide = _MAP["yolov5" if v5 else "ultralytics"]
    kinds = [k for k in ("(B)", "(M)", "(P)", "") if fifty.format(k) in columns
             and wide.format(k) in columns]
    if not kinds:
        return []
    plus = ", of boxes plus of masks" if "(M)" in kinds else \
        ", of boxes plus of keypoints" if "(P)" in kinds else ""
    old = tuple((n.format(k), w) for k in kinds for n, w in ((fifty, 0.1), (wide, 0.9)))
    if v5:
        return [Fitness(old, "YOLOv5's fitness", f"0.1 mAP@0.5 + 0.9 mAP@0.5:0.95{plus}")]
    trainer = "Ultralytics' fitness"
    if args is not None and ADDED_WITH not in args:  # 8.3.194 or earlier
        return [Fitness(old, trainer, f"0.1 mAP50 + 0.9 mAP50-95{plus}")]
    return [Fitness(old, trainer, f"0.1 mAP50 + 0.9 mAP50-95{plus}", f"before {NEW_FITNESS}"),
            Fitness(tuple((wide.format(k), 1.0) for k in kinds), trainer,
                    f"mAP50-95{plus}", f"from {NEW_FITNESS}")]


def best_pt(candidates: list[Fitness], columns, epochs: list[int]) -> BestPt | None:
    """The epoch best.pt holds by each of the `candidates` (the last of the highest fitness),
    as one BestPt; None when there is no candidate or no epoch with their columns."""
    found: dict[int, Fitness] = {}
    for fitness in candidates:
        scored = [(v, e) for e in epochs if (v := fitness.of(columns, e)) is not None]
        if scored:
            top = max(v for v, _ in scored)
            found.setdefault(max(e for v, e in scored if v >= top - 1e-12), fitness)
    if not found:
        return None
    if len(found) == 1:
        first = candidates[0]
        also = "" if len(candidates) == 1 else \
            f" (and, from {NEW_FITNESS}, {candidates[1].formula}: the same epoch)"
        return BestPt(tuple(found), (f"{first.trainer} {first.formula}{also}",))
    return BestPt(tuple(found), tuple(f"{f.trainer} {f.formula} ({f.release})"
                                      for f in found.values()))


def weight_files(folder: Path, offset: int, last: int | None,
                 best: BestPt | None) -> dict[int, Path]:
    """The files in `weights/` by the results.csv epoch each holds: `epoch{N}.pt` epoch
    N + `offset`, best.pt its epoch where that is known, last.pt the last epoch logged. Of
    several files of one epoch the first of those (a periodic file is never overwritten)."""
    try:
        names = sorted(p.name for p in folder.iterdir() if p.is_file())
    except OSError:
        return {}
    found: dict[int, Path] = {}
    for name in names:
        if (m := PERIODIC.fullmatch(name)) is not None:
            found.setdefault(int(m.group(1)) + offset, folder / name)
    if BEST in names and best is not None and best.epoch is not None:
        found.setdefault(best.epoch, folder / BEST)
    if LAST in names and last is not None:
        found.setdefault(last, folder / LAST)
    return found


def text(saved: Any, metric: str) -> str:
    """`SavedCheckpoint.text` in a YOLO run folder: the recommended epoch's file, else the best
    saved one, each with the epoch it holds; then which epoch best.pt holds, where that is not
    the recommended one and best.pt is not the file named."""
    yolo: RunFolder = saved.yolo
    best = saved.best_step
    maybe = yolo.best_pt is not None and best in yolo.best_pt.epochs and yolo.ranked_as
    if saved.step is None:
        said = (f"no weights up to epoch {saved.upto} in {WEIGHTS}/" if saved.upto is not None
                else f"no weights of epoch {best} in {WEIGHTS}/, nor of another epoch scored")
    elif saved.step == best and saved.best == "saved" and saved.step != yolo.ranked_as:
        said = f"saved: {_named(yolo, saved)}"
    else:
        at, off = saved.score_words("epoch")
        none = f"no file surely of epoch {best}" if maybe else \
            f"no weights of epoch {best} saved"
        said = (f"{none}; best saved: {_named(yolo, saved)}, {metric} {saved.value:.4g}{at}"
                f"{off}")
    note = yolo.best_pt  # (an alert's replay: not what best.pt held then)
    if note is not None and (saved.path is None or Path(saved.path).name != BEST) \
            and note.epochs != (best,) and (saved.upto is None or max(note.epochs) <= saved.upto):
        said += f"; {BEST}: {note.text()}"
    if saved.rotating and saved.path is not None:  # live: the file will hold another epoch
        name = Path(saved.path).name
        when = "every epoch" if name == LAST else "at each new best"
        said += f"; the trainer overwrites {name} {when}: copy it now"
    return said


def _named(yolo: RunFolder, saved: Any) -> str:
    """The file named and the epoch it holds: 'weights/epoch30.pt (epoch 31: ...)',
    'weights/best.pt (epoch 11, the highest ...)', 'weights/last.pt (epoch 30, the last)'."""
    name = Path(saved.path).name
    if name == BEST and yolo.best_pt is not None:
        ranked = "" if yolo.ranked_as is None else \
            f"; ranked as epoch {yolo.ranked_as}, the lower of the two"
        return f"{yolo.shown(saved.path)} ({yolo.best_pt.text()}{ranked})"
    if name == LAST:
        return f"{yolo.shown(saved.path)} (epoch {saved.step}, the last)"
    if yolo.offset:
        return (f"{yolo.shown(saved.path)} (epoch {saved.step}: the trainer numbers its files "
                "from 0, results.csv's epochs from 1)")
    return yolo.shown(saved.path)
