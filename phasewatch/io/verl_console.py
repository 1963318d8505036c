"""verl console logs: `step:N - key:value - key:value ...` lines in whatever else was printed.

verl's console logger prints one line per step (`concat_dict_to_str`); values are `f"{v:.3f}"`
in old versions and `pprint.pformat(v)` in newer ones, which with numpy 2 reads
`np.float64(0.25)`. Ray prefixes each line with `(TaskRunner pid=N)` (or `(main_task pid=N)`,
`(WorkerDict pid=N, ip=...)`) and colours it with ANSI codes. Config dumps, sample
generations, warnings and tqdm bars are interleaved: those lines are not records and are
skipped silently; a step line with an unreadable item keeps its other items and is reported.

The validations verl pprints as dicts before the first update and after the last
(`Initial` / `Final validation metrics: {...}`) are read where no step line logs them, and an
older version's `test_score/<source>` under the `val/test_score/<source>` its step lines log:
`verl_validation`.
"""

from __future__ import annotations

import re
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from phasewatch.io.source import LogFileSource
from phasewatch.io.verl_names import unscale, unscale_row
from phasewatch.io.verl_validation import END_LINE, ValidationDicts, validation_name
from phasewatch.records_sparse import Row
from phasewatch.values import MAX_NUMBER_TEXT, to_float, to_step

FORMAT = "verl_console"

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
RAY_PREFIX = re.compile(r"^\s*\((?:[\w.-]+) pid=\d+(?:, ip=[^)]*)?\)\s*")
# `step:12 - a:1 - ...` (verl) and `step 12: - a:1` (some forks); the step starts the line.
STEP_LINE = re.compile(r"^step(?::\s*| )(\d+):?\s+-\s+(.*)$")
WRAPPED_NUMBER = re.compile(r"^(?:np\.|numpy\.)?\w*\((.*)\)$")
WIDE = 256  # a step line of more items than this is parsed into columns (`LineParser._wide`)
# verl's trainer prints its planned length before the first step (`RayPPOTrainer`); older
# versions print only the batches an epoch takes, beside the config's epochs (its pprinted
# dump, or the command line's override)
PLAN_LINES = {
    "total": re.compile(r"^Total training steps:\s*(\d+)\s*$"),
    "set": re.compile(r"'total_training_steps':\s*(\d+)"),  # a user's own setting
    "epochs": re.compile(r"(?:'total_epochs':\s*|\btrainer\.total_epochs=)(\d+)"),
    "batches": re.compile(r"^Size of train dataloader:\s*(\d+)\s*$"),
}
# where verl writes the steps it counts itself (`phasewatch.planned.PLANNED_STEP_KEYS`)
COUNTED_KEY = "actor_rollout_ref.actor.optim.total_training_steps"
PLAN_WORDS = ("Total training steps", "total_training_steps", "total_epochs",
              "Size of train dataloader")


def clean(line: str) -> str:
    """The line without ANSI colour codes and the Ray `(actor pid=N)` prefix."""
    return RAY_PREFIX.sub("", ANSI.sub("", line), count=1).strip()


SNIFF_MORE_BYTES = 8 * 1024 * 1024
# Where a step line may start further on: found by a byte search (milliseconds for 8 MB),
# each hit then read as a line. A text file that reaches this reader is searched so.
STEP_LINE_BYTES = re.compile(rb"step(?::\s*| )\d+:?\s+-\s+[^\s:]+:")
MAX_HITS_CHECKED = 20


def sniff_text(text: str) -> bool:
    """Whether console text held whole in memory (a notebook cell's printed output,
    `io.notebook`) is this format: `sniff` without the file."""
    return _has_step_line(text)


def _has_step_line(text: str) -> bool:
    return any(STEP_LINE.match(clean(line)) for line in text.splitlines())


def sniff(path: Path, head: bytes) -> bool:
    """A step line in the head, or within `SNIFF_MORE_BYTES`: a run can print more than the
    head before its first step (the config dump, a validation's sample generations: 2 MB in a
    Logic-RL `output.log` that W&B captured without Ray's `(main_task pid=N)` prefix)."""
    if not path.is_file():
        return False
    if sniff_text(head.decode("utf-8", errors="replace")):
        return True
    if path.stat().st_size <= len(head):
        return False
    with open(path, "rb") as fh:
        more = fh.read(SNIFF_MORE_BYTES)
    for hit in islice(STEP_LINE_BYTES.finditer(more), MAX_HITS_CHECKED):
        start = more.rfind(b"\n", 0, hit.start()) + 1
        end = more.find(b"\n", hit.end())
        line = more[start:end if end >= 0 else len(more)]
        if _has_step_line(line.decode("utf-8", errors="replace")):
            return True
    return False


def parse_value(text: str) -> float:
    """'0.123', 'nan', 'np.float64(0.5)', 'tensor(0.5)' -> float; else ValueError."""
    text = text.strip()
    wrapped = WRAPPED_NUMBER.match(text)
    if wrapped:
        text = wrapped.group(1).split(",")[0].strip()
    value = to_float(text)
    if value is None:
        raise ValueError(f"not a number: {text[:40]!r}")
    return value


def _plain_number(item: str, cut: int) -> float:
    """The value of a `key:value` item whose value is a plain number, as `to_float` reads it
    (no `_`, at most `MAX_NUMBER_TEXT` characters); ValueError for anything else."""
    text = item[cut + 1:]
    if "_" in text or len(text) > MAX_NUMBER_TEXT:
        raise ValueError(text)
    return float(text)


class LineParser:
    """Step lines give one record; any other line gives none (it is not a record)."""

    def __init__(self) -> None:
        self._bad_items: list[tuple[int, str]] = []
        self._plan: dict[str, int] = {}  # what the head says of the planned length
        self._validations = ValidationDicts(parse_value)

    @property
    def settings(self) -> dict[str, int]:
        """The planned length for the run's config (`phasewatch.planned`): as printed or
        set, else the batches an epoch takes x the epochs, under the key verl writes that
        count to, so `watch` says where it came from (neither line it names is in such a log)."""
        plan = self._plan
        steps = plan.get("total") or plan.get("set")
        if steps:
            return {"trainer.total_training_steps": steps}
        if "epochs" in plan and "batches" in plan:
            return {COUNTED_KEY: plan["epochs"] * plan["batches"]}
        return {}

    @property
    def notes(self) -> list[str]:
        """One warning listing the key:value items that could not be read, if any."""
        if not self._bad_items:
            return []
        shown = ", ".join(f"line {n}: {text.strip()[:40]!r}" for n, text in self._bad_items[:5])
        more = f" and {len(self._bad_items) - 5} more" if len(self._bad_items) > 5 else ""
        count = len(self._bad_items)
        return [f"skipped {count} unreadable key:value items in step lines ({shown}{more})"]

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        text = clean(line)
        match = STEP_LINE.match(text)
        if not match:
            if any(word in text for word in PLAN_WORDS):
                for what, pattern in PLAN_LINES.items():
                    found = pattern.search(text)
                    if found:
                        self._plan[what] = int(found.group(1))
            return self._validations.feed(text)
        step = to_step(match.group(1))
        items = match.group(2).split(" - ")
        if len(items) > WIDE:
            return self._validations.at_step((step, self._wide(items, lineno)))
        values: dict[str, Any] = {}
        for item in items:
            key, sep, raw = item.rpartition(":")
            try:
                if not sep or not key.strip():
                    raise ValueError(item)
                values[validation_name(key.strip())] = parse_value(raw)
            except ValueError:
                self._bad_items.append((lineno, item))
        # `train/lr(1e-3)` -> `train/lr`
        return self._validations.at_step((step, unscale(values)))

    def _wide(self, items: list[str], lineno: int) -> Row:
        """A line of many items parsed into two columns (names, float64 values): a line of
        5M items as a dict of Python floats, copied by each later stage, took minutes and GBs.
        Plain numbers go straight into a float64 array (`_plain_number`: what `to_float` does
        for them); a line with anything else takes the item-by-item path."""
        cuts = [item.rfind(":") for item in items]
        names = [item[:cut].strip() for item, cut in zip(items, cuts)]
        values = None
        if -1 not in cuts and "" not in names:
            try:
                values = np.fromiter(map(_plain_number, items, cuts), dtype=np.float64, count=len(items))
            except ValueError:  # wrapped numbers (np.float64(0.5)), text: item by item
                pass
        if values is None:
            kept_names, kept = [], []
            for item, name, cut in zip(items, names, cuts):
                try:
                    if not name or cut < 0:
                        raise ValueError(item)
                    kept.append(parse_value(item[cut + 1:]))
                    kept_names.append(name)
                except ValueError:
                    self._bad_items.append((lineno, item))
            names, values = kept_names, np.array(kept, dtype=np.float64)
        return unscale_row(names, values)




class Source(LogFileSource):
    cut_line_may_parse = True  # 'step:9 - acc:0.' (cut from 0.512) still parses

    FORMAT, PARSER, WHAT = FORMAT, LineParser, "`step:N - key:value` lines"

    def end_marker(self, text, values) -> bool:
        return END_LINE in text


source = Source.open
read = Source.run_of
