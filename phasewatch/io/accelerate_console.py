"""The console of a custom training loop that prints its evaluation as a dict: Hugging Face's
`accelerate` examples (`examples/pytorch/*/run_*_no_trainer.py`, `accelerate`'s own examples)
and the many loops copied from them.

    12/07/2023 10:16:40 - INFO - __main__ - epoch 0: {'accuracy': 0.7426, 'f1': 0.8302}
    epoch 1: {'precision': 0.91, 'recall': 0.90, 'f1': 0.905, 'accuracy': 0.98}
    step 500: {'accuracy': 0.81}

(`logger.info(f"epoch {epoch}: {eval_metric}")`, `accelerator.print(f"epoch {epoch}:",
eval_metric)`, `logger.info(f"step {completed_steps}: {eval_metric}")`, `eval_metric` being
`metric.compute()`'s dict on the evaluation split). A line is read at its epoch (the run's
steps then count epochs) or step, whichever the first line prints. The dict is read with
`ast.literal_eval` (`io.py_literal`: numpy scalars unwrapped; never evaluated). In a log of
steps, an `epoch N:` line is the evaluation after the epoch's last steps, at the step of the
line before it. A numpy array among the values (`evaluate`'s `mean_iou` gives
`per_category_iou`, printed over several lines past 75 characters) is no reading: its item
is left out, or where it runs on to the next line, the items from it on, and the scalars
before it are read (`mean_iou`, `overall_accuracy`). A dict that is still no literal (cut by
a killed writer) is a skipped line with its number.

`metric.compute()`'s keys are the bare names of an evaluation (`accuracy`, `f1`), which
HF's Trainer logs as `eval_accuracy`, `eval_f1` for the same `compute_metrics` dict: they are
read under that prefix, so they get the held-out roles and directions (`--metric` takes the
printed name too: `Run.printed_names`). A key that names its split
already (`val_loss`, `eval_loss`, `train_loss`, `test_f1`) is read as printed, and so is every
key of a dict that holds a learning rate or a gradient norm, or only losses that name no
split (a training record, as a loop prints its step's losses: `metric.compute()` returns no
loss, so a loss beside its scores is the evaluation's, `eval_loss`, and a dict of losses
alone is no evaluation's; HF's bare `loss` is the train loss); the counters (`epoch`,
`step`) and values that are no number are no readings.
The scripts' banner (HF's Trainer's words: `Num Epochs = N`, `Total optimization steps = M`)
gives the planned length: the last epoch, `N - 1` where the first epoch printed is 0 (HF's
scripts; a resumed run's first is later, after their `Resumed from checkpoint: ...`), `N` where
it is 1 in a run not resumed, or step `M`.
The line transformers logs as it loads the model (`Some weights of BertForTokenClassification
were not initialized ...`) gives the run's `architectures` (`model_task`): a token classifier's
`eval_f1`, seqeval's entity F1, is then taken before its `eval_accuracy`, which counts tokens.
`Step N: {...}` with a capital S is Trinity-RFT's line (`trinity_console`).
"""

from __future__ import annotations

import re
from typing import Any

from phasewatch.io.hf_console import BANNER_FIELDS
from phasewatch.io.lines import BadLine, line_sniffers
from phasewatch.io.model_task import printed_model_class
from phasewatch.io.py_literal import python_literal
from phasewatch.io.source import LogFileSource
from phasewatch.train_beside import SPLIT_WORDS

FORMAT = "accelerate_console"

LINE = re.compile(r"(?:^|(?<=[\s\-:|\]]))(?P<unit>[Ee]poch|step)\s+(?P<n>\d+)\s*:\s*"
                  r"(?P<dict>\{.*)$")
SNIFF = re.compile(rb"(?:^|(?<=[ \t\-:|\]]))(?:[Ee]poch|step) \d+: ?\{['\"]", re.MULTILINE)
# HF's no_trainer scripts' line before a resumed run's first epoch (`accelerator.print`), which
# may then be 1: `range(starting_epoch, num_train_epochs)` after the checkpoint `epoch_0`
RESUMED = "Resumed from checkpoint"
COUNTERS = frozenset({"epoch", "step", "global_step", "completed_steps", "iteration"})
# a numpy array's repr inside the dict: whole on the line, or running on to the next lines
ARRAY = re.compile(r"\barray\(\[[^()]*\](?:,\s*dtype=\w+)?\)")
ARRAY_ITEM_CUT = re.compile(r"""(?:,\s*)?(?:'[^']*'|"[^"]*"):\s*array\(""")
TRAINING_KEYS = frozenset({"lr", "learning_rate", "grad_norm"})  # a dict of the training's
OWN_SPLITS = SPLIT_WORDS | {"train", "training"}

sniff, sniff_text = line_sniffers(SNIFF, 2)


def _split_named(name: str) -> bool:
    """Whether `name` begins with a split's word (`val_loss`, `eval/f1`, `train_loss`)."""
    return re.split(r"[^a-z]+", name.lower(), maxsplit=1)[0] in OWN_SPLITS


def _bare_loss(name: str) -> bool:
    """Whether `name` is a loss that names no split (`loss`, `total_loss`; not `loss_val`)."""
    words = set(re.split(r"[^a-z]+", name.lower()))
    return "loss" in words and not words & OWN_SPLITS


def named_values(values: dict) -> dict[str, tuple[str, Any]]:
    """The dict's readings, printed name -> (the name it is read under, value) (module
    docstring): a bare name of an evaluation under `eval_`, a name with its split, or any name
    of a training record, as printed."""
    readings = {name: value for key, value in values.items()
                if (name := str(key)) not in COUNTERS
                and not isinstance(value, (dict, list, tuple))}
    # `evaluate`'s metrics return no loss: a dict of bare losses alone is no evaluation's
    training = bool(readings.keys() & TRAINING_KEYS) or (
        bool(readings) and all(_bare_loss(name) for name in readings))
    return {name: (name if training or _split_named(name) else f"eval_{name}", value)
            for name, value in readings.items()}


def _without_arrays(text: str) -> str:
    """The dict's text with each numpy array's repr as None, and cut before an array that runs
    on to the next line (the dict closed there): its scalars are literals."""
    text = ARRAY.sub("None", text)
    cut = ARRAY_ITEM_CUT.search(text)
    return text if cut is None else text[:cut.start()] + "}"


class LineParser:
    """A record per `epoch N: {...}` (or `step N: {...}`) line at its epoch or step; in a log
    counted in steps, an epoch's line at the step of the line before it (the evaluation after
    the epoch's last steps, as a validation line of other consoles is placed)."""

    def __init__(self) -> None:
        self.unit: str | None = None  # "epoch" or "step", by the first line
        self.last_step: int | None = None  # of the last `step N:` line, in a log of steps
        self.step_unit = "step"
        self.banner: dict[str, int] = {}  # the banner's `epochs` and `steps`
        self.first_epoch: int | None = None  # the first `epoch N:` line's N, in a log of epochs
        self.resumed = False  # `Resumed from checkpoint` said before that line
        self.printed_names: dict[str, str] = {}  # `accuracy` -> `eval_accuracy` (`Run`'s)
        self.model: str | None = None  # the model class transformers names as it loads it

    @property
    def settings(self) -> dict[str, Any]:
        """The planned last epoch or step the banner states, in the log's counter: `Num Epochs
        = N` ends at epoch N - 1 where the loop counts from 0 (HF's scripts print `epoch 0:`
        first), at N where it counts from 1. A first epoch past 1 is a resumed run
        (`range(starting_epoch, num_train_epochs)` under the same banner): counted from 0; so is
        a first epoch of 1 after HF's scripts' `Resumed from checkpoint: .../epoch_0` (read as
        counted from 1, a resumed run that reached its last epoch N - 1 would end "early")."""
        found: dict = {} if self.model is None else {"architectures": [self.model]}
        if self.unit == "epoch" and self.banner.get("epochs", 0) > 1:
            from_one = self.first_epoch == 1 and not self.resumed
            found["planned_steps"] = self.banner["epochs"] - (0 if from_one else 1)
        if self.unit == "step" and self.banner.get("steps", 0) > 0:
            found["planned_steps"] = self.banner["steps"]
        return found

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if " = " in line:
            for field in ("epochs", "steps"):
                if (stated := BANNER_FIELDS[field].search(line)) is not None:
                    self.banner[field] = int(stated[1].replace(",", ""))
        if self.first_epoch is None and RESUMED in line:
            self.resumed = True
        if self.model is None and (model := printed_model_class(line)) is not None:
            self.model = model  # a tagger's `accuracy` counts tokens (`model_task`)
        if "{" not in line or (found := LINE.search(line)) is None:
            return []
        unit = found["unit"].lower()
        if self.unit is None:
            self.unit = unit
            self.step_unit = "epoch" if unit == "epoch" else "step"
        at = int(found["n"])
        if unit != self.unit:
            if self.last_step is None:  # a step line in a log of epochs
                raise BadLine(f"the line `{unit} N: {{...}}` in a log counted in {self.unit}s "
                              f"(its first record was a `{self.unit} N:` line): it cannot be "
                              "placed")
            at = self.last_step  # the evaluation after the epoch's last steps
        elif unit == "step":
            self.last_step = at
        elif self.first_epoch is None:
            self.first_epoch = at
        try:
            values = python_literal(_without_arrays(found["dict"].rstrip()))
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            raise BadLine(f"the dict of a `{unit} N: {{...}}` line is no Python literal (cut: "
                          f"{type(exc).__name__})") from exc
        if not isinstance(values, dict):
            raise BadLine(f"the line `{unit} N:` holds no dict")
        if not (named := named_values(values)):
            raise BadLine(f"the line `{unit} N: {{...}}` holds no value")
        for printed, (name, _) in named.items():
            if name != printed and printed not in self.printed_names:
                self.printed_names[printed] = name
        return [(at, dict(named.values()))]


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = "`epoch N: {...}` or `step N: {...}` lines (a dict printed by an accelerate loop)"


source = Source.open
read = Source.run_of
