"""Stable-Baselines3's console tables: `model.learn()` with `verbose=1` prints each dump as a box.

SB3's `HumanOutputFormat` (`stable_baselines3.common.logger`) writes every `logger.dump(step)`
as a table between two dashed lines, its keys grouped by their prefix: a section line for the
prefix, then one indented line per key (values through `:<8.3g` for floats):

    -----------------------------------------
    | rollout/                |             |
    |    ep_len_mean          | 261         |
    |    ep_rew_mean          | 1.53        |
    | time/                   |             |
    |    fps                  | 67          |
    |    total_timesteps      | 4096        |
    | train/                  |             |
    |    approx_kl            | 0.008046303 |
    -----------------------------------------

OpenAI Baselines' `HumanOutputFormat` (`baselines/logger.py`), which SB3's descends from, draws
the same box with no section lines: one `| key | value |` row per key, sorted, keys as logged
(`total_timesteps`, `misc/total_timesteps`, `TimestepsSoFar`, `steps`), floats through `%-8.3g`.
It writes it to stdout and, by default (`OPENAI_LOG_FORMAT` `stdout,log,csv`), to the log
folder's `log.txt` beside `progress.csv`; so do the many scripts that copy that logger. Such a
box is read the same way (`sniff_flat`).

A table is one record; its keys are named as SB3 names them in its CSV and TensorBoard output
(`rollout/ep_rew_mean`, `train/approx_kl`; a key without a prefix as printed), and its step is
the table's own step key (`lines.STEP_KEYS`: `time/total_timesteps`, the environment steps; an
off-policy table without it, `time/episodes`; Baselines' `total_timesteps`, `TimestepsSoFar`,
`steps`). A table without one cannot be placed and is reported. Everything else the script
prints (`Using cuda device`, evaluation lines such as `Eval num_timesteps=10000,
episode_reward=-1649.00 +/- 20.10`) is skipped. Values stay text, read as numbers by the
collector (`phasewatch.values`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.io.lines import BadLine, as_step, find_step_key
from phasewatch.io.source import LogFileSource

FORMAT = "sb3_console"

RULE = re.compile(r"^-{8,}\s*$")
ROW = re.compile(r"^\|(?P<indent> *)(?P<key>\S(?:.*?\S)?)\s*\|\s*(?P<value>.*?)\s*\|\s*$")
SNIFF = re.compile(r"(?m)^-{8,}[ \t]*\r?\n\|[ \t]*[\w.-]+/[ \t]*\|[ \t]*\|[ \t]*\r?\n"
                   r"\|[ \t]{3,}[\w./-]+[ \t]*\|[ \t]*\S")


def sniff(path: Path, head: bytes) -> bool:
    return path.is_file() and sniff_text(head.decode("utf-8", "replace"))


FLAT_BOX = re.compile(r"(?m)^-{8,}[ \t]*\r?\n((?:\|[^\n]*\|[ \t]*\r?\n){2,})-{8,}[ \t]*$")


def sniff_text(text: str) -> bool:
    """Whether console text held whole in memory (a notebook cell's printed output,
    `io.notebook`) is this format: `sniff` without the file."""
    return "|" in text and (SNIFF.search(text) is not None or sniff_flat(text))


def sniff_flat(text: str) -> bool:
    """Whether the first box of `text` is a Baselines box: between two dashed lines, two rows or
    more, each `| key | value |` with a value, one of them the dump's step (`lines.STEP_KEYS`).
    The step row is what tells a logger's dump from any other table a script prints; a box
    without one could not be placed anyway."""
    box = FLAT_BOX.search(text)
    if box is None:
        return False
    rows = [ROW.match(line.rstrip("\r")) for line in box.group(1).splitlines()]
    if any(row is None or not row.group("value") for row in rows):
        return False
    return find_step_key(row.group("key") for row in rows) is not None


class LineParser:
    """Rows fill the open table; the dashed line that closes it makes its record."""

    def __init__(self) -> None:
        self.table: dict[str, str] | None = None
        self.section = ""

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        text = line.rstrip("\r\n")
        if RULE.match(text):
            done = self.flush()
            self.table, self.section = {}, ""
            return done
        row = ROW.match(text) if self.table is not None else None
        if row is None:
            if self.table:  # a table cut by other output: read what it holds
                return self.flush()
            self.table = None
            return []
        key, value = row.group("key"), row.group("value")
        if not value and key.endswith("/"):
            self.section = key
        elif value:
            self.table[(self.section if row.group("indent") else "") + key] = value
        return []

    def flush(self) -> list[tuple[int, dict[str, Any]]]:
        """The open table as a record (none when empty); the log's end calls it too."""
        table, self.table = self.table, None
        if not table:
            return []
        key = find_step_key(table)
        if key is None:
            raise BadLine("an SB3 table without time/total_timesteps (or time/episodes; in a "
                          "Baselines table total_timesteps, TimestepsSoFar or steps)")
        step = as_step(table.pop(key))
        return [(step, table)]


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("Stable-Baselines3 `| rollout/ |` tables (or OpenAI Baselines' `| key | value |` "
            "tables) between dashed lines")


source = Source.open
read = Source.run_of
