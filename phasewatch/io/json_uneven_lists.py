"""A JSON history dump whose metric lists have different lengths: per-iteration and per-epoch.

Training loops often keep one list per metric and dump them together:
`{"batch_losses": [15,640 values], "train_accuracies": [20], "test_accuracies": [20],
"best_test_acc": 0.7269}` (a loss per batch beside an accuracy per epoch), or
`{"iteration_losses": [1,000], "validation_losses": [499]}` (an evaluation every other
iteration). Lists of one length are Keras' `History.history` shape (`generic_json.column_lists`);
with several lengths the lists count different things, and their positions are no common axis.

Read here: the steps are the positions in the longest list (0 .. L-1: its iterations), and a
list of n values is taken to be spread evenly over them, its i-th value at the end of its i-th
block of L/n steps, `round((i + 1) * L / n) - 1` (an evaluation after each epoch of L/n
iterations: exact when L is a multiple of n, `(i + 1) * k - 1`; otherwise the nearest step, which
a warning says). Names are kept as written. Such a document counts as a log only when at least
one list name says it is a metric (`loss`, `acc`, `reward`, `score`...) and the longest list has
`MIN_LONGEST` values: a config's `image_mean: [0.48, 0.45, 0.40]` is not a curve.
"""

from __future__ import annotations

import re
from typing import Any

from phasewatch.io.json_step_maps import number_or_null
from phasewatch.io.source import Record

MIN_LONGEST = 10
METRIC_WORD = re.compile(r"loss|acc|reward|score|err|ppl|perplex|f1|auc|bleu|rouge|wer|nll|kl\b",
                         re.IGNORECASE)
# The start of a large (compact, one-line) document whose first value is a metric's number list.
NUMBER_LIST_START = re.compile(r'^\{\s*"(?P<name>[^"\\]{1,200})"\s*:\s*\[\s*'
                               r'(?:[-+]?[\d.]|NaN|-?Infinity|null)')


def uneven_lists(doc: Any) -> dict[str, list] | None:
    """The top-level number lists (2 values or more) of `doc` when they have several lengths,
    one of them names a metric and the longest holds `MIN_LONGEST` values; else None."""
    if not isinstance(doc, dict):
        return None
    lists = {str(k): v for k, v in doc.items()
             if isinstance(v, list) and len(v) >= 2 and all(map(number_or_null, v))}
    lengths = {len(v) for v in lists.values()}
    if len(lengths) < 2 or max(lengths) < MIN_LONGEST:
        return None
    if not any(METRIC_WORD.search(name) for name in lists):
        return None
    return lists


def starts_like_one(text: str) -> bool:
    """Whether a large document's head starts as one: its first value a metric's number list."""
    found = NUMBER_LIST_START.match(text)
    return found is not None and METRIC_WORD.search(found.group("name")) is not None


def records(lists: dict[str, list]) -> tuple[list[Record], list[str]]:
    """The lists as records on the longest list's steps, and the warning that says how."""
    longest = max(len(v) for v in lists.values())
    rows: dict[int, dict[str, Any]] = {}
    spread: list[str] = []
    inexact = False
    for name, values in lists.items():
        n = len(values)
        if n != longest:
            spread.append(f"{name} ({n})")
            inexact = inexact or longest % n != 0
        for i, value in enumerate(values):
            step = i if n == longest else round((i + 1) * longest / n) - 1
            rows.setdefault(step, {})[name] = value
    full = ", ".join(k for k, v in lists.items() if len(v) == longest)
    note = (f"lists of different lengths: the steps are the positions in the longest ({full}: "
            f"0-{longest - 1}); {', '.join(spread)} taken as evenly spread over them, value i at "
            f"step (i + 1) x {longest} / n - 1 (the end of each block)")
    if inexact:
        note += f", rounded where n does not divide {longest}"
    return [Record(step, rows[step]) for step in sorted(rows)], [note]
