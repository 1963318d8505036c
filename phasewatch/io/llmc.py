"""llm.c's training log (`--output_log_file`, `-o DIR`: `DIR/main.log`, e.g. `log124M/main.log`).

karpathy/llm.c's logger (`llmc/logger.h`, and `train_gpt2.py` / `train_llama3.py` writing the
same file) appends one line per event, `s:STEP` then `kind:value` items:
    s:0 tel:10.9832                              logger_log_val: the validation loss
    s:0 trl:10.9550 lr:0.000000 norm:15.23       logger_log_train: the train loss, learning
                                                 rate and grad norm (before June 2024, and in
                                                 the Python scripts: `s:0 trl:10.955000` alone)
    s:250 eval:0.2455                            logger_log_eval: HellaSwag accuracy (acc_norm)
The metrics are named as a user would type them, so their roles are known (`presets`):
`tel` -> `val_loss` (held-out loss), `trl` -> `train_loss`, `eval` -> `hellaswag_accuracy`
(held-out accuracy), `lr` -> `lr`, `norm` -> `grad_norm`; any other item keeps its own name.
A run resumed with `-y 1` appends to the same file and logs the steps from its checkpoint
again: the collector reads the later lines, as llm.c's `dev/vislog.ipynb` does.

Sniffing: the file holds nothing but these lines (only the logger writes it), so the first
non-blank line of the head must be one, with a kind llm.c writes, and at most one line in
ten of the head may be something else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.io.lines import BadLine, only_lines_of
from phasewatch.io.source import LogFileSource
from phasewatch.values import to_float

FORMAT = "llmc"

LINE = re.compile(r"s:(?P<step>\d+)(?P<items>(?:[ \t]+[A-Za-z_]\w*:\S+)+)\s*$")
ITEM = re.compile(r"([A-Za-z_]\w*):(\S+)")
NAMES = {"tel": "val_loss", "trl": "train_loss", "eval": "hellaswag_accuracy",
         "lr": "lr", "norm": "grad_norm"}
KINDS = ("tel", "trl", "eval")  # what each line of llm.c's logger starts with


def sniff(path: Path, head: bytes) -> bool:
    return path.is_file() and sniff_text(head.decode("utf-8", "replace"))


def sniff_text(text: str) -> bool:
    """Whether text is llm.c's log: `sniff` without the file."""
    return only_lines_of(text, LINE, _first_item_known)


def _first_item_known(match: re.Match[str]) -> bool:
    return match.group("items").split(":", 1)[0].strip() in KINDS


class LineParser:
    """One record per `s:STEP kind:value ...` line; any other line is reported as bad."""

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        match = LINE.match(line)
        if match is None:
            raise BadLine(f"not an llm.c log line (`s:STEP kind:value ...`): {line[:80]!r}")
        values: dict[str, Any] = {}
        for name, value in ITEM.findall(match.group("items")):
            if to_float(value) is None:
                raise BadLine(f"`{name}:{value[:40]}` is not a number")
            values[NAMES.get(name, name)] = value
        return [(int(match.group("step")), values)]


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery. No line ends the run."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = "llm.c log lines (`s:STEP tel:VALUE`, `s:STEP trl:VALUE ...`, `s:STEP eval:VALUE`)"


source = Source.open
read = Source.run_of
