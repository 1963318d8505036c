"""PaddlePaddle's `paddle.Model.fit` printout (its `ProgBarLogger`): Keras' layout with a `step`
word before the counter, and each epoch's evaluation in a block of its own.

    The loss value printed in the log is the current step, and the metric is the average value of previous steps.
    Epoch 3/10
    step  10/614 - loss: 0.1637 - acc: 0.5273 - 120ms/step       (verbose=2: every log_freq steps)
    step 614/614 - loss: 0.1481 - acc: 0.7418 - 118ms/step       (the epoch's end)
    save checkpoint at /home/user/save/2
    Eval begin...
    step 10/88 - loss: 0.1516 - acc: 0.7770 - 40ms/step
    step 88/88 - loss: 0.1469 - acc: 0.7697 - 39ms/step
    Eval samples: 11219
    step 938/938 [==============================] - loss: 0.1358 - acc: 0.9284 - 18ms/step
                                                                 (verbose=1, redrawn in place)

Read as Keras' printout is (`keras_console`: an epoch's record is its complete line, the steps
are epochs from 0, which is also how Paddle's ModelCheckpoint names its folders: `save_dir/0`
after `Epoch 1/M`): the train line without its `step` word, and the complete line of the
evaluation between `Eval begin...` and `Eval samples: N` under `eval/<name>`, as Paddle's VisualDL
callback tags it (`eval/acc`, `eval/loss`). Its metrics are means over the held-out set; its
`loss` is the last batch's (the banner says so, and `inspect` repeats it). One evaluation an
epoch: a `model.evaluate()` printed after the fit's last evaluation is not the epoch's. Logs
pasted from a notebook keep the four spaces Markdown indents its output by; the line patterns
allow any indentation.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.io import keras_console
from phasewatch.io.keras_console import ITEM, last_redraw
from phasewatch.io.source import LogFileSource
from phasewatch.io.verl_console import ANSI

FORMAT = "paddle_console"

# `step 614/614` (the ProgressBar's `name`, `step`, then its counter); a bar may follow
STEP_COUNTER = re.compile(r"^\s*step\s+(?=\d+/\d+(?!\d))")
EVAL_BEGIN, EVAL_END = "Eval begin...", "Eval samples:"
EVAL_PREFIX = "eval/"
# An `Epoch N/M` line, then within 12 lines (a warning's two lines and blank ones between) a
# `step N/M` line with a `- name: number` item.
SNIFF = re.compile(r"(?m)^[ \t]*Epoch \d+/\d+[ \t]*\r?$(?:\n[^\n]*){0,12}?\n(?:[^\n]*\r)?"
                   r"[ \t]*step +\d+/\d+[^\n]*?\s-\s+[A-Za-z_][\w./]*:\s+[-+]?(?:\d|\.\d|nan)")


def sniff(path: Path, head: bytes) -> bool:
    return path.is_file() and sniff_text(head.decode("utf-8", "replace"))


def sniff_text(text: str) -> bool:
    """Whether console text (a file's head, a notebook cell's output) is this format."""
    return "Epoch " in text and "step " in text and SNIFF.search(ANSI.sub("", text)) is not None


class LineParser(keras_console.LineParser):
    """Keras' parser on the train lines; the evaluation block's complete line joins the
    epoch's record under `eval/` names."""

    def __init__(self) -> None:
        super().__init__()
        self.evaluating = False
        self.evaluated = False  # the epoch's record holds its evaluation
        self.eval_loss = False  # an evaluation's `loss` was read (its note)

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        shown = last_redraw(line)
        text = shown.strip()
        if text.startswith(EVAL_BEGIN):
            self.evaluating = True
            return []
        if text.startswith(EVAL_END):
            self.evaluating = False
            return []
        counter = STEP_COUNTER.match(shown)
        if counter is None:
            records = super().feed(line, lineno)
            if keras_console.EPOCH_LINE.match(shown):
                self.evaluating = self.evaluated = False
            return records
        if not self.evaluating:
            return super().feed(shown[counter.end():], lineno)
        done, _, of = shown[counter.end():].partition(" ")[0].partition("/")
        if self.epoch is None or self.evaluated or done != of:
            return []  # a running mean, or a second evaluation of the epoch
        values = {EVAL_PREFIX + m.group("name"): m.group("value")
                  for m in ITEM.finditer(" " + shown)}
        if values:
            self.eval_loss = self.eval_loss or f"{EVAL_PREFIX}loss" in values
            held = self.held[1] if self.held is not None and self.held[0] == self.epoch else {}
            self.held, self.evaluated = (self.epoch, {**held, **values}), True
        return []

    @property
    def notes(self) -> list[str]:
        """How the epochs map to the steps read; what the evaluations' loss is."""
        if self.epoch is None:
            return []
        epochs = (f"the epochs are counted from 0 as Paddle's ModelCheckpoint names its folders: "
                  f"the printout's `Epoch 1/{self.shown_epochs}` is epoch 0 (`save_dir/0`)")
        loss = ("`eval/loss` is the loss of each evaluation's last batch (Paddle prints the "
                "current batch's loss); the other `eval/` metrics are means over the set")
        return [epochs, loss] if self.eval_loss else [epochs]


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("PaddlePaddle `Epoch N/M` lines, each followed by `step N/M - name: value` progress "
            "lines")


source = Source.open
read = Source.run_of
