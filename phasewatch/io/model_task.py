"""What task a Trainer's model does, from the model files saved beside its `trainer_state.json`.

A run's metric names do not always say what its accuracy counts. HF's `run_ner.py` returns
seqeval's `overall_*` scores renamed `precision`, `recall`, `f1`, `accuracy`, the four names
every text classifier's `compute_metrics` also returns (eleven Trainer logs of the real corpus
log them, all classifiers): the accuracy of a named-entity tagger counts right tokens, the `O`
of no entity among them, where its users read the entity F1. The model saved with the state
says which it is: `config.json`'s `architectures` (`BertForTokenClassification`), or a PEFT
adapter's `adapter_config.json` `task_type` (`TOKEN_CLS`), which
`heldout_names.is_token_classifier` reads. Only those two keys are read, as JSON; a missing or
unreadable file, one too large to be a config or nested too deeply to parse, tells nothing.
A console log with no model saved beside it says it in the line transformers logs as it loads
the model (`printed_model_class`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.errors import PhasewatchError
from phasewatch.files import read_capped
from phasewatch.folders import trainer_output_folder
from phasewatch.io.jsonlines import loads

MAX_CONFIG_BYTES = 1 << 20  # a model config is a few kB; a larger file is not one
# transformers' lines as it loads a model (`modeling_utils`): "Some weights of
# BertForTokenClassification were not initialized from the model checkpoint at ...", "Some
# weights of the model checkpoint at ... were not used when initializing
# BertForTokenClassification: [...]", "All the weights of ... were initialized ...": a class with
# a task head (`...For...`). Not the fixed example its "This IS NOT expected ..." line gives,
# "(initializing a BertForSequenceClassification model from a ... model)", whatever the model.
LOADED_MODEL = re.compile(r"\b(?:Some weights of|All the weights of|when initializing) "
                          r"(\w+For[A-Z]\w*)\b")


def printed_model_class(line: str) -> str | None:
    """The model class a console line of transformers names as it loads the model
    (`LOADED_MODEL`), for the run's config as `architectures` (`heldout_names.
    is_token_classifier`: a named-entity tagger's `accuracy` counts tokens); else None."""
    if "initializ" not in line:
        return None
    found = LOADED_MODEL.search(line)
    return None if found is None else found[1]


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
    """`key` of the JSON object in `path`, else None. The file is no log: whatever it holds
    (a folder, a FIFO, bytes that are no UTF-8, JSON nested past the recursion limit, which
    `jsonlines.loads` turns into a ValueError) leaves the metric choice as the names make it."""
    try:
        data = read_capped(path, MAX_CONFIG_BYTES)
        doc = loads(data.decode("utf-8-sig")) if data is not None else None
    except (OSError, ValueError, PhasewatchError):
        return None
    return doc.get(key) if isinstance(doc, dict) else None
