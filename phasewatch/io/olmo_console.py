"""OLMo's trainer console: a `[step=N/MAX,epoch=E]` line, then one indented `name=value` line
per metric.

OLMo (allenai/OLMo, `Trainer.log_metrics_to_console`) logs every console interval as a header
line and `    train/CrossEntropyLoss=9.064` lines, values as its `format_float` writes them
(`8,641` above 1,000, whose commas are dropped here). An evaluator's metrics come under a
header of their own (its label), after the training step they were computed at, and belong to
that step. MAX is the run's planned length (`max_duration` in steps), given to the run's config
as `max_steps` (`phasewatch.planned`). A block ends at the next line that is not one of its
items; the log's last block at its end. Values stay text; the collector reads numbers from
them as from any log (`phasewatch.values`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.io.lines import without_thousands
from phasewatch.io.source import LogFileSource

FORMAT = "olmo_console"

HEADER = re.compile(r"\[step=(\d+)/(\d+),epoch=\d+\]\s*$")
ITEM = re.compile(r"^\s*([^\s=]+)=(\S+)\s*$")  # the line tail strips the indent
SNIFF = re.compile(rb"\[step=\d+/\d+,epoch=\d+\][ \t]*\r?\n {4}[^\s=]+=\S")


def sniff(path: Path, head: bytes) -> bool:
    return path.is_file() and SNIFF.search(head) is not None


def sniff_text(text: str) -> bool:
    """Whether console text held whole in memory (a notebook cell's printed output,
    `io.notebook`) is this format: `sniff` without the file."""
    return SNIFF.search(text.encode("utf-8", "replace")) is not None


class LineParser:
    """Item lines fill the block of the last step's header; any other line closes it."""

    def __init__(self) -> None:
        self.step: int | None = None
        self.planned: int | None = None
        self.block: dict[str, Any] = {}

    @property
    def settings(self) -> dict[str, int]:
        """The planned length for the run's config (`phasewatch.planned`)."""
        return {} if self.planned is None else {"max_steps": self.planned}

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        item = ITEM.match(line) if self.step is not None else None
        if item:
            name, raw = item.groups()
            self.block[name] = without_thousands(raw)
            return []
        done = self.flush()
        header = HEADER.search(line)
        if header:
            self.step, self.planned = int(header.group(1)), int(header.group(2))
        return done

    def flush(self) -> list[tuple[int, dict[str, Any]]]:
        """The open block as a record (none when empty); the log's end calls it too."""
        if not self.block or self.step is None:
            return []
        done, self.block = [(self.step, self.block)], {}
        return done


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = "`[step=N/MAX,epoch=E]` blocks of indented `name=value` lines"


source = Source.open
read = Source.run_of
