"""A COCO evaluation's summary list in a JSON-lines log, read as named series.

DETR and the detectors built from its code (Deformable-DETR, Conditional DETR, DN-DETR, DINO,
...) write one JSON object per epoch to `log.txt` with `test_coco_eval_bbox` (and
`test_coco_eval_masks` for a model with a mask head; DINO's EMA model `ema_test_...` beside
it): pycocotools' `COCOeval.stats`, a list of 12 numbers in a fixed order. Left as a list it
was no number, so the run's held-out detection score was dropped and `analyze` fell back to
the test loss. Each number gets the name pycocotools' summary gives it (`AP`, `AP50`, ...:
detectron2's names for the first six) after the list's key, `test_coco_eval_bbox/AP`. A -1 is
pycocotools' "no object of that size in the evaluation set", not a reading: it is left out.
A list of another length is not a summary this module can name (keypoints have 10, a fork
may log fewer): it stays unread, as before, and a note says so.
"""

from __future__ import annotations

import re
from typing import Any

# `COCOeval.summarize` (pycocotools/cocoeval.py, `_summarizeDets`): stats[0..11]
SUMMARY_NAMES: tuple[str, ...] = (
    "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
)
# the list's key: `coco_eval_bbox`, `coco_eval_masks`, after any prefix (`test_`, `ema_test_`)
SUMMARY_KEY = re.compile(r"(?:^|[_/])coco_eval_\w+$")
NO_OBJECTS = -1.0  # pycocotools' value for an area range without ground truth


def is_summary_key(name: str) -> bool:
    """Whether a key of a JSON-lines row may hold a COCO summary list (the bulk reader sends
    rows with such a list through the line parser, which names its numbers)."""
    return SUMMARY_KEY.search(name) is not None


class CocoSummaries:
    """Expands the COCO summary lists of one log's rows; remembers which keys held a list that
    could not be named, so the note is given once per key."""

    def __init__(self, notes: list[str]) -> None:
        self.notes = notes  # the parser's own notes, which the run's warnings are made from
        self._unnamed: set[str] = set()

    def expand(self, values: dict[str, Any], lineno: int) -> dict[str, Any]:
        """`values` with each COCO summary list replaced by its named numbers (the row itself
        when it holds none)."""
        keys = [k for k, v in values.items() if type(v) is list and is_summary_key(k)]
        if not keys:
            return values
        out = dict(values)
        for key in keys:
            numbers = out[key]
            if len(numbers) != len(SUMMARY_NAMES):
                self._note_unnamed(key, len(numbers), lineno)
                continue
            del out[key]
            for name, number in zip(SUMMARY_NAMES, numbers):
                if number != NO_OBJECTS:
                    out[f"{key}/{name}"] = number
        return out

    def _note_unnamed(self, key: str, length: int, lineno: int) -> None:
        if key in self._unnamed:
            return
        self._unnamed.add(key)
        self.notes.append(
            f"line {lineno}: {key} is a list of {length} numbers, not the 12 of a COCO "
            f"evaluation's summary ({', '.join(SUMMARY_NAMES[:3])}, ..., {SUMMARY_NAMES[-1]}): "
            "not read, as its numbers cannot be named (write them under names of their own "
            "to read them)"
        )
