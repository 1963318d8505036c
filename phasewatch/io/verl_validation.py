"""The validations verl's console prints as dicts, before the first update and after the last.

verl's `RayPPOTrainer.fit` validates before training (`val_before_train`, on by default) and
`pprint`s `"Initial validation metrics: {'test_score/openai/gsm8k': 0.00076}"`; after its last
update it prints `"Final validation metrics: {...}"` and returns. Newer versions also log the
first through the tracker at the step training resumes from (a console `step:0 - val-core/...`
line) and validate the last step in the loop, so both dicts repeat step lines. Older versions
(verl's own example PPO logs) logged neither: without these lines a run's score before training
and after its last update were missing, and its start read as its first in-loop validation.

So (`ValidationDicts`):
- the initial dict is held and joins the next step line, the step training starts from, unless
  that line logs the same metrics itself (the tracker's copy, rounded as step lines are: the
  line's values are kept, so the series has one precision);
- the final dict joins the last step line read, for the metrics that line did not log (an
  older run's evaluation after its last update: its model is that step's, as an in-loop
  validation is logged with the update of its step);
- only validation metrics are taken (`val`, `val-core`, `val-aux` names; timings are not), and
  an older version's `test_score/<source>`, which its loop logged as `val/test_score/<source>`,
  is read under that one name (`validation_name`), in dicts and step lines alike.
A dict that pprint wrapped over several lines (a newer version's, whose metrics its step lines
hold) is not read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

INITIAL_LINE = "Initial validation metrics:"
END_LINE = "Final validation metrics:"  # also the run's end (`Source.end_marker`)
OLD_SCORE = "test_score/"  # an older `_validate`'s key; its loop logged it under `val/`
VALIDATION_PREFIXES = ("val/", "val-core/", "val-aux/")
# `'name': 0.5` or `'name': np.float64(0.5)` in a printed dict
DICT_ITEM = re.compile(r"'([^'\\]+)':\s*((?:np\.|numpy\.)?\w*\([^()]*\)|[^,{}'\"\s]+)")
WHOLE_DICT = re.compile(r"\{[^{}]*\}")


def validation_name(key: str) -> str:
    """`test_score/<source>` -> `val/test_score/<source>` (an older verl's name of the
    validation score its step lines log under `val/`); any other key as it is."""
    return "val/" + key if key.startswith(OLD_SCORE) else key


class ValidationDicts:
    """Feed the console's non-step lines (`feed`) and route each step line's record through
    `at_step`: the records of the validations before and after training are added where they
    belong. `parse` reads one printed value (`verl_console.parse_value`)."""

    def __init__(self, parse: Callable[[str], float]) -> None:
        self.parse = parse
        self._initial: dict[str, float] | None = None  # held for the next step line
        self._last: tuple[int, Mapping[str, Any]] | None = None  # the last step line's record

    def feed(self, text: str) -> list[tuple[int, dict[str, Any]]]:
        """The records a non-step line gives: the final dict's metrics the last step line did
        not log; none for any other line (an initial dict is held for the next step line)."""
        if INITIAL_LINE in text:
            self._initial = self._metrics(text.split(INITIAL_LINE, 1)[1]) or None
        elif END_LINE in text and self._last is not None:
            step, logged = self._last
            final = self._metrics(text.split(END_LINE, 1)[1])
            new = {k: v for k, v in final.items() if k not in logged}
            if new:
                self._last = (step, {**logged, **new})
                return [(step, new)]
        return []

    def at_step(self, record: tuple[int, Mapping[str, Any]]) -> list[tuple[int, Any]]:
        """The records of a step line's `record` (step, values): the held initial validation
        first, where the line does not log its metrics itself."""
        step, logged = record
        out = []
        if self._initial is not None:
            if not any(name in logged for name in self._initial):
                out.append((step, self._initial))
            self._initial = None
        self._last = record
        out.append(record)
        return out

    def _metrics(self, text: str) -> dict[str, float]:
        """The validation metrics of the dict printed on this line (none where it is not
        there whole)."""
        whole = WHOLE_DICT.search(text)
        if whole is None:
            return {}
        out = {}
        for key, raw in DICT_ITEM.findall(whole.group(0)):
            name = validation_name(key)
            if not name.startswith(VALIDATION_PREFIXES):
                continue
            try:
                out[name] = self.parse(raw)
            except ValueError:
                continue
        return out
