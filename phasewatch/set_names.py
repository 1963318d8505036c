"""Held-out sets a framework names for its user: which metrics are one metric on several sets.

HF's Trainer evaluated on `eval_dataset={"g0": ..., "g1": ...}` logs `eval_g0_loss`,
`eval_g0_accuracy` (W&B / TensorBoard `eval/g0_loss`), known by `eval_g0_runtime`
(`eval_sets`). PyTorch Lightning validating on two or more dataloaders suffixes every metric
logged there with its loader (`val_acc/dataloader_idx_0`, `val_loss/dataloader_idx_1`:
`self.log(..., add_dataloader_idx=True)`, the default), so a run that validates on held-out
expert data and on the pre-training task named none of its metrics as `presets` knows them
(trial 40d: its `val_acc/dataloader_idx_0` was passed over for the train loss, "improvement,
stop at 339" on a run that overfits after step 139). `presets` gives such a metric the roles
of its name without the set, ranked as one of several named held-out sets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

EVAL_SET_PREFIXES = ("eval_", "eval/")
EVAL_SET_MARK = "_runtime"  # HF's evaluate() logs `<prefix>_runtime` with every evaluation
LOADER_MARK = "/dataloader_idx_"  # Lightning's `_ResultCollection.DATALOADER_SUFFIX`
_LOADER = re.compile(r"(?P<base>.+)/dataloader_idx_(?P<index>\d+)")


def eval_sets(present: Iterable[str]) -> list[tuple[str, str]]:
    """(prefix, set name) of each held-out set HF's Trainer evaluated under a name of its own:
    a set is known by its `_runtime`, which HF logs with every evaluation and no metric of its
    own is named."""
    return sorted((prefix, name[len(prefix):-len(EVAL_SET_MARK)]) for name in present
                  for prefix in EVAL_SET_PREFIXES
                  if name.startswith(prefix) and name.endswith(EVAL_SET_MARK)
                  and len(name) > len(prefix) + len(EVAL_SET_MARK))


def loader_bases(present: Iterable[str]) -> dict[str, str]:
    """Lightning's metric of one validation dataloader -> its name without the loader
    (`val_acc/dataloader_idx_0` -> `val_acc`), for each such name present."""
    found = {}
    for name in present:
        if LOADER_MARK in name and (match := _LOADER.fullmatch(name)) is not None:
            found[name] = match["base"]
    return found


def set_order(name: str) -> tuple[str, int, str]:
    """A sort key putting Lightning's loaders in their own order (`dataloader_idx_2` before
    `dataloader_idx_10`; idx 0, the first loader, first) and other names by name."""
    match = _LOADER.fullmatch(name) if LOADER_MARK in name else None
    return (match["base"], int(match["index"]), "") if match else (name, -1, name)
