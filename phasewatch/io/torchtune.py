"""torchtune's metric log: `Step N | name:value name:value ...` lines.

torchtune's recipes log through `metric_logger.log_dict(payload, step=...)`; its `DiskLogger`
writes each call to `log_<unix time>.txt` as `Step {step} | ` followed by `{name}:{data} ` per
item (`log` writes one `Step {step} | {name}:{data}`), and its `StdoutLogger` prints the same
lines among the recipe's other output, which are skipped. `data` is whatever the recipe passed,
through str(): a number, or a tensor's `tensor(1.2345)` / `tensor(1.2345, device='cuda:0')`,
read for its number. Values stay text here; the collector reads numbers from them as from any
log (`phasewatch.values`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.io.lines import BadLine
from phasewatch.io.source import LogFileSource

FORMAT = "torchtune"

STEP_LINE = re.compile(r"(?:^|\s)Step (\d+) \|(?: (.*))?$")
SNIFF_LINE = re.compile(rb"(?m)(?:^|\s)Step \d+ \| [^\s:]+:\S")
ITEM = re.compile(r"([^\s:]+):(tensor\([^)]*\)|\S+)")
TENSOR = re.compile(r"tensor\(\s*([^,)\s]+)")


def sniff(path: Path, head: bytes) -> bool:
    return path.is_file() and SNIFF_LINE.search(head) is not None


def sniff_text(text: str) -> bool:
    """Whether console text held whole in memory (a notebook cell's printed output,
    `io.notebook`) is this format: `sniff` without the file."""
    return SNIFF_LINE.search(text.encode("utf-8", "replace")) is not None


class LineParser:
    """A `Step N | ...` line gives one record; other lines none."""

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        match = STEP_LINE.search(line.rstrip("\r\n"))
        if not match:
            return []
        values: dict[str, Any] = {}
        for name, raw in ITEM.findall(match.group(2) or ""):
            tensor = TENSOR.match(raw)
            values[name] = tensor.group(1) if tensor else raw
        if not values:
            raise BadLine("a `Step N |` line without name:value items")
        return [(int(match.group(1)), values)]


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER, WHAT = FORMAT, LineParser, "`Step N | name:value` lines"


source = Source.open
read = Source.run_of
