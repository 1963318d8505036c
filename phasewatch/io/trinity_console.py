"""Trinity-RFT console output: `Step N: {...}` lines, one per monitor `log` call.

Trinity's monitors print `Step {step}: {data}` through its logger (format
`LEVEL MM-DD HH:MM:SS [file.py:line] message`, under Ray with an `(Explorer pid=N)` prefix),
`data` being a Python dict repr. The repr is read with `ast.literal_eval` (never `eval`), after
numpy scalar reprs (`np.float64(0.5)`, numpy 2) are unwrapped and the bare `nan` / `inf` that a
float repr prints are quoted (`io.py_literal`; the collector reads the strings as numbers);
other lines are not records and are skipped.

The explorer and the trainer keep separate step counters and print into the same output, so
each record carries its role as its group: from the Ray prefix when there is one, else from
the keys (`actor/*`, `critic/*` are the trainer's).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.io.py_literal import python_literal
from phasewatch.io.source import LogFileSource
from phasewatch.io.verl_console import ANSI

FORMAT = "trinity_console"

STEP_LINE = re.compile(r"Step (\d+): (\{.*)$")
SNIFF_LINE = re.compile(rb"Step \d+: \{['\"]")
RAY_ROLE = re.compile(r"^\s*\((\w+)[\w.-]* pid=\d+")
TRAINER_PREFIXES = ("actor/", "critic/", "training/")


def sniff(path: Path, head: bytes) -> bool:
    return SNIFF_LINE.search(head) is not None


def sniff_text(text: str) -> bool:
    """Whether console text held whole in memory (a notebook cell's printed output,
    `io.notebook`) is this format: `sniff` without the file."""
    return SNIFF_LINE.search(text.encode("utf-8", "replace")) is not None


def role_of(line: str, values: dict[str, Any]) -> str:
    match = RAY_ROLE.match(line)
    if match:
        name = match.group(1).lower()
        for role in ("explorer", "trainer"):
            if role in name:
                return role
    return "trainer" if any(k.startswith(TRAINER_PREFIXES) for k in values) else "explorer"


class LineParser:
    """`Step N: {...}` lines give one record each; other lines none."""

    def __init__(self) -> None:
        self.group = ""

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        line = ANSI.sub("", line)
        match = STEP_LINE.search(line)
        if not match:
            return []
        try:
            values = python_literal(match.group(2))
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            raise ValueError(f"a `Step N: {{...}}` line whose dict cannot be read ({exc})") \
                from exc
        if not isinstance(values, dict):
            raise TypeError("a `Step N:` line without a dict")
        values = {str(k): v for k, v in values.items()}
        self.group = role_of(line, values)
        return [(int(match.group(1)), values)]


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery; each record gets its role."""

    FORMAT, PARSER, WHAT = FORMAT, LineParser, "`Step N: {...}` lines"

    def read(self, final: bool = True):
        for record in super().read(final):
            record.group = self.parser.group
            yield record


source = Source.open
read = Source.run_of
