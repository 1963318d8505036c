"""Tables the CSV reader meets that are not one header row and rows under it, as written by the
tools people use.

- **A title line above the header**: Excel's separator hint `sep=;` (which a spreadsheet saved
  in a comma-decimal locale may carry), or a name a script writes first (`model_history_log`
  above a Keras `CSVLogger(separator=';')` table). A first line that is one cell, not a number,
  is the file's title when a header follows it.
- **A pandas index column**: `pd.DataFrame(history.history).to_csv(path)` writes the frame's
  index as an unnamed first column (the header starts with a comma: `,loss,val_loss`); its
  values number the rows (a Keras History's epochs from 0), so they are the steps, as a table
  without a step column is numbered (its header told by `csv_cells.index_header`).
- **fastai's `CSVLogger`** (`history.csv`: `epoch,train_loss,valid_loss,<metrics>,time`): its
  metrics are computed on the validation set, and are named as its notebook table's are
  (`notebook_fastai.metric_key`: `accuracy` is `valid_accuracy`, not a train accuracy); `time`,
  the epoch's duration as `00:12`, is no metric. fastai v1's early releases wrote no `time`
  (1.0.42's `CSVLogger` writes the Recorder's names, `epoch,train_loss,valid_loss,accuracy`),
  nor does a Learner made with `add_time=False`: such a header is the logger's where the file
  has the logger's default name, `history.csv`, and the header starts as the Recorder orders
  it (a script's own `metrics.csv` of `epoch,train_loss,valid_loss,...,lr_last` is no fastai
  table: its `lr_last` is no validation metric).
- **sentence-transformers' evaluator CSVs** (`similarity_evaluation_*_results.csv` and the
  other evaluators' `*_results.csv`, written by `SentenceTransformer.fit` of versions 2.x):
  `epoch,steps,...`, the epoch a whole number, where `steps` counts the batches within the epoch
  and is -1 for the evaluation at the epoch's end (the default, `evaluation_steps=0`, gives only
  those). Read by `steps` every row would be step -1 and one would be kept; such a file is read
  by `epoch` (`EpochEndRows`), and an evaluation within an epoch is left out. Version 3's
  trainer writes the global step there and the epoch as a float (`1.0`): read by `steps`. A row
  with epoch and steps both -1 is an evaluation outside training (`evaluator(model)` called on
  its own), no point of the curve. Rows of the first epoch with other steps than -1
  (`evaluation_steps=500`: 500, 1000, then -1) are held until the file tells: its -1 at the
  epoch's end, or a next epoch with no -1 before it, as a script's own table of global steps
  has (`epoch,steps,loss`: 100, 200, ... on as the epochs go by), which is read by `steps`.
- **A table named for its split** (`valid.csv`, `val.csv`, `validation.csv`, `test.csv`,
  `eval*.csv`, a held-out split's word first in the name: `dev_metrics.csv`, `val_log.csv`,
  `test_results.csv`; `train.csv`): a script that writes one file per split names its columns bare
  (a brain-age LSTM's `valid.csv`: `step,loss,loss/std,lr,momentum`), and a bare `loss` was
  taken for the train loss. Such a column is read under the file's split (`valid_loss`,
  `eval_loss` in `eval.csv`, `train_accuracy` in `train.csv`), so it takes that
  split's role, as `valid_loss` in one table would; `--metric loss` still names it. A name
  that says its split (`val_cost`, `train_loss`, `loss_val`), the optimizer's settings and
  state (`lr`, `momentum`, `grad_norm`), the same whatever the split, and a name whose role its
  split's name would lose (`avg_reward`, a reward, in `eval_rewards.csv`: the presets know no
  `eval_avg_reward`) are read as written. The file's name is a guess about bare columns, and a
  header that names the file's split on a metric of its own (`train_loss train_EPE EPE` in a
  FADNet `train.log`) answers it: its writer put the split in the names of that split's
  columns, so the bare ones are not that split's, and the whole table is read as written, as
  under any other name (`EPE` stays `EPE`, where it was read as `train_EPE` and, beside the
  table's own `train_EPE`, one of the two columns was lost). Not renamed to a held-out split
  either: the file does not say which, and whether a bare `EPE` beside `train_EPE` is held out
  is the metric choice's to judge, for every format alike.
"""

from __future__ import annotations

import re

from phasewatch.direction_words import name_words
from phasewatch.heldout_names import TRAIN_WORDS
from phasewatch.io.csv_cells import is_number
from phasewatch.io.lines import STEP_KEYS, as_step
from phasewatch.io.notebook_fastai import EPOCH, NOT_METRICS, metric_key
from phasewatch.presets import aliases_for
from phasewatch.role_candidates import ROLE_CANDIDATES
from phasewatch.step_units import CARRIERS
from phasewatch.timing_names import is_timing
from phasewatch.train_beside import SPLIT_WORDS

SEPARATOR_HINT = re.compile(r"^sep=(?P<sep>[,;\t|])$")
NOT_DURING_TRAINING = -1  # sentence-transformers' epoch and steps of an evaluation outside `fit`
WHOLE = re.compile(r"\d+")  # an epoch as 2.x writes it (3.x's trainer writes 1.0, 0.5)


def title_line(line: str) -> str | None:
    """The delimiter `line` names (Excel's `sep=;`), '' for another title (one cell, no
    separator in it, not a number), None when `line` is no title."""
    text = line.strip().lstrip("\ufeff")
    if (hint := SEPARATOR_HINT.match(text)) is not None:
        return hint.group("sep")
    if not text or any(sep in text for sep in (",", ";", "\t")) or is_number(text):
        return None
    return ""


FASTAI_FILE = "history.csv"  # `CSVLogger`'s default file name (v1 and v2)


def fastai_columns(columns: list[str], file_name: str = "") -> list[str] | None:
    """The metric names of a fastai `CSVLogger` header (module docstring; `time` unnamed, so not
    read), or None for any other header; `file_name`, the file's, tells a header without
    `time`."""
    if len(columns) < 4 or columns[0] != EPOCH:
        return None
    if columns[-1] == "time":
        if not {"train_loss", "valid_loss"} <= set(columns):
            return None
    elif file_name != FASTAI_FILE or columns[1:3] != ["train_loss", "valid_loss"]:
        return None
    return [EPOCH] + ["" if c in NOT_METRICS else metric_key(c) for c in columns[1:]]


SPLIT_FILES = ("val", "valid", "validation", "test", "train")  # a file's whole stem
EVAL_FILES = "eval"  # the start of a file's stem: `eval.csv`, `eval_rewards.csv`, `evaluation.csv`
# a held-out split as the first word of a file's stem (`dev_metrics.csv`, `val_log.csv`,
# `test_results.csv`); not `train_*`: `train_log.csv`, `train_history.csv` are Keras' and
# others' tables of both splits (`loss`, `val_loss`), whose bare names are no split's own
HELD_OUT_FILE_WORDS = ("val", "valid", "validation", "test", "dev")
# ... but for a file of that split's data (`valid_set.csv`, `test_data.csv`), whose columns,
# read as a log, are no split's metrics
DATA_WORDS = frozenset({"set", "data", "dataset", "split", "samples", "examples", "labels"})
STEM_WORD = re.compile(r"[a-z]+")
# words of a name read as written in such a file: a split's own, and the optimizer's (its
# settings and state: `lr`, `learning_rate`, `momentum`, `grad_norm`, `weight_decay`)
AS_WRITTEN_WORDS = SPLIT_WORDS | TRAIN_WORDS | {"lr", "learning", "momentum", "grad", "decay"}
# names of a split file's counters, read as written: its step's and the `--x` units' (`tokens`,
# `num_samples` count the run, not the split; read under it, `tokens` in valid.csv was called
# "that split's metric" `valid_tokens`)
COUNTERS = frozenset(STEP_KEYS).union(*CARRIERS.values())


def file_split(file_name: str) -> str | None:
    """The split a CSV file's name says its columns are of (module docstring: `valid.csv` ->
    valid, `eval_rewards.csv` -> eval, `dev_metrics.csv` -> dev), or None."""
    stem = file_name.rsplit(".", 1)[0].lower()
    if stem in SPLIT_FILES:
        return stem
    if stem.startswith(EVAL_FILES):
        return EVAL_FILES
    words = STEM_WORD.findall(stem)
    if words and words[0] in HELD_OUT_FILE_WORDS and DATA_WORDS.isdisjoint(words):
        return words[0]
    return None


def under_split(columns: list[str], file_name: str,
                step: int | None) -> tuple[list[str], dict[str, str], str]:
    """(the columns as read, printed name -> the name read, the note saying so) of a file
    named for its split (`file_split`): each bare metric column under the split's prefix
    (`loss` -> `valid_loss`), but not the step's, a counter (`COUNTERS`), a timing (`time`,
    `is_timing`), a name of `AS_WRITTEN_WORDS`, nor
    a name that takes a role its split's name would not (`avg_reward` is a reward,
    `eval_avg_reward` nothing the presets know: read so, the run could no longer be analysed
    without --metric). Any other file's columns as they are, and so a split file's whose header
    names its split on a metric (`train_EPE` in train.log: module docstring)."""
    split = file_split(file_name)
    metrics = [name for i, name in enumerate(columns)
               if name and i != step and name not in COUNTERS and not is_timing(name)]
    if split is not None and any(split in name_words(name) for name in metrics):
        # the header names its split itself (`train_EPE`): read as written, and so no name is
        # made one the header already has (`EPE` as `train_EPE`)
        split = None
    renamed = {} if split is None else {
        name: f"{split}_{name}" for name in metrics
        if not AS_WRITTEN_WORDS.intersection(name_words(name))
        and (_takes_a_role(f"{split}_{name}") or not _takes_a_role(name))}
    if not renamed:
        return columns, {}, ""
    more = ", ..." if len(renamed) > 5 else ""
    column, are, metric = ("column", "is", "metric") if len(renamed) == 1 else \
        ("columns", "are", "metrics")
    note = (f"{file_name} is named for its split: its {column} {', '.join(list(renamed)[:5])}"
            f"{more} {are} read as {', '.join(list(renamed.values())[:5])}{more}, that split's "
            f"{metric}")
    return [renamed.get(c, c) for c in columns], renamed, note


def _takes_a_role(name: str) -> bool:
    """Whether the presets give `name` one of the roles DESIGN.md defines."""
    return not ROLE_CANDIDATES.keys().isdisjoint(aliases_for([name]))


class EpochEndRows:
    """The records of the rows of a sentence-transformers 2.x evaluator CSV (module docstring),
    by `epoch` where the first row read writes it as a whole number; every other file's rows
    as they are, by its step column."""

    def __init__(self, columns: list[str], step_key: str, notes: list[str]) -> None:
        self.epoch_index = columns.index("epoch") if step_key == "steps" and "epoch" in columns \
            else None
        self.steps_index = columns.index(step_key)
        self.by_epoch: bool | None = None  # decided by the first rows read
        self.notes = notes  # the parser's
        self._said: set[str] = set()
        # a first epoch's rows with steps other than -1, until the file tells (`end`)
        self._held: list[tuple[int, dict, int, int, int]] = []

    def records(self, step: int, values: dict, cells: list[str], lineno: int) -> list:
        """The row (`step`, `values`, read by `steps`) as records: itself; by its epoch; none
        (an evaluation outside training or within an epoch, left out and said once each; or
        held); or the held rows, then itself, where a next epoch says they are no 2.x file's."""
        if self.epoch_index is None or self.by_epoch is False:
            return [(step, values)]
        try:
            epoch = as_step(cells[self.epoch_index])
            steps = as_step(cells[self.steps_index])
        except (IndexError, TypeError, ValueError):
            return [(step, values)]
        if epoch == NOT_DURING_TRAINING and steps == NOT_DURING_TRAINING:
            self._note("outside", f"line {lineno}: an evaluation with epoch and steps -1 was made "
                       "outside training (an evaluator called on its own): left out of the curve")
            return []
        if self.by_epoch is None:  # 2.x writes the epoch as an int, 3.x's trainer a float
            if WHOLE.fullmatch(cells[self.epoch_index].strip()) is None:
                self.by_epoch = False
                return [(step, values)]
            if steps != NOT_DURING_TRAINING:  # within the epoch, or a script's global step
                if self._held and epoch != self._held[0][2]:  # a next epoch, no -1 before it
                    return [*self.end(), (step, values)]
                self._held.append((step, values, epoch, steps, lineno))
                return []
            self.by_epoch = True
            self.notes.append("epoch is a whole number and steps counts the batches within it, -1 "
                              "at the epoch's end (sentence-transformers' evaluator CSV): read by "
                              "epoch")
            if self._held:  # evaluations within the first epoch
                *_, held_epoch, held_steps, first = self._held[0]
                self._held = []
                self._within(first, held_epoch, held_steps)
        if steps != NOT_DURING_TRAINING:
            self._within(lineno, epoch, steps)
            return []
        values.pop("epoch", None)  # the step
        return [(epoch, values)]

    def end(self) -> list:
        """The held rows as records by `steps` (a next epoch came with no -1 before it, or the
        file ends: the parser's `flush`); the rows after them are read by `steps` too."""
        held, self._held = self._held, []
        if held:
            self.by_epoch = False
        return [(step, values) for step, values, *_ in held]

    def _within(self, lineno: int, epoch: int, steps: int) -> None:
        self._note("within", f"line {lineno}: an evaluation within epoch {epoch} (at its batch "
                   f"{steps}) is left out: the file does not say how many batches an epoch has, "
                   "so it has no place on the epochs' axis (the end-of-epoch ones are read)")

    def _note(self, kind: str, text: str) -> None:
        """`text`, the first time a row of `kind` is left out."""
        if kind not in self._said:
            self._said.add(kind)
            self.notes.append(text)
