"""What task a Trainer's model does, from the model files saved beside its `trainer_state.json`.

A run's metric names do not always say what its accuracy counts. HF's `run_ner.py` returns
seqeval's `overall_*` scores renamed `precision`, `recall`, `f1`, `accuracy`, the four names
every text classifier's `compute_metrics` also returns (eleven Trainer logs of the real corpus
log them, all classifiers): the accuracy of a named-entity tagger counts right tokens, the `O`
of no entity among them, where its users read the entity F1. The model saved with the state
says which it is: `config.json`'s `architectures` (`BertForTokenClassification`), or a PEFT
adapter's `adapter_config.json` `task_type` (`TOKEN_CLS`), which
`heldout_names.is_token_classifier` reads. Only those two keys are read, as JSON; a missing or
unreadable file tells nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from phasewatch.errors import PhasewatchError
from phasewatch.files import open_regular
from phasewatch.folders import trainer_output_folder

MAX_CONFIG_BYTES = 1 << 20  # a model config is a few kB; a larger file is not one


def model_task(state: Path) -> dict[str, Any]:
    """{"architectures": [...]} and / or {"task_type": ...} of the model saved beside the
    trainer_state.json at `state` (its checkpoint folder first, then the output folder), else
    {}."""
    for folder in dict.fromkeys((state.parent, trainer_output_folder(state))):
        found: dict[str, Any] = {}
        architectures = _key(folder / "config.json", "architectures")
        if isinstance(architectures, list) and all(isinstance(a, str) for a in architectures):
            found["architectures"] = architectures
        task_type = _key(folder / "adapter_config.json", "task_type")
        if isinstance(task_type, str):
            found["task_type"] = task_type
        if found:
            return found
    return {}


def _key(path: Path, key: str) -> Any:
    """`key` of the JSON object in `path`, else None."""
    try:
        with open_regular(path) as fh:
            text = fh.read(MAX_CONFIG_BYTES + 1)
        doc = json.loads(text) if len(text) <= MAX_CONFIG_BYTES else None
    except (OSError, ValueError, PhasewatchError):  # a FIFO, a bad JSON: nothing
        return None
    return doc.get(key) if isinstance(doc, dict) else None
