"""Keras' `model.fit` printout: `Epoch N/M`, then a progress line ending with `- name: value` items.

Keras prints each epoch as a header line and a progress bar (`keras.utils.Progbar`) that it
redraws in place (`\\r`, or backspaces in older versions) as the batches go, and completes with
the epoch's metrics, the validation ones (`val_*`) included once the epoch's evaluation ran:

    Epoch 3/10                                          (Keras 2, verbose=1)
    1875/1875 [==============================] - 5s 2ms/step - loss: 0.0734 - accuracy: 0.9778 - val_loss: 0.0331 - val_accuracy: 0.9892
    Epoch 3/30                                          (Keras 3: bold and coloured with ANSI codes)
    422/422 ━━━━━━━━━━━━━━━━━━━━ 30s 72ms/step - accuracy: 0.9778 - loss: 0.0734 - val_accuracy: 0.9892 - val_loss: 0.0331 - learning_rate: 0.0010
    1875/1875 - 3s - loss: 0.0734 - accuracy: 0.9778 - 3s/epoch - 2ms/step      (verbose=2)
     - 3s - loss: 0.0734 - acc: 0.9778 - val_loss: 0.0331 - val_acc: 0.9892     (old Keras, verbose=2)

A line's last redraw (after its last `\\r` or backspace) is what the screen showed. It is the
epoch's record when its counter is complete (`422/422`; an unfinished `33/422 ... - ETA: 1:02`
is a running mean and is skipped) and counts the batches the epoch's first bar counted (a
`model.evaluate()` after training prints a bar over the test batches: not the epoch's). A
callback that prints between the bar's end and the validation (`ModelCheckpoint(verbose=1)`:
`Epoch 3: val_accuracy improved ...`) makes Keras 3 print the complete bar twice, the second time
with the validation and the epoch's final means: the epoch's last complete line is its record,
given when the next `Epoch N/M` opens (at once: Keras prints it as the next epoch starts) or the
log ends. Given as two rows of one step, the collector read their mean (`step_rows`: parallel
readings of a step), a loss of 0.825 where the epoch's was 0.8. Lines before the first
`Epoch N/M` are not the fit's.

The steps are epochs, counted from 0 as Keras counts them in what it writes to files
(`CSVLogger`'s `epoch` column, `History.history`, the TensorBoard callback's `epoch_*` steps), so
a run's printout and its CSVLogger file give the same steps: `Epoch 1/30` is step 0. `M - 1` is
the planned last step (`phasewatch.planned`). Names are Keras' own (`loss`, `val_loss`,
`accuracy`, `val_accuracy`); values stay text, read as numbers by the collector
(`phasewatch.values`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.io.source import LogFileSource
from phasewatch.io.verl_console import ANSI

FORMAT = "keras_console"

EPOCH_LINE = re.compile(r"^\s*Epoch (\d+)/(\d+)\s*$")
# The bar's counter (`422/422`) at the start of a redraw; old Keras' verbose=2 line has none.
COUNTER = re.compile(r"^\s*(\d+)/(\d+)(?!\d)")
OLD_VERBOSE_2 = re.compile(r"^\s*-\s+\d+s\s+-\s")
ITEM = re.compile(r"\s-\s+(?P<name>[A-Za-z_][\w./]*):\s+(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)"
                  r"(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf))(?=\s|$)", re.IGNORECASE)
REDRAW = re.compile(r"[\r\x08]+")
# An `Epoch N/M` line, then within 12 lines (the first redraws; a warning) a `- name: number` item.
SNIFF = re.compile(r"(?m)^[ \t]*Epoch \d+/\d+[ \t]*\r?$(?:\n[^\n]*){0,12}?\n[^\n]*"
                   r"\s-\s+[A-Za-z_][\w./]*:\s+[-+]?(?:\d|\.\d|nan)")


def last_redraw(line: str) -> str:
    """What the screen showed of a line a progress bar redrew: the text after its last `\\r`
    or run of backspaces (an empty last part, a line ending in `\\r`, gives the one before),
    without ANSI codes."""
    parts = [part for part in REDRAW.split(ANSI.sub("", line)) if part.strip()]
    return parts[-1] if parts else ""


def sniff(path: Path, head: bytes) -> bool:
    return path.is_file() and sniff_text(head.decode("utf-8", "replace"))


def sniff_text(text: str) -> bool:
    """Whether console text held whole in memory (a notebook cell's printed output,
    `io.notebook`) is this format: `sniff` without the file."""
    return "Epoch " in text and SNIFF.search(ANSI.sub("", text)) is not None


class LineParser:
    """`Epoch N/M` opens epoch N - 1; its complete progress lines are its records."""

    step_unit = "epoch"

    def __init__(self) -> None:
        self.epoch: int | None = None
        self.planned: int | None = None
        self.shown_epochs: int | None = None  # M of the printout's `Epoch N/M`
        self.batches: int | None = None  # what the epoch's first bar counts
        self.held: tuple[int, dict[str, Any]] | None = None  # the epoch's last complete line

    @property
    def settings(self) -> dict[str, int | None]:
        """The planned last step (`M - 1`, epochs from 0) for the run's config."""
        return {"planned_steps": self.planned}

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        shown = last_redraw(line)
        header = EPOCH_LINE.match(shown)
        if header:
            self.epoch, self.batches = int(header.group(1)) - 1, None
            self.shown_epochs = int(header.group(2))
            total = self.shown_epochs - 1
            self.planned = total if total > 0 else None
            return self.flush()
        if self.epoch is None:
            return []
        counter = COUNTER.match(shown)
        if counter:
            done, of = int(counter.group(1)), int(counter.group(2))
            if self.batches is None:
                self.batches = of
            if done != of or of != self.batches:  # a running mean, or another bar
                return []
        elif not OLD_VERBOSE_2.match(shown):
            return []
        values = {m.group("name"): m.group("value") for m in ITEM.finditer(" " + shown)}
        if values:
            self.held = (self.epoch, values)
        return []

    def flush(self) -> list[tuple[int, dict[str, Any]]]:
        """The held epoch's record (its last complete line), once no later line can replace it."""
        held, self.held = self.held, None
        return [held] if held is not None else []

    @property
    def notes(self) -> list[str]:
        """How the printout's epochs map to the steps read (`epoch_count_note`)."""
        return [] if self.epoch is None else ["the epochs are " + epoch_count_note(
            f"the printout's `Epoch 1/{self.shown_epochs}` is epoch 0")]


def epoch_count_note(first: str) -> str:
    """What a Keras run's epochs counted from 0 are in Keras' own 1-based words: `first` says
    where epoch 0 is. Keras writes epochs from 0 to files (History, CSVLogger), but prints
    `Epoch 1/M` for the first and names a ModelCheckpoint file by `{epoch}` = that + 1, so a
    user told "recommended stop: epoch 8" looked up `Epoch 8/40` and loaded `model-08.h5`, the
    epoch before the one meant (nb-keras-binary-19ep: its best val_accuracy at `Epoch 9/40`)."""
    return (f"counted from 0 as Keras writes them to files (History, CSVLogger): {first}, and "
            "ModelCheckpoint's `{epoch}` in a file name is the epoch here + 1")


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = "Keras `Epoch N/M` lines, each followed by its progress bar's `- name: value` items"


source = Source.open
read = Source.run_of
