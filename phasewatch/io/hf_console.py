"""Hugging Face Trainer console output: the `{'loss': ..., 'epoch': ...}` lines of nohup / slurm.

`Trainer.log` prints each log row as a Python dict (`ProgressCallback` through `tqdm.write`,
`PrinterCallback` with `print`): training rows `{'loss': 0.52, 'grad_norm': 1.3,
'learning_rate': 2e-05, 'epoch': 0.24}`, evaluation rows `{'eval_loss': '0.4042',
'eval_runtime': ..., 'epoch': '0.2356'}` (recent versions print the numbers as strings) and a
final summary with `train_runtime`, which says the run finished. The rest of the output
(model loading, warnings, progress bars, samples) is not a record and is skipped; a dict line
that cannot be read is reported with its line number.

The dicts are parsed with `ast.literal_eval` (literals only, never code). They carry no step,
only the fractional epoch, so the step is the epoch x 10,000 (`STEPS_PER_EPOCH`): trends are
fitted against training progress, and the x axis is the epoch (`phasewatch.xaxis`). Rows
printed with a coarse epoch (`round(epoch, 2)` in older versions) can share a value; the later
row then wins, and a warning says how many did.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path
from typing import Any

from phasewatch.io.lines import BadLine
from phasewatch.io.source import LogFileSource
from phasewatch.io.verl_console import ANSI
from phasewatch.values import to_float

FORMAT = "hf_console"
STEPS_PER_EPOCH = 10_000
EPOCH_KEY = "epoch"
END_KEY = "train_runtime"
MAX_DICT_CHARS = 20_000   # a log row is a few hundred characters; longer is not one
# A Python dict literal with quoted keys, not nested in braces, anywhere on the line (a
# progress bar drawn before it with '\r' stays in front).
DICT = re.compile(r"\{\s*'[^{}]*\}")
HF_MARKS = (b"Running training", b"Num examples", b"it/s]", b"s/it]", b"transformers",
            b"Trainer")
SNIFF_MORE_BYTES = 8 * 1024 * 1024
# The Trainer's banner (`***** Running training *****`); `Total optimization steps` is its last
# field (an evaluation's banner prints `Num examples` again)
BANNER_START = "Running training"
BANNER_FIELDS = {
    "examples": re.compile(r"\bNum examples = ([\d,]+)\s*$"),
    "epochs": re.compile(r"\bNum Epochs = ([\d,]+)\s*$"),
    "batch": re.compile(r"\bTotal train batch size \(.*\) = ([\d,]+)\s*$"),
    "steps": re.compile(r"\bTotal optimization steps = ([\d,]+)\s*$"),
}


class TrainingBanner:
    """The planned length the Trainer's banner states, in the console rows' steps (epochs x
    10,000). `Num Epochs` is rounded up when `max_steps` ends the run sooner (1 for 100 steps
    of a 1,000-step epoch); then the optimization steps over the steps an epoch takes
    (examples / total batch) give the epochs."""

    def __init__(self) -> None:
        self.fields: dict[str, int] = {}
        self.open = False

    def feed(self, line: str) -> None:
        if BANNER_START in line:
            self.open, self.fields = True, {}
            return
        for name, pattern in BANNER_FIELDS.items() if self.open else ():
            found = pattern.search(line)
            if found:
                self.fields[name] = int(found.group(1).replace(",", ""))
                self.open = name != "steps"

    def planned_steps(self) -> int | None:
        fields = self.fields
        if not fields.get("epochs"):
            return None
        epochs = float(fields["epochs"])
        if fields.get("examples") and fields.get("batch") and fields.get("steps"):
            epochs = min(epochs, fields["steps"] * fields["batch"] / fields["examples"])
        return round(epochs * STEPS_PER_EPOCH)


def _row(text: str) -> str | None:
    """The last dict literal (its text) on a line that has an 'epoch' key, or None."""
    found = DICT.findall(ANSI.sub("", text))
    for candidate in reversed(found):
        if f"'{EPOCH_KEY}'" in candidate:
            return candidate
    return None


def _has_row(text: str) -> bool:
    for line in text.splitlines():
        candidate = _row(line)
        if candidate is not None:
            try:
                return isinstance(_parse(candidate), dict)
            except BadLine:
                continue
    return False


# The start of a JSON document or JSON lines (`{"`, `[{`, `[1, 2]`...), which are other readers';
# not a log line's `[2024-08-19 10:27:57,181] [INFO]` (DeepSpeed's launcher) or `[INFO|...]`.
JSON_START = re.compile(rb'\{"|\[\s*(?:[{\["\]]|-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\s*[,\]]|true|false|null)')


def sniff(path: Path, head: bytes) -> bool:
    if not path.is_file() or JSON_START.match(head.lstrip()):
        return False
    if _has_row(head.decode("utf-8", errors="replace")):
        return True
    if not any(mark in head for mark in HF_MARKS):
        return False
    with open(path, "rb") as fh:  # model loading can print more than the head first
        more = fh.read(SNIFF_MORE_BYTES)
    return _has_row(more.decode("utf-8", errors="replace"))


def sniff_text(text: str) -> bool:
    """Whether console text held whole in memory (a notebook cell's printed output,
    `io.notebook`) is this format: `sniff` without the file."""
    return not JSON_START.match(text.lstrip().encode("utf-8", "replace")[:256]) and _has_row(text)


# The usual row: 'key': number or 'key': 'number' items only. Read by this pattern without
# building a syntax tree (5-10x faster than literal_eval); anything else goes to literal_eval.
_NUMBER = r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|-?nan|-?inf"
_ITEM = r"'([^'\\]*)':\s*(?:'(" + _NUMBER + r")'|(" + _NUMBER + r"))"
_SIMPLE = re.compile(r"\{\s*" + _ITEM + r"(?:\s*,\s*" + _ITEM + r")*\s*,?\s*\}$")
_ITEMS = re.compile(_ITEM)


def _parse(candidate: str) -> dict[str, Any]:
    if len(candidate) > MAX_DICT_CHARS:
        raise BadLine(f"a dict of {len(candidate)} characters is not a log row")
    if _SIMPLE.match(candidate):
        return {key: quoted or bare for key, quoted, bare in _ITEMS.findall(candidate)}
    try:
        row = ast.literal_eval(candidate)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError) as exc:
        raise BadLine(f"not a readable Python dict ({type(exc).__name__})") from None
    if not isinstance(row, dict) or not all(isinstance(k, str) for k in row):
        raise BadLine("not a dict with string keys")
    return row


class LineParser:
    """Lines with a `{... 'epoch': ...}` dict give one record at step epoch x 10,000."""

    def __init__(self) -> None:
        self.finished = False
        self.banner = TrainingBanner()
        self._last: tuple[int, frozenset] | None = None
        self._shared = 0

    @property
    def settings(self) -> dict[str, int]:
        """The planned length in the rows' steps, for the run's config (`phasewatch.planned`)."""
        planned = self.banner.planned_steps()
        return {} if planned is None else {"planned_steps": planned}

    @property
    def notes(self) -> list[str]:
        if not self._shared:
            return []
        return [(f"{self._shared} log rows share their epoch value with the row before (the "
                "epoch is printed rounded); the later row is kept")]

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        candidate = _row(line)
        if candidate is None:
            self.banner.feed(line)
            return []
        row = _parse(candidate)
        epoch = to_float(row.get(EPOCH_KEY))
        if epoch is None or math.isnan(epoch) or epoch < 0 or epoch > 1e9:
            raise BadLine(f"the epoch is not a number >= 0: {row.get(EPOCH_KEY)!r}")
        step = round(epoch * STEPS_PER_EPOCH)
        keys = frozenset(k for k in row if k != EPOCH_KEY)
        if self._last is not None and self._last[0] == step and self._last[1] & keys:
            self._shared += 1
        self._last = (step, keys)
        if END_KEY in row:
            self.finished = True
        return [(step, row)]


class Source(LogFileSource):
    FORMAT, PARSER, WHAT = FORMAT, LineParser, "`{'loss': ..., 'epoch': ...}` lines"

    def end_marker(self, text, values) -> bool:
        return self.parser.finished


source = Source.open
read = Source.run_of
