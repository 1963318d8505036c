"""build-nanogpt's console output (`python train_gpt2.py > out.log`, `torchrun ... | tee`, a
Slurm job's `.out`).

karpathy/build-nanogpt's `train_gpt2.py` runs iteration `step` = 0 .. max_steps - 1 so, the
master process printing (forks of the lecture print the same):
    validation loss: 10.9512                   at the top of the iteration, every 250 steps
                                               and at the last
    HellaSwag accuracy: 2492/10042=0.2482      the same steps
    rank 0 sample 0: Hello, I'm a language model, ...     from step 250 on, every rank
    step     0 | loss: 10.955015 | lr 8.3916e-07 | norm: 15.3416 | dt: 23450.12ms | tok/sec: 22357.59
                                               after the update (before lr and norm were
                                               added in the lecture: `loss`, `dt`, `tok/sec`)
and writes the same values to `log/log.txt` (`io.build_nanogpt`) at the iteration's `step`:
`0 val 10.9512`, `0 hella 0.2482`, `0 train 10.955015`. This reader puts each value where
log.txt does, under its names (`val_loss`, `hellaswag_accuracy`, `train_loss`), so either
file gives the same run; the console adds the `lr` and `grad_norm` (`norm`) it prints (its
`dt` and `tok/sec` time the step: not read).

Where a validation goes: at its iteration's step, the step of the train line that follows it.
The loop prints a train line at every step, so once two train lines came one step apart (N-2,
N-1) a validation printed right after the second is at N, placed at once: `watch --follow`
judges it without waiting for the next train line, which comes only once HellaSwag's 10,042
examples are scored and the samples drawn (some 18 s on two H100s for GPT-2 124M; the
validation at the last step would otherwise wait for the last update). Where the console does
not tell its step, the validation is held until its train line comes (`io.loop_steps`): before
the first train lines (step 0, or a fork resumed from a checkpoint), after train lines printed
at another stride (a fork that prints every 10 steps), or when any other line came between
the train line and it (a run started again in the same console, whose loop begins again at 0
or at its checkpoint). A log that ends with an evaluation held (a run that stopped inside its
evaluation) puts it at the step after the last train line (0 before any). No line ends the
run: the console does not print `max_steps`.

A damaged line (another rank's output printed into it: `step   500 | loss: 5.18rank 1 sample
0: ...`) whose loss, lr, norm, validation loss or accuracy is no number is reported by line and
the rest read; a validation right after a damaged train line waits for its own train line. The
script ends every line it prints, so a last line without its newline was cut (a run killed
mid-write), and a value cut there still parses (`validation loss: 3.07` of `3.0717`): it is read
only where it looks whole, else left out and said (`cut_line.cut_reason`).

Sniffing: a whole train line as build-nanogpt prints it (`step N | loss: X | ... | dt: Xms |
tok/sec: X`), at a line's start or behind a logger's prefix. Forks that print through Python's
`logging` give every line its prefix (a public GPT-2 fork's `logging.basicConfig(format=
"%(asctime)s %(filename)s %(message)s")`: `2024-06-14 18:45:08,384 train.py step 0 | loss: ...`,
`... train.py validation loss: 11.0213`): its lines are read behind it, as `megatron_console`
and `accelerate_console` read theirs (`kv_console` took that fork's 1,992 train lines and lost
its 8 validations).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.io.lines import BadLine
from phasewatch.io.loop_steps import LoopSteps
from phasewatch.io.source import LogFileSource
from phasewatch.values import to_float

FORMAT = "build_nanogpt_console"

AFTER_PREFIX = r"(?<![\w-])"  # at a line's start or after a logger's prefix, not inside a word
TRAIN = re.compile(AFTER_PREFIX + r"step\s+(?P<step>\d+)\s*\|(?P<fields>\s*loss\b.*)$")
FIELD = re.compile(r"\s*(?P<name>[A-Za-z_/]+):?\s+(?P<value>.*?)\s*$")
NAMES = {"loss": "train_loss", "lr": "lr", "norm": "grad_norm"}  # as log.txt and llm.c name them
VALIDATION = "validation loss:"
HELLASWAG = "HellaSwag accuracy:"
EVALUATIONS = ((VALIDATION, re.compile(r"validation loss: (?P<value>\S+)$"), "val_loss"),
               (HELLASWAG, re.compile(r"HellaSwag accuracy: \d+/\d+=(?P<value>\S+)$"),
                "hellaswag_accuracy"))
PRINTED = re.compile(AFTER_PREFIX + r"step +\d+ \| loss: \S+ \|.* dt: \S+ms \| tok/sec: \S+\s*$",
                     re.MULTILINE)


def sniff(path: Path, head: bytes) -> bool:
    return path.is_file() and sniff_text(head.decode("utf-8", "replace"))


def sniff_text(text: str) -> bool:
    """Whether text is build-nanogpt's console output: `sniff` without the file."""
    return PRINTED.search(text) is not None


def _train(line: str) -> tuple[int, dict[str, str]] | None:
    """(step, values) of a train line; None for a line that is none; BadLine for a damaged one."""
    match = TRAIN.search(line) if "loss" in line else None
    if match is None:
        return None
    values = {}
    for field in match.group("fields").split("|"):
        item = FIELD.match(field)
        if item is not None and item.group("name") in NAMES:
            values[NAMES[item.group("name")]] = item.group("value")
    if "train_loss" not in values:
        raise BadLine(f"a train line without its loss: {line[:80]!r}")
    for name, value in values.items():
        if to_float(value) is None:
            raise BadLine(f"the {name} of step {match.group('step')}, {value[:40]!r}, is not a number")
    return int(match.group("step")), values


def _evaluation(line: str) -> dict[str, str] | None:
    """The value of a validation or HellaSwag line; None for a line that is neither; BadLine
    for a damaged one."""
    for label, pattern, name in EVALUATIONS:
        if label in line:
            match = pattern.search(line)
            if match is None or to_float(match.group("value")) is None:
                raise BadLine(f"a {name} line without its number: {line[:80]!r}")
            return {name: match.group("value")}
    return None


class LineParser:
    """Records at log.txt's steps (module docstring); every other line is console text."""

    def __init__(self) -> None:
        self.loop = LoopSteps()
        self.last: int | None = None  # the step of the last train line

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        try:
            train = _train(line)
        except BadLine:  # a train line broken by another rank: the validation after it is
            self.loop.forget()  # at the step after the broken one, which its train line says
            raise
        if train is not None:
            step, values = train
            # the next iteration's step is known where the last two train lines were one apart
            consecutive = self.last is not None and step == self.last + 1
            self.last = step
            return self.loop.train(step, values, step + 1 if consecutive else None)
        evaluation = _evaluation(line)
        if evaluation is not None:
            return self.loop.evaluation(evaluation)
        self.loop.forget()  # another line between a train line and a validation: not adjacent
        return []

    def flush(self) -> list[tuple[int, dict[str, Any]]]:
        """Evaluations of a log that ended before the train line of their iteration."""
        return self.loop.flush(0 if self.last is None else self.last + 1)


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery; a cut last line is left out
    (module docstring). No line ends the run."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = "build-nanogpt step lines (`step N | loss: X | ...`, `validation loss: X`)"
    cut_line_may_parse = True


source = Source.open
read = Source.run_of
