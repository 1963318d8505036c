"""A training log printed to a console and kept inside another file, read by its console reader.

Two files keep what a training script printed without being a console log themselves: a saved
notebook (a cell's stream outputs, `notebook_cells`) and a W&B run file (the script's stdout
and stderr, which the SDK captures into `output_raw` records, `wandb`). Both hand that text to
`read_printed`, which offers it to the console readers in the order `io.READERS` sniffs files
and reads it with the first that takes it, by that reader's own `Source` and `LineParser`: one
run, in that reader's format (`hf_console`'s dict lines at their optimizer step or epoch, as in
a console log). Line numbers count the lines of the printed text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasewatch.io.source import Record

# Console readers tried on printed text, in the order `io.READERS` sniffs files (Trinity-RFT's
# `Step N: {...}` first, the loose `step N name=value` last). JSON-lines and CSV readers are
# not tried: a notebook prints JSON and tables that are not logs.
CONSOLE_READERS = ("trinity_console", "verl_console", "torchtune", "olmo_console",
                   "hf_console", "paddle_console", "keras_console", "sb3_console", "llmc_console",
                   "build_nanogpt_console", "timm_console",
                   "metriclogger_console", "progressmeter_console", "spacy_console",
                   "boosting_console", "catboost_console", "opennmt_console", "marian_console",
                   "espnet_console",
                   "icefall_console", "speechbrain_console", "accelerate_console",
                   "detectron2_console", "kv_console")
MIN_PRINTED_RECORDS = 2  # one log row printed is an evaluation or a summary, not a curve


@dataclass
class PrintedLog:
    """The run a printed text holds: its console reader's format, records and what it says."""

    format: str
    records: list[Record]
    warnings: list[str] = field(default_factory=list)  # `line N: ...` where a line is known
    config: dict[str, Any] = field(default_factory=dict)
    step_unit: str = "step"
    finished: bool = False
    declared: tuple[str | None, str | None] = (None, None)  # (performance metric, direction)
    # the console states (`boosting_console`: the metric its library stops early on)
    printed_names: dict[str, str] = field(default_factory=dict)  # `RunInfo.printed_names`


class TextTail:
    """What `LineRecordSource` reads its lines from (`follow.LineTail`'s interface), over text
    held in memory: the lines split as a file's are (`line_split.LineSplitter`)."""

    unterminated = None  # the text is whole: its last line is not cut mid-write

    def __init__(self, text: str, path: Path) -> None:
        from phasewatch.line_split import MAX_LINE_BYTES

        self.text, self.path = text, path
        self.too_long: list[int] = []
        self.max_line = MAX_LINE_BYTES

    def read(self, final: bool = True):
        from phasewatch.line_split import LineSplitter

        splitter = LineSplitter(self.path, lambda _message: None, self.too_long, self.max_line)
        data, self.text = self.text.encode("utf-8", "replace"), ""
        yield from splitter.feed(data)
        yield from splitter.finish()

    def close(self) -> None:
        pass


class _Warnings:
    """The collector a line source's `finish` reports to."""

    def __init__(self, n_records: int) -> None:
        self.n_records = n_records
        self.warnings: list[str] = []

    def warn(self, message: str, line: int | None = None) -> None:
        self.warnings.append(f"line {line}: {message}" if line is not None else message)


def read_printed(path: Path, text: str) -> PrintedLog | None:
    """The run `text` holds, read by the first console reader whose `sniff_text` takes it;
    None when none does. InputError where that reader finds no record in it (its `finish`)."""
    if not text.strip():
        return None
    from phasewatch.io import reader_module

    for name in CONSOLE_READERS:
        module = reader_module(name)
        if module.sniff_text(text):
            break
    else:
        return None
    source = module.Source(path)
    source.tail = TextTail(text, path)
    records = list(source.read(final=True))
    collector = _Warnings(len(records))
    source.finish(collector)
    return PrintedLog(source.format, records, list(source.warnings) + collector.warnings,
                      dict(source.info.config), source.info.step_unit, source.info.finished,
                      (source.info.performance_metric, source.info.direction),
                      dict(source.info.printed_names))


_LINE_PREFIX = re.compile(r"^line (\d+): ")


def located(place: str, message: str, line: int | None = None) -> str:
    """`PLACE: message`, or `PLACE, line L: message` (also for a `line L: ` message): where in
    the file holding it a printed log's warning is (`cell 4`, `its console output`)."""
    found = _LINE_PREFIX.match(message) if line is None else None
    if found:
        line, message = int(found.group(1)), message[found.end():]
    return f"{place}, line {line}: {message}" if line is not None else f"{place}: {message}"
