"""build-nanogpt's training log (`log/log.txt`): `STEP KIND VALUE` lines.

karpathy/build-nanogpt's `train_gpt2.py` (the "Let's reproduce GPT-2" lecture, and the many
repositories built from it) truncates `log/log.txt` at start and appends one line per value:
    0 val 10.9512          the validation loss (every 250 steps and at the last step)
    0 hella 0.2455         HellaSwag accuracy (acc_norm), at the same steps
    1 train 10.123456      the step's train loss
The metrics are named as a user would type them, so their roles are known (`presets`):
`val` -> `val_loss` (held-out loss), `train` -> `train_loss`, `hella` -> `hellaswag_accuracy`
(held-out accuracy); another kind a fork writes (`0 lr 0.0006`) keeps its own name, and
`name=value` items a fork adds after the value (`0 train 10.55 ce=10.55 aux=0.0`) are read
under their names.

Sniffing: the file holds nothing but these lines, so the first non-blank line of the head must
be one with a kind build-nanogpt writes, and at most one line in ten of the head may be
something else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.io.lines import BadLine, only_lines_of
from phasewatch.io.source import LogFileSource
from phasewatch.values import to_float

FORMAT = "build_nanogpt"

LINE = re.compile(r"(?P<step>\d+)[ \t]+(?P<kind>[A-Za-z_]\w*)[ \t]+(?P<value>\S+)"
                  r"(?P<items>(?:[ \t]+[A-Za-z_]\w*=\S+)*)\s*$")
ITEM = re.compile(r"([A-Za-z_]\w*)=(\S+)")
NAMES = {"val": "val_loss", "train": "train_loss", "hella": "hellaswag_accuracy"}


def sniff(path: Path, head: bytes) -> bool:
    return path.is_file() and sniff_text(head.decode("utf-8", "replace"))


def sniff_text(text: str) -> bool:
    """Whether text is build-nanogpt's log: `sniff` without the file."""
    return only_lines_of(text, LINE, _first_is_one)


def _first_is_one(match: re.Match[str]) -> bool:
    return match.group("kind") in NAMES and to_float(match.group("value")) is not None


class LineParser:
    """One record per `STEP KIND VALUE` line; any other line is reported as bad."""

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        match = LINE.match(line)
        if match is None:
            raise BadLine(f"not a build-nanogpt log line (`STEP KIND VALUE`): {line[:80]!r}")
        kind, value = match.group("kind"), match.group("value")
        values: dict[str, Any] = {NAMES.get(kind, kind): value}
        values.update(ITEM.findall(match.group("items")))
        for name, text in values.items():
            if to_float(text) is None:
                raise BadLine(f"the value of `{name}`, {text[:40]!r}, is not a number")
        return [(int(match.group("step")), values)]


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery. No line ends the run."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = "build-nanogpt log lines (`STEP val VALUE`, `STEP train VALUE`, `STEP hella VALUE`)"


source = Source.open
read = Source.run_of
