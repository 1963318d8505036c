"""modded-nanogpt's record logs (`logs/<run id>.txt`, kept as `records/*/<run id>.txt`).

KellerJordan/modded-nanogpt's `train_gpt.py` (the NanoGPT speedrun, and the forks that keep its
logging) starts its log with its own source code and `nvidia-smi`'s output, then prints one
line per step:
    step:0/5100 val_loss:10.8258 train_time:0ms step_avg:nanms
    step:1/5100 train_time:40ms step_avg:nanms          (2024 versions: `train_loss:10.82` too)
    step:125/5100 val_loss:4.3721 train_time:15012ms step_avg:120.10ms
Only whole lines of that shape are records: the source code at the top holds the same text in
f-strings (`print0(f"step:{step}/{train_steps} val_loss:...`), which is not a record. `/5100` is
the planned length, given to the run's config as `max_steps` (`phasewatch.planned`); the
evaluation at that step (`step:5100/5100 val_loss:...`) is the run's last line of metrics,
so it says the run finished. Names are the log's own (`val_loss` is the held-out loss,
`train_loss` the train loss); a value with a unit (`train_time:40ms`, `train_time:1134.6s` in
track 3's logs, `step_avg:nanms` before any step was timed) is read as its number under the
name with the unit (`train_time_ms`, `train_time_s`, `step_avg_ms`), so runs logged in
seconds and in milliseconds are never drawn on one axis. Other numbers a version adds
(`val_ema_loss:3.27`, `ema_beta:0.99`) are read under their names; a value that is no number
(`handoff:none`) is left out, with a note naming it. A line that starts `step:N/M` but is
not whole (`step:12/5100 val_loss:`) is reported as a bad line.

Sniffing: a whole step line with the timings every version writes (`train_time`, `step_avg`:
a home-made `step:10/100 val_loss:0.5` print stays `kv_console`'s); or, before the first
step (the model compiles for minutes), the line of 100 `=` the script prints after its source,
when that source holds the step line's f-string. The source can fill the first 64 KiB, so up to
`SNIFF_MORE_BYTES` are searched when the head mentions a step.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.io.lines import BadLine
from phasewatch.io.source import LogFileSource

FORMAT = "modded_nanogpt"

LINE = re.compile(r"step:(?P<step>\d+)/(?P<total>\d+)(?P<items>(?:[ \t]+[A-Za-z_]\w*:\S+)+)\s*$")
STARTS_LIKE_A_RECORD = re.compile(r"step:\d")
ITEM = re.compile(r"([A-Za-z_]\w*):(\S+)")
VALUE = re.compile(r"(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|[-+]?inf)"
                   r"(?P<unit>ms|s)?", re.IGNORECASE)
TIMINGS = {"train_time", "step_avg"}  # on every step line of every version
SOURCE_PRINT = "step:{step}/{"  # the step line's f-string in the script's source at the top
RULE = re.compile(r"^={100}[ \t]*\r?$", re.MULTILINE)  # print0("=" * 100) after the source
SNIFF_MORE_BYTES = 1 << 20  # the source printed at the top: 190 KB in the longest record


def sniff(path: Path, head: bytes) -> bool:
    if not path.is_file():
        return False
    text = head.decode("utf-8", "replace")
    if sniff_text(text):
        return True
    if "step" not in text or path.stat().st_size <= len(head):
        return False
    with open(path, "rb") as fh:
        more = fh.read(SNIFF_MORE_BYTES)
    return sniff_text(more.decode("utf-8", "replace"))


def sniff_text(text: str) -> bool:
    """Whether text is a modded-nanogpt log: `sniff` without the file."""
    for line in text.splitlines():
        if line.startswith("step:") and (match := LINE.match(line.strip())) is not None \
                and TIMINGS <= {name for name, _ in ITEM.findall(match.group("items"))}:
            return True
    rule = RULE.search(text)
    return rule is not None and SOURCE_PRINT in text[:rule.start()]


class LineParser:
    """A `step:N/M name:value ...` line gives one record; the source code, `nvidia-smi`'s
    table and other prints give none."""

    def __init__(self) -> None:
        self.planned: int | None = None
        self.notes: list[str] = []
        self._text_names: list[str] = []

    @property
    def settings(self) -> dict[str, int]:
        """The planned length (`/TOTAL`) for the run's config (`phasewatch.planned`)."""
        return {} if self.planned is None else {"max_steps": self.planned}

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if not STARTS_LIKE_A_RECORD.match(line):
            return []
        match = LINE.match(line)
        if match is None:
            raise BadLine(f"not a whole modded-nanogpt step line (`step:N/TOTAL name:value ...`): "
                          f"{line[:80]!r}")
        values: dict[str, Any] = {}
        for name, text in ITEM.findall(match.group("items")):
            value = VALUE.fullmatch(text)
            if value is None:
                self._left_out(name)
                continue
            unit = value.group("unit")
            values[f"{name}_{unit.lower()}" if unit else name] = value.group("number")
        self.planned = int(match.group("total"))
        return [(int(match.group("step")), values)]

    def _left_out(self, name: str) -> None:
        if name in self._text_names:
            return
        self._text_names.append(name)
        note = (f"values that are no number are left out ({', '.join(self._text_names)}: "
                "a label, not a metric)")
        self.notes[:] = [n for n in self.notes if not n.startswith("values that are no number")]
        self.notes.append(note)


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery; the evaluation at the planned
    last step ends the run."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = "modded-nanogpt step lines (`step:N/TOTAL val_loss:X train_time:Tms ...`)"

    def end_marker(self, text: str, values: dict[str, Any] | None) -> bool:
        match = LINE.match(text) if values and "val_loss" in values else None
        return match is not None and match.group("step") == match.group("total")


source = Source.open
read = Source.run_of
