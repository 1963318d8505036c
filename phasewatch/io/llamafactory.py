"""LLaMA-Factory's `trainer_log.jsonl`: `{"current_steps", "total_steps", "loss", "lr", ...}`.

Progress fields (`total_steps`, `percentage`, `remaining_time`) describe the job, not the
model, and are left out; `elapsed_time` ("3 days, 17:51:32") is kept as seconds, from the first
line of each step: the evaluation line written after the training line of its step carries a
later time, which read as a second row warned "elapsed_time: logged several times at one step
with different values" on every evaluated LLaMA-Factory log (trial 40c: its only warning). Older
versions wrote `learning_rate` where newer ones write `lr`; both are kept as written (the
presets map either onto the `train/lr` role). `accuracy` is TRL's DPO `rewards/accuracies` (the
preference accuracy on the training pairs, copied by LLaMA-Factory's LogCallback), not a
held-out task accuracy: it is read under that name, the one the run's trainer_state.json holds
(a bare `accuracy` is a preference accuracy only beside a preference run's other names, which
this log leaves out: `presets.beside_preference`); `reward` is the PPO reward.

An output folder (`saves/<model>/<method>/<stage>/`) holds `trainer_log.jsonl` beside the
model files, `all_results.json`, `trainer_state.json` (written at the end) and
`running_log.txt` (LlamaBoard only): `phasewatch.folders` reads its `trainer_state.json` when
there is one, else `trainer_log.jsonl`.

`compute_accuracy: true` makes the Trainer log `eval_accuracy` (`eval_<set>_accuracy` with
`eval_on_each_dataset`): LLaMA-Factory's `ComputeAccuracy` (`train/sft/metric.py`,
`np.mean(pred[label_mask] == label[label_mask])`), the teacher-forced next-token accuracy of the
eval set, which TRL logs as `eval_mean_token_accuracy` and which is no held-out task accuracy.
Under its own name it outranked `eval_loss` once the run ended: trial 40c's `sft_lr6e-4` was
watched live on `trainer_log.jsonl`'s eval_loss (overfit from step 162, stop 162), then analysed
on trainer_state.json's eval_accuracy (a plateau, stop 360: the most-overfit checkpoint). An
output folder's trainer_state.json (`reads_token_accuracy`) therefore reads it as
`eval_token_accuracy`, which like TRL's has no held-out role, and the held-out loss is taken
live and offline alike. A reward model's folder (its `value_head` file) keeps `eval_accuracy`:
there it is the pairwise accuracy on held-out preference pairs (`train/rm/metric.py`).

An evaluation's rows count the evaluation's own batches. LLaMA-Factory's LogCallback writes
`current_steps` / `total_steps` from counters of its own: the training's global step and plan
while it trains; after `train()` returns (v0.1.6 to v0.7.0, `llmtuner/extras/callbacks.py`) its
`on_train_end` zeroes them and `on_prediction_step` counts the evaluation's batches, so the
`trainer.evaluate()` after training is the row `{"current_steps": 300, "total_steps": 300,
"eval_loss": ...}` (300 evaluation batches; 0 of 0 where the loader has no length), and a
`predict` likewise. From v0.7.1 a training process writes no row after training (its writer is
closed at `on_train_end`); a process that only evaluates, appending to the same folder's log,
writes a row every 5 batches (`current_steps` 5, 10, ... of the batches, progress fields only)
and its results at its own global step (0) of those batches. Read as steps, the first such row
was a restart at step 300 that dropped the run's evaluations after step 300
(heymimihere/my_work: 3 of 11 evaluations kept). A row whose `total_steps` is not the training
rows' and which holds no training value (`loss`, `lr`, `reward`, `accuracy`) is therefore an
evaluation's: its results are the evaluation of the weights at the last training step, placed
there and judged as HF's evaluation after training (`post_training`: the best checkpoint's
results again are left out, with a warning), its progress rows are left out, and its step
counter neither resumes the run nor states its planned length. Training rows that go back with
the run's `total_steps` (a resumed run) are a restart, as before.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from phasewatch.io.jsonlines import first_json_object, loads
from phasewatch.io.lines import BadLine, as_step
from phasewatch.io.post_training import PostTrainingEvaluations
from phasewatch.io.source import LineRecordSource, collect
from phasewatch.run import Run

FORMAT = "llamafactory"
STEP_KEY = "current_steps"
PROGRESS_KEYS = frozenset({"total_steps", "percentage", "remaining_time"})
# what only a training row holds (an evaluation's row has eval_loss / predict_loss and epoch)
TRAINING_KEYS = ("loss", "lr", "learning_rate", "reward", "accuracy")
NOT_RESULTS = frozenset({"epoch", "elapsed_time"})  # beside an evaluation's results
ARGS_MARK = b"llamafactory.hparams"  # the class of the pickled arguments in training_args.bin
VALUE_HEADS = ("value_head.safetensors", "value_head.bin")  # a reward model's (stage rm, ppo)
TOKEN_ACCURACY = "token_accuracy"
PREFERENCE_ACCURACY = ("accuracy", "rewards/accuracies")  # as copied, as TRL logged it
_STAGE = re.compile(r"^stage:\s*['\"]?([A-Za-z_]+)", re.MULTILINE)
_EVAL_ACCURACY = re.compile(r"^eval_(?:(.+)_)?accuracy$")
_DURATION = re.compile(r"^(?:(\d+) days?, )?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")


def sniff(path: Path, head: bytes) -> bool:
    first = first_json_object(head) if path.is_file() else None
    return bool(first) and STEP_KEY in first


def is_output_folder(folder: Path, own: Path | None = None) -> bool:
    """Whether `folder` is a LLaMA-Factory output folder: its `trainer_log.jsonl`, or the
    arguments it pickled into `training_args.bin` (in `folder` or `own`, a checkpoint of it) are
    LLaMA-Factory's class (a rerun deletes trainer_log.jsonl at its start; the arguments stay)."""
    log = folder / "trainer_log.jsonl"
    try:
        if log.is_file():
            with log.open("rb") as fh:
                if sniff(log, fh.read(4096)):
                    return True
    except OSError:
        pass
    for where in (own, folder):
        try:
            if where is not None and ARGS_MARK in (where / "training_args.bin").read_bytes():
                return True
        except OSError:
            continue
    return False


@lru_cache(maxsize=4096)
def token_accuracy_name(name: str) -> str | None:
    """`eval_accuracy` -> `eval_token_accuracy`, `eval_<set>_accuracy` ->
    `eval_<set>_token_accuracy`; None for any other name."""
    match = _EVAL_ACCURACY.match(name)
    if match is None:
        return None
    return f"eval_{match[1]}_{TOKEN_ACCURACY}" if match[1] else f"eval_{TOKEN_ACCURACY}"


def reads_token_accuracy(state: Path) -> bool:
    """Whether the `eval_accuracy` of the trainer_state.json at `state` is LLaMA-Factory's
    token accuracy: its folder is an output folder of LLaMA-Factory's, and no reward model's
    (module docstring)."""
    from phasewatch.folders import trainer_output_folder

    folder = trainer_output_folder(state)
    return is_output_folder(folder, state.parent) and not any(
        (where / head).is_file() for where in {folder, state.parent} for head in VALUE_HEADS)


def token_accuracy_note(renames: dict[str, str]) -> str:
    """The run's note on the names `token_accuracy_name` gave."""
    pairs = ", ".join(f"{old} as {new}" for old, new in sorted(renames.items()))
    return (f"LLaMA-Factory's compute_accuracy metric read {pairs}: the teacher-forced "
            "next-token accuracy of the eval set (its ComputeAccuracy), not a held-out task "
            "accuracy; the held-out loss is the default metric, as in the trainer_log.jsonl a "
            f"watch follows while the run trains (--metric {min(renames.values())} to analyse it)")


def stated_stage(folder: Path) -> dict[str, str]:
    """{"stage": S} from the `training_args.yaml` LlamaBoard (the web UI) saves in the output
    folder (`stage: sft`, `dpo`...), for the run's config: `algorithm_names` names the run by
    it, and `analyze SFT_RUN DPO_RUN` suggests `join` (trial 40c: it never did for LLaMA-Factory
    runs). `llamafactory-cli train` saves no file that states it: {}."""
    try:
        text = (folder / "training_args.yaml").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    found = _STAGE.search(text)
    return {"stage": found[1]} if found else {}


def holds_evaluation(log: Path) -> bool:
    """Whether LLaMA-Factory's `trainer_log.jsonl` at `log` has an `eval_loss` row."""
    try:
        return b'"eval_loss"' in log.read_bytes()
    except OSError:
        return False


def evaluations_elsewhere(log: Path, state: Path) -> str:
    """Why the checkpoint `state` is read for the run, not the `trainer_log.jsonl` at `log`:
    LLaMA-Factory copies only `eval_loss` into its log, so a run evaluated on several sets
    (`eval_on_each_dataset`: `eval_<set>_loss`) or with only other eval metrics has no held-out
    row there (trial 40c: its live watch took the train loss, stop 352, while the checkpoints
    beside it held both sets and `analyze` of the finished folder its trainer_state.json); "" when
    the log holds an evaluation or the checkpoint none."""
    try:
        if holds_evaluation(log) or not re.search(
                rb'"eval_(?!runtime|samples_per_second|steps_per_second)\w', state.read_bytes()):
            return ""
    except OSError:
        return ""
    return (f"{log.name} holds no evaluation (LLaMA-Factory copies only eval_loss into it) and "
            f"{state.parent.name}/trainer_state.json does: reading it, as a replay of the "
            "finished folder reads its trainer_state.json")


def duration_seconds(text: str) -> float | None:
    """'3 days, 17:51:32' -> 323492.0 (the str() of a datetime.timedelta); None if not one."""
    match = _DURATION.match(text.strip())
    if not match:
        return None
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


class LineParser:
    """One JSON object per line with an integer `current_steps`."""

    def __init__(self) -> None:
        self.finished = False
        self.total_steps: int | None = None  # the job's planned length, from training rows
        self.last_step: int | None = None  # the line before's (its elapsed_time is the step's)
        self.train_step: int | None = None  # the last training row's: an evaluation's weights
        self.post_training = PostTrainingEvaluations()
        self._evaluations: list[str] = []  # what was said of each evaluation's row read
        self._progress: list[int] = []  # the lines of evaluations' progress rows left out

    @property
    def settings(self) -> dict[str, int | None]:
        """The planned length for the run's config (`phasewatch.planned`)."""
        return {} if self.total_steps is None else {"total_steps": self.total_steps}

    @property
    def notes(self) -> list[str]:
        notes = list(self._evaluations)
        if self._progress:
            lines = self._progress
            where = f"line {lines[0]}" if len(lines) == 1 else f"lines {lines[0]}-{lines[-1]}"
            notes.append(f"{where}: {len(lines)} progress row(s) of an evaluation (its batches "
                         "counted as current_steps, no result) left out")
        return notes + self.post_training.warnings

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        obj = loads(line)
        if not isinstance(obj, dict):
            raise BadLine("not a JSON object")
        if STEP_KEY not in obj:
            raise BadLine(f"no '{STEP_KEY}' key")
        step = as_step(obj[STEP_KEY])
        total = obj.get("total_steps")
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            total = None
        values = {k: v for k, v in obj.items() if k != STEP_KEY and k not in PROGRESS_KEYS}
        if self._evaluations_own(total, values):
            return self._evaluation(step, total, values, lineno)
        if total:
            self.total_steps = total
            if total <= step:
                self.finished = True  # the last step of the job: the run is over
        copied, logged = PREFERENCE_ACCURACY
        if copied in values:
            values[logged] = values.pop(copied)
        if step == self.last_step:
            values.pop("elapsed_time", None)  # the step's time is its first line's
        elif isinstance(values.get("elapsed_time"), str):
            values["elapsed_time"] = duration_seconds(values["elapsed_time"])
        self.last_step = self.train_step = step
        kept = self.post_training.kept(step, values, lineno)
        return [(step, dict(kept))]

    def _evaluations_own(self, total: int | None, values: dict[str, Any]) -> bool:
        """Whether a row counts an evaluation's batches, not the training's steps: its
        total_steps is not the training rows' and it holds no training value (module
        docstring)."""
        return (self.train_step is not None and total is not None and total != self.total_steps
                and all(values.get(key) is None for key in TRAINING_KEYS))

    def _evaluation(self, step: int, total: int, values: dict[str, Any],
                    lineno: int) -> list[tuple[int, dict[str, Any]]]:
        """An evaluation's row: its results at the last training step, judged as an
        evaluation after training (`post_training`); a progress row is left out."""
        values.pop("elapsed_time", None)  # the evaluation's clock, not a step's
        if all(v is None for k, v in values.items() if k not in NOT_RESULTS):
            self._progress.append(lineno)
            return []
        at = self.train_step
        self._evaluations.append(
            f"line {lineno}: current_steps {step} of total_steps {total}, after training rows "
            f"of {self.total_steps} steps, is LLaMA-Factory's count of an evaluation's own "
            f"batches, not a restart: an evaluation after training, read at step {at}, the "
            "last training step")
        self.post_training.ended_at(at)
        kept = self.post_training.kept(at, values, lineno)
        return [(at, dict(kept))] if kept else []


class Source(LineRecordSource):
    def __init__(self, path: Path, follow: bool = False, notice=None):
        super().__init__(path, FORMAT, LineParser, follow=follow, notice=notice)
        self.info.name = path.parent.name or path.stem

    def end_marker(self, text, values) -> bool:
        """The last step of the job ends the run."""
        return self.parser.finished


def source(path: Path, follow: bool = False, notice=None) -> Source:
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))
