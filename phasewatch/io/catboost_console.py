"""The lines CatBoost prints while it adds trees (`verbose=N`, `metric_period`):

    0:\tlearn: 0.6812345\ttest: 0.6823456\tbest: 0.6823456 (0)\ttotal: 58.2ms\tremaining: 58.1s
    100:\tlearn: 0.3011234\ttest: 0.3321456\tbest: 0.3310111 (93)\ttotal: 5.9s\tremaining: 52s

the iteration (0-based), the evaluation metric on the training data (`learn`; absent where it is
not computed, an AUC on GPU) and on each evaluation set (`test`, then `test1`, ...), the best
value of the last evaluation set so far with its iteration (CatBoost prints `best` after the
last set only: its best model and early stopping follow that set, and `eval_set=[(X_train,
y_train), (X_valid, y_valid)]` puts the training data first), and the times. Read at the
iteration: `learn`, `test`, `test1`... as printed (the times and the best so far are no
readings). The console never names the metric (`eval_metric`: the loss by default, or an
`AUC`, an `Accuracy`, an `R2`), so its direction is read off the `best` column: a best lower
than the last set's value beside it is a minimum, higher a maximum; where the best is each
time that value itself, its own moves say it (every one a new best). The last set (`test`
with one) is the run's performance metric once its direction is known (CatBoost stops early
on it); with no evaluation set, `learn`, in the direction it moved (boosting improves its
training metric). `bestTest = X`, `bestIteration = N` (to the config, `best_iteration`) and
`Shrink model to first N iterations.` close the run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from phasewatch.io.lines import NUMBER, BadLine, line_sniffers
from phasewatch.io.source import LogFileSource

FORMAT = "catboost_console"

LINE = re.compile(r"^(?P<iteration>\d+):\t(?P<items>(?:learn|test\d*): .*\S)\s*$")
ITEM = re.compile(rf"^(?P<name>learn|test\d*|best): (?P<value>{NUMBER})(?: \((?P<at>\d+)\))?$")
TIME_ITEM = re.compile(r"^(?:total|remaining): ")
SNIFF = re.compile(rb"(?m)^\d+:\t(?:learn|test): [-+\d.na][^\t\n]*\t(?:[^\n]*\t)?total: ")
BEST_ITERATION = re.compile(r"^bestIteration = (?P<n>\d+)\s*$")
ENDS = ("bestTest = ", "bestIteration = ", "Shrink model to first ")

sniff, sniff_text = line_sniffers(SNIFF, 2)


class LineParser:
    """A record per iteration line; the direction of the printed metric once the lines say it
    (`declared`)."""

    def __init__(self) -> None:
        self.declared: tuple[str, str] | None = None  # (name, direction)
        self.best_iteration: int | None = None
        self._first: dict[str, float] = {}  # the first value of each set's metric

    @property
    def settings(self) -> dict[str, int | None]:
        """The best iteration CatBoost named at the end, for the run's config."""
        return {"best_iteration": self.best_iteration}

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if (best := BEST_ITERATION.match(line)) is not None:
            self.best_iteration = int(best["n"])
            return []
        found = LINE.match(line)
        if found is None:
            return []
        values: dict[str, Any] = {}
        best = None
        for item in found["items"].split("\t"):
            item = item.strip()
            if TIME_ITEM.match(item):
                continue
            if (pair := ITEM.match(item)) is None:
                raise BadLine(f"{item!r} is not CatBoost's `learn: X`, `test: X`, `best: X (N)`, "
                              "`total: T` or `remaining: T`")
            if pair["name"] == "best":
                best = float(pair["value"])
            else:
                values[pair["name"]] = pair["value"]
        if self.declared is None:
            self.declared = self._direction(values, best)
        return [(int(found["iteration"]), values)] if values else []

    def _direction(self, values: dict[str, Any], best: float | None) -> tuple[str, str] | None:
        """(the last evaluation set, the one `best` follows, and its direction) once the best
        so far or the moves of a new best say it; (`learn`, the direction it moved) with no
        evaluation set; else None."""
        held_out = [name for name in values if name != "learn"]  # in the order printed
        name = held_out[-1] if held_out else "learn" if "learn" in values else None
        if name is None:
            return None
        value = float(values[name])
        first = self._first.setdefault(name, value)
        if name != "learn" and best is not None and best != value:
            return name, "min" if best < value else "max"
        if value != first:  # each test a new best (or the training metric's own trend)
            return name, "min" if value < first else "max"
        return None


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery; the printed metric is the run's
    performance metric once its direction is known."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = "CatBoost's `N:<TAB>learn: X<TAB>test: Y<TAB>best: Z (I)<TAB>total: ...` lines"

    def end_marker(self, text: str, values: Mapping[str, Any] | None) -> bool:
        return text.startswith(ENDS)


source = Source.open
read = Source.run_of
