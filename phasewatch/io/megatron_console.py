"""Megatron-LM's console (and Megatron-DeepSpeed's, NeMo's Megatron scripts', MindSpeed's):
`training_log` prints every `--log-interval` iterations

    iteration      100/    1000 | consumed samples:         6400 | elapsed time per iteration
    (ms): 3385.1 | learning rate: 1.250E-07 | global batch size:    64 | lm loss: 4.118370E-01 |
    loss scale: 1.0 | grad norm: 0.507 | number of skipped iterations:   0 | number of nan
    iterations:   0 |

(one line), and `evaluate_and_print_results` every `--eval-interval` iterations

     validation loss at iteration 100 | lm loss value: 2.724416E+00 | lm loss PPL: 1.524E+01 |

(newer versions: `validation loss at iteration 100 on validation set |`, and `on test set` after
training). kv_console read no record from the training lines (`elapsed time per iteration (ms)`
is no `name: value` field of its rules), so such a log was an unknown format; and a validation
line would have read `lm loss value` beside the training `lm loss` at the same step, no held-out
name. Here the step is the iteration, its `/N` the planned length; a training line's items keep
their printed names (`lm loss`, `learning rate`, `grad norm`, a model's other losses) but its
counters and timings (`consumed samples`, `elapsed time per iteration (ms)`, `global batch size`,
`number of skipped iterations`, throughput...) are left out; a validation's `K value` and `K
PPL` are named as Megatron's TensorBoard writer names them, `K validation` and `K validation
ppl` (`K test`, `K test ppl` for the test set). The validation at the end of training, printed
`at the end of training for val data` with no iteration, repeats the last one and is not read.
"""

from __future__ import annotations

import re
from typing import Any

from phasewatch.io.lines import line_sniffers
from phasewatch.io.source import LogFileSource

FORMAT = "megatron_console"

TRAINING = re.compile(r"(?<![\w-])iteration\s+(?P<n>\d+)\s*/\s*(?P<total>\d+)\s*\|(?P<items>.*)$")
EVALUATION = re.compile(r"(?<![\w-])(?P<split>validation|test) loss at iteration\s+(?P<n>\d+)"
                        r"(?:\s+on (?P<set>validation|test) set)?\s*\|(?P<items>.*)$")
FIELD = re.compile(r"^(?P<name>[A-Za-z_][\w ./()-]*?)\s*:\s*(?P<value>\S+)$")
SNIFF = re.compile(rb"iteration\s+\d+\s*/\s*\d+\s*\|\s*consumed samples:")
MIN_SNIFF_LINES = 2
# counters, sizes and timings of the job, no measure of the model
NOT_MEASURED = re.compile(r"^(?:consumed |global batch size$|number of |elapsed time|throughput|"
                          r"tokens per |samples per second|tflops|num zeros$|.*mem.*usage|"
                          r".*(?:TFLOP|tokens)/s)", re.IGNORECASE)
VALUE_SUFFIX = {" value": "", " PPL": " ppl"}


sniff, sniff_text = line_sniffers(SNIFF, MIN_SNIFF_LINES)


def _fields(items: str) -> dict[str, str]:
    """The `name: value` fields between `|`; a field of anything else is skipped."""
    out = {}
    for field in items.split("|"):
        if (found := FIELD.match(field.strip())) is not None:
            out[found.group("name")] = found.group("value")
    return out


class LineParser:
    """One record per training or evaluation line, at its iteration."""

    def __init__(self) -> None:
        self.planned: int | None = None

    @property
    def settings(self) -> dict[str, int | None]:
        """The planned length (`iteration N/ TOTAL`) for the run's config."""
        return {"max_steps": self.planned}

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if "iteration" not in line:
            return []
        if (found := EVALUATION.search(line)) is not None:
            split = found.group("set") or found.group("split")
            values = {}
            for name, value in _fields(found.group("items")).items():
                for suffix, named in VALUE_SUFFIX.items():
                    if name.endswith(suffix):
                        values[f"{name[:-len(suffix)]} {split}{named}"] = value
            return [(int(found.group("n")), values)] if values else []
        if (found := TRAINING.search(line)) is None:
            return []
        self.planned = int(found.group("total"))
        values = {name: value for name, value in _fields(found.group("items")).items()
                  if not NOT_MEASURED.match(name)}
        return [(int(found.group("n")), values)] if values else []


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("Megatron's `iteration N/ M | consumed samples: ... | lm loss: ...` lines and its "
            "`validation loss at iteration N | lm loss value: ...` lines")


source = Source.open
read = Source.run_of
