"""llm.c's console output (`train_gpt2cu ... > gpt2_train.log`, a Slurm job's stdout).

karpathy/llm.c's `train_gpt2.cu` (and `train_llama3.cu`) prints a table of its settings
(`| train data pattern | dev/data/...`), then in its loop over `step` = 0 .. train_num_batches:
    val loss 11.007921                          every val_loss_every steps and at the last
    HellaSwag: 3059/10042 = 0.304621            from the first val_loss_every on, and at the last
                                                (after `evaluating HellaSwag: i/n\\r` progress
                                                printed on the same line)
    step    1/19560 | loss 11.009662 (+nanz)| norm 15.0789 (+nanz)| lr 8.57e-07 | 4230.95 ms
        | 31.9% bf16 MFU | 123917 tok/s        after each update, `step + 1` of train_num_batches
The same values go to its `main.log` (`io.llmc`) at the loop's `step`: a validation at the top
of iteration `step` is `s:step tel:...`, the update of iteration `step`, printed as `step + 1`,
is `s:step trl:...`. This reader puts each value where `main.log` does, under its names
(`val_loss`, `hellaswag_accuracy`, `train_loss`, `grad_norm`, `lr`), so either file gives the
same run: a train line's step is its printed number less one; a validation is at the loop
step the updates before it reached (the last train line's printed number), and one printed
before any train line (step 0, or a run resumed from a checkpoint) is held until the first
train line says where the loop began (`io.loop_steps`). `/N` is the planned length (`max_steps`). The run
ends with the last evaluation at step N: its HellaSwag where it runs one (the table's `| run
hellaswag | yes |`, or a HellaSwag line read before), printed after its val loss once the
HellaSwag examples are scored, which takes minutes (1,256 batches in the GPT-2 run); else its
val loss. Its `total average iteration time: X ms`, printed after the loop, ends it too. Ended
at the val loss, a follow stopped FINISH_GRACE seconds later, before the HellaSwag accuracy,
the metric `analyze` chooses, gave its last value. In a reading of public repositories, a
GPT-2 124M run's 19,560 steps with 80 validations and 79 HellaSwag evaluations and a run whose
loss was NaN from its first step were "unknown log format", as was a run that stopped with
`[CUDA ERROR] ... out of memory` before its first step (now: "no llm.c step lines").

llm.c ends every line it prints (`\\r` ends a HellaSwag progress line), so a last line without
its newline was cut (a job killed mid-write), and a value cut there still parses (`val loss
3.07` of `3.0717`): it is read only where it looks whole, else left out and said
(`cut_line.cut_reason`); a follow waits for the line's end.

Sniffing: a whole train line as llm.c prints it (`step K/N | loss X (Zz)| norm X (Zz)| lr X |
... tok/s`: a script's own `step 10/100 | loss 2.3 | norm 1.2` stays `kv_console`'s), or the
settings table's first rows (`| train data pattern | ...`, `| val data pattern | ...`), which only
llm.c prints.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.io.loop_steps import LoopSteps
from phasewatch.io.source import LogFileSource
from phasewatch.values import to_float

FORMAT = "llmc_console"

STEP_LINE = re.compile(r"step\s+(?P<step>\d+)/(?P<total>\d+)\s*\|(?P<fields>.*)$")
FIELD = re.compile(r"\s*(?P<name>loss|norm|lr)\s+(?P<value>\S+)")
NAMES = {"loss": "train_loss", "norm": "grad_norm", "lr": "lr"}  # as `io.llmc` names them
VAL_LINE = re.compile(r"val loss (?P<value>\S+)\s*$")
HELLASWAG = re.compile(r"HellaSwag: \d+/\d+ = (?P<value>\S+)\s*$")
TABLE = re.compile(r"^\| train data pattern +\| .*\|\s*\n\| val data pattern +\| ", re.MULTILINE)
RUNS_HELLASWAG = re.compile(r"^\| run hellaswag +\| (?P<answer>yes|no) +\|")
LOOP_OVER = "total average iteration time:"  # printed once the training loop has ended
# the train line as llm.c prints it, z-scores and throughput included: what sniffing asks for,
# so a script's own `step 10/100 | loss 2.3 | norm 1.2 | lr 3e-4` stays `kv_console`'s
LLMC_TRAIN = re.compile(r"step\s+\d+/\d+ \| loss +\S+ \([-+]\S*z\)\| "
                        r"norm +\S+ \([-+]\S*z\)\| lr \S+ \|.* tok/s\s*$")


def sniff(path: Path, head: bytes) -> bool:
    return path.is_file() and sniff_text(head.decode("utf-8", "replace"))


def sniff_text(text: str) -> bool:
    """Whether text is llm.c's console output: `sniff` without the file."""
    if TABLE.search(text):
        return True
    return any(LLMC_TRAIN.match(line) for line in text.splitlines() if line.startswith("step"))


def _train_values(line: str) -> tuple[int, int, dict[str, str]] | None:
    """(printed step, planned steps, values) of a whole train line, else None."""
    match = STEP_LINE.match(line.strip())
    if match is None:
        return None
    values = {}
    for field in match.group("fields").split("|"):
        item = FIELD.match(field)
        if item is not None:
            values[NAMES[item.group("name")]] = item.group("value")
    if set(values) != set(NAMES.values()):
        return None
    return int(match.group("step")), int(match.group("total")), values


class LineParser:
    """Records at `main.log`'s steps (module docstring); every other line is console text."""

    def __init__(self) -> None:
        # the loop step the updates so far reached (`current`), known from the first train line
        self.loop = LoopSteps()
        self.planned: int | None = None
        self.hellaswag: bool | None = None  # the run scores HellaSwag (its table's row)
        self.finished = False

    @property
    def settings(self) -> dict[str, int]:
        """The planned length (`/N`) for the run's config (`phasewatch.planned`)."""
        return {} if self.planned is None else {"max_steps": self.planned}

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        train = _train_values(line) if line.startswith("step") else None
        if train is not None:
            printed, self.planned, values = train
            return self.loop.train(printed - 1, values, next_step=printed)
        evaluation = self._evaluation(line)
        if evaluation is None:
            self._read_end(line)
            return []
        if "hellaswag_accuracy" in evaluation and self.hellaswag is None:
            self.hellaswag = True
        last = "hellaswag_accuracy" if self.hellaswag else "val_loss"
        self.finished |= (self.loop.current is not None and self.loop.current == self.planned
                          and last in evaluation)
        return self.loop.evaluation(evaluation)

    def _read_end(self, line: str) -> None:
        """A line that is no record: the table's HellaSwag row, or the end of the loop."""
        if line.startswith("| run hellaswag"):
            if (row := RUNS_HELLASWAG.match(line)) is not None:
                self.hellaswag = row.group("answer") == "yes"
        elif line.startswith(LOOP_OVER):
            self.finished = True

    @staticmethod
    def _evaluation(line: str) -> dict[str, Any] | None:
        for pattern, name in ((VAL_LINE, "val_loss"), (HELLASWAG, "hellaswag_accuracy")):
            match = pattern.search(line) if "HellaSwag" in line or line.startswith("val") else None
            if match is not None and to_float(match.group("value")) is not None:
                return {name: match.group("value")}
        return None

    def flush(self) -> list[tuple[int, dict[str, Any]]]:
        """Evaluations of a log that ended before its first train line: at step 0."""
        return self.loop.flush(0)


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery; the last evaluation at the
    planned last step, or the end of the loop, ends the run; a cut last line is left out
    (module docstring)."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = "llm.c step lines (`step K/N | loss X (Zz)| norm X (Zz)| lr X | ...`, `val loss X`)"
    cut_line_may_parse = True

    def end_marker(self, text: str, values: dict[str, Any] | None) -> bool:
        return self.parser.finished


source = Source.open
read = Source.run_of
