"""A JSON document whose records are lists of per-step or per-epoch objects under some key.

Home-made exports look like `{"history": [{"epoch": 1, "loss": 0.9, "val_acc": 0.41}, ...]}`,
`{"run": "x", "logs": {"train": [{"step": 10, "loss": ...}], "eval": [{"step": 100, ...}]}}`
or a bare `[{"iteration": 1, ...}, ...]`; Keras' `History.history` is a list per metric
(`{"loss": [...], "val_loss": [...]}`, one value per epoch: `column_lists`). Every list (up to
three levels down) whose first object has a step-like key (`lines.STEP_KEYS`: step,
global_step, iteration, ..., epoch) is a table of records; with several such lists, each
list's metrics are prefixed with its key (`train/loss`, `eval/loss`) so they stay apart, but
an HF Trainer's `log_history` saved under a key of its own keeps the Trainer's names
(`trainer_history`). A step that is not an integer (a fractional epoch) makes the list's
records numbered 0, 1, 2... instead, with the step key kept as a metric (`--x epoch` then
reports in it) and a warning. Where the steps are epochs (Keras' History; every list's step
key `epoch`, in integers) the run says so (`Run.step_unit`): its texts and figures name them
epochs. A document with neither
whose metrics are `{step: value}` objects (`{"train": {"loss": {"0": 1.7, "1": 1.4}}}`, pandas'
`to_json()`) is read by `json_step_maps`: metric `train/loss`, the keys are the steps. Number
lists of several lengths (a loss per batch beside an accuracy per epoch) are read by
`json_uneven_lists`: on the longest list's steps, each shorter list spread evenly over them.
Scalars beside the lists are the run's config. Nested objects in a record are flattened with
"/".

The whole document is parsed (NaN / Infinity allowed); a document that is not valid JSON is an
error naming the line where it breaks. Followed, the file is read again when it changes and
only the records after those already read are new.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

from phasewatch.errors import InputError
from phasewatch.io import json_uneven_lists as uneven
from phasewatch.io.json_step_maps import (
    STEP_MAP_START,
    number_or_null,
    records_of_maps,
    step_maps,
)
from phasewatch.io.jsonl import flatten
from phasewatch.io.jsonlines import DECODER, first_json_object, first_line
from phasewatch.io.lines import STEP_KEYS, as_step, find_step_key
from phasewatch.io.rewritten import RewrittenFileSource
from phasewatch.io.source import Record, collect
from phasewatch.run import Run
from phasewatch.xaxis import NUMBERED, step_unit_of_keys

FORMAT = "generic_json"
MAX_DEPTH = 3
# A large document is sniffed from its head by this pattern: a list whose first object has a
# step key. The keys are `find_step_key`'s own (STEP_KEYS, with its folding of case and of a
# space for an underscore), so that a document the parser reads whole is sniffed as ours
# whatever its size (a Q-learner's `[{"episode": 0, ...}, ...]` of 800 records, 101 KB).
_STEP_NAMES = "|".join(re.escape(key).replace("_", "[ _]") for key in STEP_KEYS)
_LIST_OF_RECORDS = re.compile(r'\[\s*\{[^\[\]{}]*?"(?:' + _STEP_NAMES + r')"\s*:', re.IGNORECASE)


def sniff(path: Path, head: bytes) -> bool:
    if not path.is_file():
        return False
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if not text.startswith(("{", "[")):
        return False
    from phasewatch.io import HEAD_BYTES

    if len(head) < HEAD_BYTES:  # the whole file: it must be one JSON document with a table
        try:
            doc = DECODER.decode(text)
        except (ValueError, RecursionError):
            # damaged or cut: still ours when it starts like one (the reader names the line)
            return first_json_object(head, limit=1) is None and \
                (_LIST_OF_RECORDS.search(text) is not None or STEP_MAP_START.search(text) is not None)
        return bool(record_lists(doc)) or column_lists(doc) is not None or bool(step_maps(doc)) \
            or uneven.uneven_lists(doc) is not None
    # A large file: one document (not JSON lines) with a list of step objects near its start,
    # or whose first value is a {step: value} object or a metric's list of numbers.
    return _one_document_start(head) and \
        (_LIST_OF_RECORDS.search(text) is not None or STEP_MAP_START.search(text) is not None
         or uneven.starts_like_one(text))


def _one_document_start(head: bytes) -> bool:
    """Whether `head` starts one JSON document rather than JSON lines: its first line is no
    object by itself (a pretty-printed document), or runs past `head` (a compact `json.dump`
    bigger than HEAD_BYTES; a JSON-lines record of that size is no log row)."""
    first = first_line(head)
    if first is None:
        return False
    return not first[1] or first_json_object(head, limit=1) is None


def record_lists(doc: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, list]]:
    """(key path, list) of every list of step objects in `doc`, in document order."""
    found: list[tuple[str, list]] = []
    if isinstance(doc, list):
        first = next((x for x in doc if isinstance(x, dict)), None)
        if first is not None and find_step_key(first.keys()) is not None:
            return [(prefix, doc)]
        return []
    if isinstance(doc, dict) and depth < MAX_DEPTH:
        for key, value in doc.items():
            if isinstance(value, (list, dict)):
                name = f"{prefix}/{key}" if prefix else str(key)
                found.extend(record_lists(value, name, depth + 1))
    return found


def column_lists(doc: Any) -> dict[str, list] | None:
    """Keras' `History.history` dumped to JSON, `{"loss": [...], "val_loss": [...]}`: each
    metric a list of one value per epoch; or a loop's own history of the same shape with its
    step column (`{"epoch": [0, 500, ...], "train_loss": [...]}`). The numeric lists of a
    top-level object, all of one length (2 or more), with Keras' `loss`, a `val_` metric or an
    increasing integer step column among them (a model config's `image_mean` is not a log);
    else None."""
    if not isinstance(doc, dict):
        return None
    columns = {str(k): v for k, v in doc.items()
               if isinstance(v, list) and v and all(map(number_or_null, v))}
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1 or lengths.pop() < 2:
        return None
    keras = "loss" in columns or any(k.startswith("val_") for k in columns)
    return columns if keras or step_column(columns) is not None else None


def step_column(columns: dict[str, list]) -> str | None:
    """The column of `column_lists` that numbers its rows: a step key (`find_step_key`)
    whose values are integers that only increase; None when there is none (Keras' History,
    whose rows are the epochs 0, 1, 2...)."""
    key = find_step_key(columns)
    if key is None or len(columns) < 2:
        return None
    values = columns[key]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return None
    return key if all(a < b for a, b in itertools.pairwise(values)) else None


def _rows_note(columns: dict[str, list], n: int) -> str:
    """What the rows of `column_lists` without a step column are read as: Keras' History when
    it has Keras' `loss` list (`fit` always records it), one value per epoch; else a loop's own
    history of lists of the same shape, read as epochs too, but not called Keras': a GRPO
    loop's per-step lists (`val_accuracies_avg`, `rewards_avg`, no `loss`) were announced as
    "Keras' History" and their 120 steps as epochs, unqualified (json-grpo-valacc-120)."""
    if "loss" in columns:
        from phasewatch.io.keras_console import epoch_count_note

        return (f"one value per epoch in each list (Keras' History): the steps are the epochs "
                f"0-{n - 1}, " + epoch_count_note("Keras' printout `Epoch 1/M` is epoch 0"))
    return (f"one value per row in each list and no step column: the rows are read as epochs 0-"
            f"{n - 1}, as a Keras-style history keeps them (this one has no Keras `loss` list; if "
            "it gained a value per training step, the numbers are its steps)")


def _config(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        return {}
    return {k: v for k, v in doc.items() if not isinstance(v, (dict, list))}


def parse(text: str, path: Path) -> tuple[list[Record], dict[str, Any], list[str], str]:
    """(records in document order, config, warnings, what the steps count: "epoch" or
    "step"); InputError for a document that is not JSON or holds no list of step objects."""
    try:
        doc = DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg} (truncated or damaged file?)", path,
                         exc.lineno) from None
    except (ValueError, RecursionError):
        raise InputError("not valid JSON (nested too deeply?)", path) from None
    lists = record_lists(doc)
    if not lists and (columns := column_lists(doc)) is not None:
        n = len(next(iter(columns.values())))
        if (key := step_column(columns)) is not None:
            steps = columns.pop(key)
            records = [Record(steps[i], {k: v[i] for k, v in columns.items()}) for i in range(n)]
            return records, _config(doc), [], step_unit_of_keys([key])
        records = [Record(i, {k: v[i] for k, v in columns.items()}) for i in range(n)]
        return records, _config(doc), [_rows_note(columns, n)], "epoch"
    if not lists and (columns := uneven.uneven_lists(doc)) is not None:
        records, notes = uneven.records(columns)
        return records, _config(doc), notes, "step"
    if not lists and (maps := step_maps(doc)):
        return [Record(step, values) for step, values in records_of_maps(maps)], {}, [], "step"
    if not lists:
        raise InputError("a JSON document without a list of per-step or per-epoch objects "
                         f"(looked for lists of objects with one of: {', '.join(STEP_KEYS)}, "
                         "and for {step: value} objects per metric)", path)
    records: list[Record] = []
    warnings: list[str] = []
    step_keys: list[str] = []  # the keys the steps were read from (not numbered records)
    several = len(lists) > 1
    history = trainer_history(lists)
    for name, rows in lists:
        where = name or "the top-level list"
        first = next(x for x in rows if isinstance(x, dict))
        key = find_step_key(first.keys())
        numbered = not _integer_steps(rows, key)
        step_keys.append(NUMBERED if numbered else key)
        if numbered:
            warnings.append(f"{where}: '{key}' is not an integer step; its records are numbered "
                            f"0, 1, 2... and '{key}' is kept as a metric (--x epoch reports in it)")
        skipped = []
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                skipped.append(f"{where}[{i}]: not an object")
                continue
            values = flatten(row)
            if numbered:
                step = i
            else:
                if key not in row:
                    skipped.append(f"{where}[{i}]: no '{key}'")
                    continue
                step = as_step(row[key])
                values.pop(key, None)
            if several and name != history:
                values = {f"{name}/{k}": v for k, v in values.items()}
            records.append(Record(step, values))
        if skipped:
            shown = "; ".join(skipped[:5]) + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
            what = "entry that is not a record" if len(skipped) == 1 else "entries that are not records"
            warnings.append(f"skipped {len(skipped)} {what} ({shown})")
    return records, _config(doc), warnings, step_unit_of_keys(step_keys)


def trainer_history(lists: list[tuple[str, list]]) -> str | None:
    """The key of the one list that is an HF Trainer's `state.log_history` saved under a key of
    its own (`raw_log_history`; `log_history` itself is `trainer_state`'s), rows with a `step`:
    its metrics keep the Trainer's names, which the presets know, beside the other lists'
    prefixed ones (trial 39b: json-dpo-jsonextract-reward's `raw_log_history/loss` and
    `raw_log_history/rewards/accuracies` were no train loss nor preference accuracy: "no
    performance metric found"). None when no list, or several, are."""
    found = [name for name, rows in lists if name.rsplit("/", 1)[-1].endswith("log_history")
             and find_step_key(next(x for x in rows if isinstance(x, dict)).keys()) == "step"]
    return found[0] if len(found) == 1 else None


def _integer_steps(rows: list, key: str) -> bool:
    for row in rows:
        if isinstance(row, dict) and key in row:
            try:
                as_step(row[key])
            except ValueError:
                return False
    return True


class Source(RewrittenFileSource):
    format = FORMAT

    def __init__(self, path: Path, follow: bool = False, notice=None):
        super().__init__(path, follow)

    def read(self, final: bool = True):
        strict = final or not self.follow
        try:
            if (stamp := self.stamp()) is None:
                return
            text = self.path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError as exc:
            if not strict:
                return
            raise InputError(f"cannot read: {exc.strerror or exc}", self.path) from exc
        try:
            records, config, warnings, self.info.step_unit = parse(text, self.path)
        except InputError:
            if strict:
                raise
            return  # caught mid-write: read again when it changes
        self.info.config = config
        self.warnings = list(warnings)
        yield from self.fresh(stamp, records)

    def finish(self, collector) -> None:
        if collector.n_records == 0:
            raise InputError("the JSON lists of records are empty", self.path)


def source(path: Path, follow: bool = False, notice=None) -> Source:
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))
