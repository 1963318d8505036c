"""The planned length of a run, from its config: what the live monitor judges "early" against.

Trainers write it in their settings: Hugging Face's `max_steps` (TrainingArguments, -1 when the
run is set by epochs instead), verl's `trainer.total_training_steps`, LLaMA-Factory's
`total_steps` (on every line of its trainer_log.jsonl), phasewatch's own trainer `steps`; a
reader that finds the plan in a console banner gives `planned_steps`, in the log's own step
units (a Hugging Face console log: its `Total optimization steps` where its banner fixes the
steps per epoch, else `Num Epochs` x 10,000, as its rows count ten-thousandths of an epoch). A
config may hold the key flattened ("trainer.total_training_steps", as W&B and MLflow show
nested settings) or nested, and as a string (MLflow parameters are strings).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from phasewatch.values import to_float

PLANNED_STEP_KEYS = ("max_steps", "trainer.total_training_steps", "total_training_steps",
                     "total_steps", "steps", "planned_steps")
# A training script's own arguments, as it logs them (`{"type": "config", "args": vars(args)}`
# heading a JSON-lines log): `--max-steps` or `--steps`.
SCRIPT_ARGS = "args"


EPOCHS_KEY = "num_train_epochs"  # Hugging Face TrainingArguments, with max_steps -1
EPOCH_METRICS = ("train/epoch", "epoch")  # the epoch HF logs beside each row


def planned_steps(config: Mapping[str, Any]) -> int | None:
    """The run's planned last step, as one of `PLANNED_STEP_KEYS` states it, or None when its
    config does not say (or says -1). A run set by epochs: `planned_epochs`, `epoch_plan`."""
    script = config.get(SCRIPT_ARGS)
    for key, where in [(key, config) for key in PLANNED_STEP_KEYS] \
            + [(key, script) for key in PLANNED_STEP_KEYS if isinstance(script, Mapping)]:
        value = _lookup(where, key)
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


def planned_epochs(config: Mapping[str, Any]) -> float | None:
    """The epochs a run set by epochs plans (`num_train_epochs`), if its config says: a
    Hugging Face run with `max_steps` -1, as TensorBoard and W&B show its arguments."""
    return _positive_number(_lookup(config, EPOCHS_KEY))


def epoch_plan(epochs: float, step: int, values: Mapping[str, Any]) -> int | None:
    """`epochs` x the steps an epoch takes, from the epoch a record at `step` logs (None when
    it logs none, or none past the start)."""
    epoch = _positive_number(next((values[n] for n in EPOCH_METRICS if n in values), None))
    return None if epoch is None or step <= 0 else round(epochs * step / epoch)


def _positive_number(value: Any) -> float | None:
    """`value` as a finite number above 0 (`values.to_float`; a flag is no count), else None."""
    number = None if isinstance(value, bool) else to_float(value)
    return number if number is not None and math.isfinite(number) and number > 0 else None


def _lookup(config: Mapping[str, Any], key: str) -> Any:
    if key in config:
        return config[key]
    head, _, rest = key.partition(".")
    inner = config.get(head) if rest else None
    return _lookup(inner, rest) if isinstance(inner, Mapping) else None
