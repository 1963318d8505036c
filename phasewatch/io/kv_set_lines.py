"""An evaluation's summary line in a print-statement log (`kv_console`): a split's name, then its
items (`Test set: Average loss: 0.0512, Accuracy: 9837/10000 (98%)`, `Validation - loss=4.08`,
`Eval Acc 0.9248`, `| End of training | test loss  5.37`). Such a line has no step token: the
reader places it at the last step logged before it. The items take their split's prefix, one
spelling per split (`SPLIT_PREFIXES`), so `valid_loss` and `val_loss` are one series. The item
grammar the lines share with record lines is `kv_items`'s.
"""

from __future__ import annotations

import re

from phasewatch.io.kv_items import DECIMAL, ITEM, NUMBER, WORD, spaced_field
from phasewatch.io.lines import without_thousands

# PyTorch's examples (mnist/main.py, copied into countless scripts) evaluate after each epoch and
# print `Test set: Average loss: 0.0512, Accuracy: 9837/10000 (98%)`; others `Acc@1: 8.434%`
SET_LINE = re.compile(r"^\s*(?P<split>test|validation|valid|val|dev|eval)(?:uation)? set:\s*"
                      r"(?P<items>.+)$", re.IGNORECASE)
SET_ITEM = re.compile(r"^(?P<name>[A-Za-z][\w@ ]*?):\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)"
                      r"(?:[eE][-+]?\d+)?)(?:/(?P<total>\d+))?\s*%?\s*(?:\(\s*[\d.]+\s*%\s*\))?$")
# simple-nmt's `Validation - loss=4.0864e+00 ppl=59.52 best_loss=inf`: a split, ` - `, then
# nothing but `name=value` items
DASHED_SET_LINE = re.compile(r"^\s*(?P<split>test|validation|valid|val|dev|eval)(?:uation)?"
                             r"\s+-\s+(?P<items>.+)$", re.IGNORECASE)
# DGL's examples: `Eval Acc 0.9248`, `Test Acc: 0.9306` every few epochs, a line of its own (a
# score: a lone `val loss: 0.7` after a banner of the other counter stays no record)
SPLIT_SCORE_LINE = re.compile(r"^\s*(?P<name>(?:test|eval|val|valid|validation|dev)\s+"
                              r"(?:acc|accuracy|f1|auc))\s*:?\s+(?P<value>" + DECIMAL +
                              r")\s*%?\s*$", re.IGNORECASE)
# PyTorch's word_language_model example closes with the test split's evaluation of the best
# model: `| End of training | test loss  5.37 | test ppl   215.96`, `|` fields of a name and a
# number (`spaced_field`), the names kept as printed, as its epochs' `valid loss` are
END_OF_TRAINING = re.compile(r"^\s*\|?\s*end of training\s*\|(?P<fields>.+?)\|?\s*$", re.IGNORECASE)
# the prefix a split's printed name gives the items of its line (`Test set:`, `Validation -`, a
# bar's `Train Epoch: 3`): one spelling each, so `valid_loss` and `val_loss` are one series
SPLIT_PREFIXES = {"test": "test", "validation": "val", "valid": "val", "val": "val", "dev": "dev",
                  "eval": "eval", "train": "train", "training": "train"}


def split_item_name(split: str, name: str) -> str:
    """An item's name under its split's prefix, lower case, words joined by `_`: (`Test`,
    `Average loss` without its `Average`) -> `test_loss`, (`Train`, `Acc@1`) -> `train_acc@1`."""
    return f"{SPLIT_PREFIXES[split.lower()]}_{name.strip().lower().replace(' ', '_')}"


AVERAGE = re.compile(r"^(?:average|avg|mean)\s+", re.IGNORECASE)


def held_out_set_items(line: str) -> dict[str, str]:
    """The items of an evaluation's summary line, `Test set: Average loss: 0.0512, Accuracy:
    9837/10000 (98%)`, under the split's prefix (`test_loss`, `test_accuracy`: the held-out
    roles by the split's name); a count of a total is its percentage (98.37), as the line's own
    `(98%)` says it, a `%` is dropped (`Acc@1: 8.434%` is `test_acc@1` 8.434). {} when the line
    is no such summary (a field that is no `Name: number` item)."""
    found = SET_LINE.match(line)
    if found is None:
        if (closing := END_OF_TRAINING.match(line)) is not None:
            return _piped_numbers(closing.group("fields"))
        if (score := SPLIT_SCORE_LINE.match(line)) is not None:
            return {" ".join(score.group("name").split()): score.group("value")}
        return _dashed_set_items(line)
    items: dict[str, str] = {}
    for field in found.group("items").split(","):
        item = SET_ITEM.match(field.strip())
        if item is None:
            return {}
        name = split_item_name(found.group("split"), AVERAGE.sub("", item.group("name").strip()))
        value = float(item.group("value"))
        if item.group("total") is not None and int(item.group("total")) > 0:
            value = 100.0 * value / int(item.group("total"))
        items[name] = f"{value:.10g}"
    return items


def _piped_numbers(fields: str) -> dict[str, str]:
    """`test loss  5.37 | test ppl   215.96`: each `|` field a name and a number
    (`spaced_field`), else {}."""
    found = [spaced_field(field.strip()) for field in fields.split("|")]
    if not found or None in found:
        return {}
    return {" ".join(m.group("name").split()): m.group("value") for m in found if m is not None}


def _dashed_set_items(line: str) -> dict[str, str]:
    """`Validation - loss=4.0864e+00 ppl=59.52` (`DASHED_SET_LINE`): its `name=value` items under
    the split's prefix (`val_loss`, `val_ppl`), one a number at least; {} for any other line."""
    found = DASHED_SET_LINE.match(line)
    if found is None or WORD.search(ITEM.sub(" ", found.group("items"))):
        return {}
    split = found.group("split")
    items = {split_item_name(split, m.group("name")): without_thousands(m.group("value"))
             for m in ITEM.finditer(found.group("items"))}
    return items if any(NUMBER.match(value) for value in items.values()) else {}
