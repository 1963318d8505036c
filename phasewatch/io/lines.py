"""What every line-based reader shares: step-like keys, step parsing, the tolerant line loop.

A line-based format defines a `LineParser` with `feed(line, lineno) -> [(step, values)]`
(raising ValueError for a line that should have been a record but is not) and reads a file
with `read_lines`, so `phasewatch watch --follow` and the batch reader parse identically.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phasewatch.errors import BAD_LINE_ERRORS, InputError
from phasewatch.io.jsonlines import iter_lines, skipped_summary
from phasewatch.io.lfs import raise_if_lfs_pointer
from phasewatch.run import RecordCollector
from phasewatch.values import to_step

# A number as consoles print one, NaN and infinity included (in a regular expression, inside a
# group: `(?P<value>{NUMBER})`)
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"


class BadLine(ValueError):
    """A line that should be a record but is not; `read_lines` reports it and goes on."""


class RecordWithoutStep(BadLine):
    """A whole line that parsed, but holds no record: a JSON object with no step-like key
    among records that have one. Skipped as the others are, yet complete, so never called a
    truncated write: a script's closing line (`{"event": "done", "num_steps": 51}`,
    jsonl-opd-gsm8k-correct-51) was "skipped the last line, which is incomplete (truncated
    write?)", as if the log had been cut."""


# Names real loggers give the step counter, most specific first. Ray Tune / RLlib's
# `progress.csv` and `result.json` count `train()` calls (`training_iteration`, which Tune's own
# TensorBoard, MLflow and Aim loggers step by where a result has no `timesteps_total`).
# Reinforcement-learning loggers count environment steps: Stable-Baselines3's `progress.csv` /
# `progress.json` (`time/total_timesteps`; a fork that logs "time/total timesteps" matches it,
# `find_step_key`), OpenAI Baselines' (`total_timesteps`, ppo2's `misc/total_timesteps`,
# ppo1/trpo's `TimestepsSoFar`, ddpg's `total/steps`, its counter `t` of environment steps
# logged beside `total/epochs` in `training.py`), and scripts that copy their logger: `Timestep` /
# `timestep` (a DQN's metrics per environment step, rl-power-grid), `frame` (an Atari A2C's
# `logger.logkv("frame", frame_idx)`, atari-pytorch). `epoch` comes after every other key
# but the episode counts (Keras' CSVLogger has nothing else) and only counts when its values
# are integers; an SB3 off-policy log that dropped its timesteps still counts its episodes
# (`time/episodes`), as a table of one row per training episode does (`Episode`: sumo116's
# `{"Episode": episode + 1}`; `episode_count`: a Q-learner's evaluations every 50 episodes,
# rl-flappybird). Plurals that
# name a count within a row are no counter and are not listed: `frames` (that evaluation's
# length in frames), `total_steps` (LLaMA-Factory's planned length beside `current_steps`),
# `num_steps`, `tokens`, `samples`.
STEP_KEYS: tuple[str, ...] = (
    "step",
    "global_step",
    "train/global_step",
    "trainer/global_step",
    "current_steps",
    "iteration",
    "training_iteration",
    "iter",
    "_step",
    "Step",
    "steps",
    "time/total_timesteps",
    "total_timesteps",
    "misc/total_timesteps",
    "TimestepsSoFar",
    "total/steps",
    "timestep",
    "timesteps",
    "frame",
    "system/step",  # a home-made trainer's metrics grouped by kind (system/, actor/, reward/)
    "epoch",
    "time/episodes",
    "episode",
    "episode_count",
)


def _folded(name: str) -> str:
    """A column name compared without case and with spaces for underscores ("Total Timesteps",
    "time/total timesteps" -> "total_timesteps", "time/total_timesteps")."""
    return "_".join(name.strip().lower().split())


def find_step_key(keys) -> str | None:
    """The first of STEP_KEYS present in `keys` (as written, then `_folded`)."""
    keys = list(keys)
    present = set(keys)
    for key in STEP_KEYS:
        if key in present:
            return key
    folded: dict[str, str] = {}
    for k in keys:
        if isinstance(k, str):
            folded.setdefault(_folded(k), k)
    for key in STEP_KEYS:
        if key.lower() in folded:
            return folded[key.lower()]
    return None


def as_step(value: Any) -> int:
    """An integer step from an int, an integral float or a numeric string; else ValueError
    (also for NaN and for steps beyond `values.MAX_STEP`: see `values.to_step`)."""
    return to_step(value)


# a number printed with thousands separators (Python's `{:,}`: `8,641`, `3,385.00`), whose
# commas are no decimal point and separate no items; its first group never starts with a 0
# (`0,125` is a decimal comma's, left as it is)
THOUSANDS = re.compile(r"[-+]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?")


def without_thousands(raw: str) -> str:
    """`raw` without its thousands separators where it is such a number (`THOUSANDS`), else
    as it is."""
    return raw.replace(",", "") if THOUSANDS.fullmatch(raw) else raw


MAX_OTHER_LINES = 0.1  # share of a head's lines that may be something else (`only_lines_of`)


class UnreadItems:
    """The items of lines read whose value is no number (`loss=x0.21`, a `[...]` cut before
    its `]`: a line damaged inside), by line: the line's other items are kept, and one note
    says which were left out and where, so a damaged reading is not lost without a word."""

    SHOWN = 5

    def __init__(self, said: str) -> None:
        self.said = said  # "items of an epoch's results with no number after `=` were left out"
        self.lines: dict[int, list[str]] = {}

    def add(self, lineno: int, names: list[str]) -> None:
        if names:
            self.lines.setdefault(lineno, []).extend(names)

    @property
    def notes(self) -> list[str]:
        """The one note (`LineReport.finish` warns it), none while every item was read."""
        if not self.lines:
            return []
        lines = sorted(self.lines)
        shown = "; ".join(f"line {n}: {', '.join(self.lines[n])}" for n in lines[:self.SHOWN])
        more = (f" (and {len(lines) - self.SHOWN} more lines)"
                if len(lines) > self.SHOWN else "")
        return [f"{self.said} ({shown}){more}"]


def line_sniffers(pattern: re.Pattern[bytes], times: int
                  ) -> tuple[Callable[[Path, bytes], bool], Callable[[str], bool]]:
    """`sniff(path, head)` and `sniff_text(text)` of a console format known by a line pattern:
    the file's head (or console text held whole in memory, a notebook cell's printed output,
    `io.notebook`) holds it at least `times` times."""

    def sniff(path: Path, head: bytes) -> bool:
        return path.is_file() and len(pattern.findall(head)) >= times

    def sniff_text(text: str) -> bool:
        return len(pattern.findall(text.encode("utf-8", "replace"))) >= times

    return sniff, sniff_text


def only_lines_of(text: str, line: re.Pattern[str],
                  first_is_one: Callable[[re.Match[str]], bool]) -> bool:
    """Whether `text`, the head of a file, is a log that holds nothing but lines `line` matches
    (a logger that writes its own file: llm.c's `main.log`, build-nanogpt's `log.txt`): its
    first non-blank line is one, of a kind the logger writes (`first_is_one` of its match), and
    at most MAX_OTHER_LINES of its lines are something else. The head's last line, which may
    end inside a line, is not judged."""
    lines = [stripped for raw in text.splitlines() if (stripped := raw.strip())]
    if not text.endswith(("\n", "\r")) and len(lines) > 1:
        lines = lines[:-1]
    first = line.match(lines[0]) if lines else None
    if first is None or not first_is_one(first):
        return False
    others = sum(line.match(each) is None for each in lines)
    return others <= MAX_OTHER_LINES * len(lines)


def read_lines(path: Path, parser, collector: RecordCollector, what: str = "records") -> None:
    """Feed every non-blank line of `path` to `parser`, in file order, with its line number.

    Lines the parser rejects become one warning listing them (never a crash, never a silent
    loss); a file where no line gives a record is an InputError naming its first bad line.
    Notes the parser collected (e.g. "no step column, using the row number") become warnings.
    """
    report = LineReport()
    for lineno, text in iter_lines(path):
        report.seen(lineno)
        try:
            records = parser.feed(text, lineno)
        except BAD_LINE_ERRORS as exc:
            report.bad(lineno, str(exc), exc)
            continue
        for step, values in records:
            collector.add(step, values, lineno)
    report.finish(path, parser, collector, what)


class LineReport:
    """Counts lines and rejected lines while a file is read; `finish` turns them into
    the InputError or warnings every line-based reader gives (one wording everywhere)."""

    def __init__(self) -> None:
        self.total = 0
        self.last_lineno = 0
        self.bad_lines: list[int] = []
        self.first_error: tuple[int, str] | None = None
        self.whole_lines: set[int] = set()  # skipped, but complete (`RecordWithoutStep`)
        self.left_out_lines: set[int] = set()  # skipped, and said by the source's own warning

    def seen(self, lineno: int) -> None:
        self.total += 1
        self.last_lineno = lineno

    def bad(self, lineno: int, reason: str, exc: BaseException | None = None) -> None:
        self.bad_lines.append(lineno)
        if isinstance(exc, RecordWithoutStep):
            self.whole_lines.add(lineno)
        if self.first_error is None:
            self.first_error = (lineno, reason)

    def left_out(self, lineno: int, reason: str) -> None:
        """A line that is there but not read (a last line without its newline, which may be
        cut): counted with the skipped lines; the reader's own warning says why."""
        self.bad(lineno, reason)
        self.left_out_lines.add(lineno)

    def finish(self, path: Path, parser, collector: RecordCollector, what: str) -> None:
        if self.total == 0:
            raise InputError("the file holds no records (empty)", path)
        if collector.n_records == 0:
            raise_if_lfs_pointer(path)
            lineno, reason = self.first_error or (None, f"no {what} found")
            raise InputError(f"no valid record in the file; first problem: {reason}", path, lineno)
        for note in getattr(parser, "notes", ()):
            collector.warn(note)
        if not [n for n in self.bad_lines if n not in self.left_out_lines]:
            return
        reason = self.first_error[1] if self.first_error else ""
        if self.bad_lines == [self.last_lineno] and self.last_lineno in self.whole_lines:
            collector.warn(f"skipped the last line, a complete record with {reason}: not read "
                           "as metrics (a closing summary or end marker, not a cut write)",
                           self.last_lineno)
        elif self.bad_lines == [self.last_lineno]:
            collector.warn(
                f"skipped the last line, which is incomplete (truncated write?): {reason}",
                self.last_lineno,
            )
        else:
            collector.warn(skipped_summary(self.bad_lines, self.total, reason))
