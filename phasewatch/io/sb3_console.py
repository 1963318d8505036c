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
`steps`). A table without one cannot be placed and is reported. Where every table's step is
`epoch` (Baselines' HER prints one table per epoch, `| epoch | 9 |`, beside `test/episode` and
`train/episode` counts), the run's steps are epochs and it says so (`Run.step_unit`), as a CSV
or JSON-lines log stepped by `epoch` does: "recommended stop: epoch 9", not "step 9", which read
as the ninth update of a run of 50 cycles of 40 batches per epoch. Everything else the script
prints (`Using cuda device`) is skipped. Values stay text, read as numbers by the collector
(`phasewatch.values`).

SB3's `EvalCallback` (verbose) prints its result just before the table it dumps at the same
step: `Eval num_timesteps=N, episode_reward=115.83 +/- 0.00`, `Episode length: 160.00 +/- 0.00`
(and `Success rate: 85.00%`), each `:.2f`, and the table then shows the same numbers through
`:<8.3g`, `116`. Three significant digits can tie evaluations the lines tell apart (115.83,
116.26, 116.10 all print `116`: the best checkpoint becomes the first), so the table's
`eval/mean_reward`, `eval/mean_ep_length` and `eval/success_rate` at step N take the lines'
value where it is the finer of the two and agrees with the table's within its rounding
(`finer_value`); otherwise the table's stands (`0.0123` is finer than `0.01`).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from phasewatch.io.lines import BadLine, as_step, find_step_key
from phasewatch.io.source import LogFileSource
from phasewatch.xaxis import StepKeys

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


EVAL_LINE = re.compile(r"Eval num_timesteps=(?P<step>\d+), episode_reward=(?P<value>\S+) \+/- ")
EVAL_ROWS = {"episode_reward": "eval/mean_reward",  # what EvalCallback prints -> what it records
             "Episode length": "eval/mean_ep_length", "Success rate": "eval/success_rate"}
EVAL_MORE = re.compile(r"^(?P<name>Episode length|Success rate): (?P<value>[-+.\deE]+)(?P<pct>%?)")


def finer_value(printed: str, table: str) -> str:
    """The finer of two printings of one number: `printed` (an EvalCallback line's) where its
    last digit is finer than the table's and it rounds to the table's value; else `table`."""
    try:
        fine, coarse = Decimal(printed), Decimal(table)
    except InvalidOperation:
        return table
    if not (fine.is_finite() and coarse.is_finite()):
        return table
    step = Decimal(1).scaleb(coarse.as_tuple().exponent)
    finer = fine.as_tuple().exponent < coarse.as_tuple().exponent
    return printed if finer and abs(fine - coarse) <= step / 2 else table


class LineParser:
    """Rows fill the open table; the dashed line that closes it makes its record."""

    def __init__(self) -> None:
        self.table: dict[str, str] | None = None
        self.section = ""
        self.evaluated: tuple[int, dict[str, str]] | None = None  # EvalCallback's lines
        self.step_keys = StepKeys()  # the keys the tables' steps came from: epochs for HER's

    @property
    def step_unit(self) -> str:
        """What the tables' steps count: "epoch" where every one came from `epoch` (HER)."""
        return self.step_keys.unit

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        text = line.rstrip("\r\n")
        if RULE.match(text):
            done = self.flush()
            self.table, self.section = {}, ""
            return done
        row = ROW.match(text) if self.table is not None else None
        if row is None:
            done = self.flush() if self.table else []  # a table cut by other output: its rows
            self.table = None
            self.note_evaluation(text)
            return done
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
        evaluated, self.evaluated = self.evaluated, None
        if key is None:
            raise BadLine("an SB3 table without time/total_timesteps (or time/episodes; in a "
                          "Baselines table total_timesteps, TimestepsSoFar or steps)")
        step = as_step(table.pop(key))
        self.step_keys.add(key)
        if evaluated is not None and evaluated[0] == step:
            for name, printed in evaluated[1].items():
                if name in table:
                    table[name] = finer_value(printed, table[name])
        return [(step, table)]

    def note_evaluation(self, text: str) -> None:
        """Keep an EvalCallback line's value for the table dumped next at its step."""
        if (match := EVAL_LINE.search(text)) is not None:
            self.evaluated = (int(match["step"]), {EVAL_ROWS["episode_reward"]: match["value"]})
        elif self.evaluated is not None and (match := EVAL_MORE.match(text.strip())):
            value = match["value"]
            if match["pct"]:
                try:
                    value = str(Decimal(value).scaleb(-2))
                except InvalidOperation:
                    return
            self.evaluated[1][EVAL_ROWS[match["name"]]] = value


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("Stable-Baselines3 `| rollout/ |` tables (or OpenAI Baselines' `| key | value |` "
            "tables) between dashed lines")


source = Source.open
read = Source.run_of
