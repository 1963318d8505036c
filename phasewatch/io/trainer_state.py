"""Hugging Face / TRL `trainer_state.json` and files of that shape under other names.

`log_history` is a list of dicts, one per `Trainer.log` call, each with `step` (and `epoch`):
training rows (`loss`, `learning_rate`, TRL's `reward`, `kl`, ...), evaluation rows
(`eval_loss`, `eval_accuracy`, ...) and a final summary row (`train_runtime`, ...). Rows for one
step merge. Names are kept as written; the presets alias `eval_x` as `eval/x`. The run's config
is the state's scalar fields over the TrainingArguments of the output folder's TensorBoard log,
where it has one (`trainer_args`).

Accepted shapes: `{"log_history": [...], ...}` (trainer_state.json, or a custom
`training_logs.json` that saved the same dict) and a bare list of such rows.

The fractional `epoch` gives the epoch boundaries (`phasewatch.epochs`, as for the same run's
TensorBoard and W&B logs).

A file cut off mid-write (a crash while saving) still yields every complete row before the cut;
a warning says where the file ends.

HF rewrites the whole file at each checkpoint (in place, not atomically). Followed, the file is
re-parsed when it changes and only the rows after those already read are new records; a read
that catches the file mid-write gives its complete rows and nothing is lost or repeated. A
history that now differs from what was read (a run resumed from an earlier checkpoint) gives
its rows from the first difference, and the step counter going back is the resume.
The final summary row (`train_runtime`) says the run finished.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.errors import InputError
from phasewatch.files import open_regular
from phasewatch.folders import trainer_output_folder
from phasewatch.io.json_array import LineCounter, iter_array
from phasewatch.io.jsonlines import loads
from phasewatch.io.lfs import raise_if_lfs_pointer
from phasewatch.io.lines import as_step
from phasewatch.io.llamafactory import (
    reads_token_accuracy,
    stated_stage,
    token_accuracy_name,
    token_accuracy_note,
)
from phasewatch.io.post_training import END_KEY, left_out_rows, loads_best
from phasewatch.io.source import Record, RecordSource, collect
from phasewatch.run import RecordCollector, Run, to_float

FORMAT = "trainer_state"
HISTORY_KEY = "log_history"
#: TrainerState's own bookkeeping among its scalar fields (where training stood, which process
#: wrote the file), in run.config beside the settings (max_steps, train_batch_size, eval_steps,
#: ...); a sweep leaves them out of its hyperparameter columns.
STATE_FIELDS = frozenset({
    "global_step", "epoch", "total_flos", "num_input_tokens_seen", "best_metric",
    "best_global_step", "best_model_checkpoint", "is_local_process_zero",
    "is_world_process_zero", "is_hyper_param_search", "trial_name",
})
_HISTORY_START = re.compile(r'"log_history"\s*:\s*\[')


_GLOBAL_STEP = re.compile(rb'"global_step"\s*:\s*(\d+)')
_MAX_STEPS = re.compile(rb'"max_steps"\s*:\s*(\d+)')


def global_step_of(path: Path) -> int | None:
    """The `global_step` of a trainer_state.json, from its head, not parsed: the Trainer writes
    its keys sorted, `global_step` before the history (None when it is not there)."""
    try:
        with Path(path).open("rb") as fh:
            found = _GLOBAL_STEP.search(fh.read(2048))
    except OSError:
        return None
    return int(found[1]) if found else None


def file_reached_max_steps(path: Path) -> bool:
    """`reached_max_steps` of a checkpoint's trainer_state.json before it is read: its history
    is then the whole run's. Read from the file's ends, not parsed: the Trainer writes its keys
    sorted, `global_step` before the history (`global_step_of`) and `max_steps` after it (a file
    written otherwise reads as not the end, and the caller says which file it read)."""
    step = global_step_of(path)
    if step is None:
        return False
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - 65536))  # the settings after the history
            tail = fh.read()
    except OSError:
        return False
    planned = _MAX_STEPS.search(tail)
    return bool(planned and 0 < int(planned[1]) <= step)


def sniff(path: Path, head: bytes) -> bool:
    if not path.is_file():
        return False
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if text.startswith("{"):
        return _HISTORY_START.search(text) is not None
    if text.startswith("["):
        # A bare list of log rows: the first element is an object with a "step" key.
        first = text[1:].lstrip()
        return first.startswith("{") and re.search(r'"step"\s*:', first[:4096]) is not None
    return False


def _read_text(path: Path) -> str:
    try:
        with open_regular(path) as fh:  # a FIFO is refused, not waited on
            return fh.read().decode("utf-8-sig", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path) from exc


def _document(text: str, path: Path) -> tuple[Any | None, int]:
    """(whole document or None if it does not parse, offset of the log rows' '[')."""
    try:
        doc = loads(text)
    except ValueError:
        doc = None
    stripped = len(text) - len(text.lstrip())
    if text[stripped:].startswith("["):
        return doc, stripped
    match = _HISTORY_START.search(text)
    if match is None:
        raise_if_lfs_pointer(path)
        if doc is not None:
            raise InputError(f"a JSON document without a '{HISTORY_KEY}' list", path)
        raise InputError("not valid JSON and no 'log_history' list found", path)
    return doc, match.end() - 1


class Source(RecordSource):
    format = FORMAT

    def __init__(self, path: Path, follow: bool = False, notice=None):
        super().__init__(path)
        self.follow = follow
        self.info.name = path.parent.name or path.stem
        self._stamp: tuple[int, int] | None = None
        self._rows: list[dict] = []  # the log rows read so far (as the file holds them)
        self._arguments: dict | None = None
        self._token_accuracy: bool | None = None  # LLaMA-Factory's eval_accuracy (`_renamed`)
        self._renamed: dict[str, str] = {}
        self._document_warnings: list[str] = []  # those of the latest reading

    def _names(self, row: dict) -> dict:
        """A row's values, an LLaMA-Factory output folder's token accuracy renamed
        (`llamafactory.token_accuracy_name`; said once, in the run's warnings)."""
        values = {key: v for key, v in row.items() if key != "step"}
        renames = {key: new for key in values if (new := token_accuracy_name(key)) is not None}
        if not renames:
            return values
        if self._token_accuracy is None:

            self._token_accuracy = reads_token_accuracy(self.path)
        if not self._token_accuracy:
            return values
        if not set(renames) <= set(self._renamed):
            self._renamed.update(renames)
            self.warnings[:] = [w for w in self.warnings if not w.startswith("LLaMA-Factory's")]
            self.warnings.append(token_accuracy_note(self._renamed))
        return {renames.get(key, key): v for key, v in values.items()}

    def read(self, final: bool = True):
        path = self.path
        try:
            st = path.stat()
        except OSError as exc:
            if self.follow and not final:
                return
            raise InputError(f"cannot read: {exc.strerror or exc}", path) from exc
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp and not final:
            return
        text = _read_text(path)
        strict = final or not self.follow
        if not text.strip():
            if strict and not self._rows:
                raise InputError("the file is empty", path)
            return
        try:
            doc, rows, warnings = _parse(text, path)
        except InputError:
            if strict:
                raise
            return  # caught mid-write: read it again when it changes
        complete = doc is not None
        self._stamp = stamp if complete else None
        meta = doc if isinstance(doc, dict) else {}
        if meta and self._arguments is None:  # the TrainingArguments beside it (`trainer_args`)
            from phasewatch.io.model_task import model_task
            from phasewatch.io.trainer_args import trainer_arguments

            self._arguments = {**trainer_arguments(path),
                               **stated_stage(trainer_output_folder(path)), **model_task(path)}
        kept, notes = left_out_rows([(as_step(row["step"]), row, line) for line, row in rows],
                                    loaded_best=loads_best(self._arguments or {}))
        if complete or strict:  # a read caught mid-write keeps the last whole reading's
            self._replace_document_warnings(warnings + notes)
        rows_only = [row for _, row in rows]
        k = _common_prefix(self._rows, rows_only)
        if k == len(rows_only) and self._rows:
            return  # nothing new (or a partial read of rows already seen)
        new = rows[k:]
        self._rows = rows_only
        if meta:
            self.info.config = {**self._arguments, **{
                key: v for key, v in meta.items()
                if key != HISTORY_KEY and not isinstance(v, (dict, list))}}
            if reached_max_steps(meta):
                self.info.finished = True
        for index, (line, row) in enumerate(new, start=k):
            if END_KEY in row:
                self.info.finished = True
            if kept[index]:  # not an evaluation after training alone (`post_training`)
                yield Record(as_step(row["step"]), self._names(kept[index]), line)

    def _replace_document_warnings(self, warnings: list[str]) -> None:
        """The warnings of the document just read take the place of the previous reading's.
        The Trainer rewrites the whole file at each checkpoint and each reading parses all of
        it, so its warnings are about the whole history so far: added up, a follow said
        "skipped 1 log rows that are not records (line 30: ...)", then "skipped 2 ..." and so
        on at every save (HF's predict rows carry no step: 9 warnings on a 10-epoch run whose
        replay gives one), and the list held each reading's. Replaced, the list holds what a
        reading of the file now gives, and a follow (which says the warnings past those it
        said, `LiveWatch._report_warnings`) says a kind of warning once, when it first
        appears, not again as its count grows. The source's own notes (the LLaMA-Factory
        renaming, the folder's choice) stay."""
        for warning in self._document_warnings:
            if warning in self.warnings:
                self.warnings.remove(warning)
        self.warnings.extend(warnings)
        self._document_warnings = list(warnings)

    def finish(self, collector: RecordCollector) -> None:
        """An empty history is said with why, where the state tells it: the Trainer logs every
        `logging_steps` steps, and a run that stopped before its first (6 steps, logging every
        10) has no row."""
        if collector.n_records == 0:
            config, why = self.info.config, f"'{HISTORY_KEY}' holds no log rows with a 'step'"
            last, every = config.get("global_step"), config.get("logging_steps")
            if not self._rows and isinstance(last, int) and isinstance(every, int) and last < every:
                why = (f"'{HISTORY_KEY}' is empty: the Trainer logs every logging_steps ({every}) "
                       f"steps and this run stopped at step {last} (global_step), before its first "
                       "log row; a lower logging_steps gives a curve")
            raise InputError(why, self.path)


def reached_max_steps(state: dict) -> bool:
    """Whether a state says its run is over: `global_step` at its `max_steps`. A checkpoint's
    trainer_state.json holds no `train_runtime` row (the Trainer logs it after the last save),
    so a folder of checkpoints says it ended only so (trial 33: a follow of a TRL output
    folder whose checkpoint-400 held global_step 400 of max_steps 400 waited out --idle-exit)."""
    done, planned = to_float(state.get("global_step")), to_float(state.get("max_steps"))
    return done is not None and planned is not None and 0 < planned <= done


def _common_prefix(old: list[dict], new: list[dict]) -> int:
    k = 0
    for a, b in zip(old, new):
        if a != b:
            break
        k += 1
    return k


def _parse(text: str, path: Path) -> tuple[Any, list[tuple[int, dict]], list[str]]:
    """(whole document or None, [(line, row)] of the log rows with a step, warnings)."""
    doc, start = _document(text, path)
    line_of = LineCounter(text)
    skipped: list[str] = []
    warnings: list[str] = []
    rows: list[tuple[int, dict]] = []
    damaged: list[tuple[int, int]] = []
    stepless: set[str] = set()  # the keys of rows without a step
    try:
        for offset, row in iter_array(text, start, damaged):
            while damaged:  # damage before this row: say what was skipped
                bad, resume = damaged.pop(0)
                first_bad, resume_line = line_of(max(bad, line_of.offset)), line_of(resume)
                warnings.append(f"line {first_bad}: damaged log rows skipped (lines "
                                f"{first_bad}-{resume_line - 1 if resume_line > first_bad else first_bad}"
                                f"); read on from line {resume_line}")
            line = line_of(offset)
            if not isinstance(row, dict):
                skipped.append(f"line {line}: not an object")
                continue
            if "step" not in row:
                skipped.append(f"line {line}: no 'step'")
                stepless.update(row)
                continue
            try:
                as_step(row["step"])
            except ValueError as exc:
                skipped.append(f"line {line}: {exc}")
                continue
            rows.append((line, row))
    except ValueError as exc:
        where = line_of(max(int(exc.args[0]), line_of.offset))
        if not rows:
            raise InputError(
                "the log rows are not valid JSON (truncated or damaged file?)", path, where
            ) from None
        warnings.append(f"line {where}: the file is truncated or damaged here; read the "
                        f"{len(rows)} complete log rows before it")
    if skipped:
        shown = "; ".join(skipped[:5]) + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        what = "log row that is not a record" if len(skipped) == 1 else "log rows that are not records"
        warnings.append(f"skipped {len(skipped)} {what} ({shown}){_only_in(stepless, rows)}")
    return doc, rows, warnings


def _only_in(stepless: set[str], rows: list[tuple[int, dict]]) -> str:
    """': predict_loss, predict_rouge-l and 5 more are logged in those rows only, so are not
    read' where rows without a step hold metrics no row with one holds (a run's per-epoch
    test-set scores appended to log_history by a script: hf-cpt-rouge's predict_rouge-l at
    each of its 10 epochs was skipped with nothing but line numbers said); else ''."""
    from phasewatch.output import listed

    stepped = {key for _, row in rows for key in row}
    lost = sorted(stepless - stepped - {"epoch"})
    if not lost:
        return ""
    are = "is" if len(lost) == 1 else "are"
    return f": {listed(lost, 4)} {are} logged in those rows only, so {are} not read"


def source(path: Path, follow: bool = False, notice=None) -> Source:
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))
