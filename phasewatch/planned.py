"""The planned length of a run, from its config: what the live monitor judges "early" against.

Trainers write it in their settings: Hugging Face's `max_steps` (TrainingArguments, -1 when the
run is set by epochs instead), verl's `trainer.total_training_steps`, LLaMA-Factory's
`total_steps` (on every line of its trainer_log.jsonl), phasewatch's own trainer `steps`; a
reader that finds the plan in a console banner gives `planned_steps`, in the log's own step
units (Hugging Face console rows count epochs x 10,000: `Num Epochs` x 10,000). A
config may hold the key flattened ("trainer.total_training_steps", as W&B and MLflow show
nested settings) or nested, and as a string (MLflow parameters are strings).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PLANNED_STEP_KEYS = ("max_steps", "trainer.total_training_steps", "total_training_steps",
                     "total_steps", "steps", "planned_steps")


def planned_steps(config: Mapping[str, Any]) -> int | None:
    """The run's planned last step, or None when its config does not say (or says -1)."""
    for key in PLANNED_STEP_KEYS:
        value = _lookup(config, key)
        if isinstance(value, bool):
            continue
        try:
            steps = int(str(value).strip()) if isinstance(value, str) else value
        except ValueError:
            continue
        if isinstance(steps, int) and steps > 0:
            return steps
        if isinstance(steps, float) and steps.is_integer() and steps > 0:
            return int(steps)
    return None


def _lookup(config: Mapping[str, Any], key: str) -> Any:
    if key in config:
        return config[key]
    head, _, rest = key.partition(".")
    inner = config.get(head) if rest else None
    return _lookup(inner, rest) if isinstance(inner, Mapping) else None
