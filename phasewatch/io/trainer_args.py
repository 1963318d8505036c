"""The TrainingArguments of a Trainer run read from its `trainer_state.json`.

A trainer_state.json keeps where training stood and a few settings (max_steps, save_steps,
train_batch_size...), but none of the arguments a sweep varies: no learning_rate, no TRL
`beta`, and no key that names the trainer (TRL 1.x's RLOOTrainer logs GRPO's metric names; its
RLOOConfig's `normalize_advantages` tells it apart). HF's TensorBoardCallback writes the
arguments as a JSON text at the start of training into the output folder's
`runs/<date>_<host>/` (`tensorboard.CONFIG_TEXTS`), which the TensorBoard reader makes the run's
config: read here from the start of those event files, so the trainer_state read of the same
output folder has the same config (trial 39: a sweep of TRL RLOO, Online DPO and KTO output
folders had no beta and no learning_rate column, and its RLOO runs were named grpo).

Only the texts are read, from each file's first SCAN_BYTES (the Trainer writes them before any
scalar). Several starts of one run (a resume) are read oldest first, so the newest start's
arguments win; the state's own fields win over the arguments (its max_steps is the planned
length, the arguments' -1 when epochs were given). Without the tensorboard package, nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasewatch.files import open_regular
from phasewatch.folders import trainer_output_folder
from phasewatch.io.event_folders import _name_time, event_files
from phasewatch.io.tensorboard import CONFIG_TEXTS, _EventFile, trainer_starts
from phasewatch.io.tfrecord import RECORD_HEADER

SCAN_BYTES = 1 << 22


def trainer_arguments(state: Path) -> dict[str, Any]:
    """The arguments (over the model config) HF's TensorBoardCallback wrote beside the
    trainer_state.json at `state` (`<output>/trainer_state.json` or
    `<output>/checkpoint-N/trainer_state.json`), else {}."""
    output = trainer_output_folder(state)
    starts = trainer_starts(output / "runs")
    if not starts:
        return {}
    try:
        from tensorboard.compat.proto import event_pb2
    except ImportError:
        return {}
    files = sorted((f for start in starts for f in event_files(start)), key=_name_time)
    config: dict[str, Any] = {}
    for path in files:
        texts = _texts(path, event_pb2)
        for tag in CONFIG_TEXTS:
            config.update(texts.get(tag, {}))
    return config


def _texts(path: Path, event_pb2) -> dict[str, dict]:
    """CONFIG_TEXTS tag -> its JSON object, of the records in the first SCAN_BYTES of `path`
    (the TensorBoard reader's own parsing of a text, `_EventFile._config_text`)."""
    holder = _EventFile(path, 0, "")
    try:
        with open_regular(path) as fh:
            data = fh.read(SCAN_BYTES)
    except Exception:  # noqa: BLE001 - an unreadable file: its arguments are unknown
        return {}
    pos = 0
    while pos + RECORD_HEADER.size <= len(data) and CONFIG_TEXTS[-1] not in holder.configs:
        length = RECORD_HEADER.unpack_from(data, pos)[0]
        start, pos = pos + RECORD_HEADER.size, pos + RECORD_HEADER.size + length + 4
        if pos > len(data):
            break
        try:
            event = event_pb2.Event.FromString(data[start:start + length])
        except Exception:  # noqa: BLE001 - protobuf's DecodeError differs by backend
            break
        for value in event.summary.value if event.HasField("summary") else ():
            if value.tag in CONFIG_TEXTS:
                holder._config_text(value, lambda _message: None)
    return holder.configs
