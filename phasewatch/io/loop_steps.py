"""The step of an evaluation a training loop prints at the top of an iteration, before the
iteration's train line: llm.c's console (`llmc_console`) and build-nanogpt's
(`build_nanogpt_console`).

Both loops run iteration `step` as: the validation loss (and HellaSwag) at the top, then the
update, then a train line. Their log files write the validation at `step` (llm.c's `s:step
tel:X`, build-nanogpt's `step val X`), but the console prints no step on it: its step is the
iteration's, that of the train line after it. A parser that can tell the iteration in progress
from the train line before it says so (`train(..., next_step)`), and the evaluation is placed
at once, so a follow judges it without waiting for the update after it; else it is held until
the next train line places it.
"""

from __future__ import annotations

from typing import Any

Found = list[tuple[int, dict[str, Any]]]


class LoopSteps:
    """Evaluations placed at their loop iteration's step, at once or when its train line comes."""

    def __init__(self) -> None:
        self.current: int | None = None  # the step of the iteration in progress, where known
        self.held: list[dict[str, Any]] = []  # evaluations of an iteration whose step is not

    def train(self, step: int, values: dict[str, Any], next_step: int | None) -> Found:
        """The train record of iteration `step`, after the evaluations held for it; `next_step`
        is the next iteration's step where the parser knows it, else None."""
        found = [(step, held) for held in self.held]
        self.held = []
        self.current = next_step
        return [*found, (step, values)]

    def evaluation(self, values: dict[str, Any]) -> Found:
        """An evaluation of the iteration in progress: at its step, or held."""
        if self.current is None:
            self.held.append(values)
            return []
        return [(self.current, values)]

    def forget(self) -> None:
        """The iteration in progress is no longer known: its evaluations wait for its train line."""
        self.current = None

    def flush(self, step: int) -> Found:
        """Evaluations still held when the log ends (no train line came to place them): at
        `step`, where the parser expected the next train line."""
        found = [(step, held) for held in self.held]
        self.held = []
        return found
