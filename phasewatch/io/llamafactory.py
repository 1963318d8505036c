"""LLaMA-Factory's `trainer_log.jsonl`: `{"current_steps", "total_steps", "loss", "lr", ...}`.

Progress fields (`total_steps`, `percentage`, `remaining_time`) describe the job, not the
model, and are left out; `elapsed_time` ("3 days, 17:51:32") is kept as seconds. Older
versions wrote `learning_rate` where newer ones write `lr`; both are kept as written (the
presets map either onto the `train/lr` role). `accuracy` is TRL's DPO `rewards/accuracies` (the
preference accuracy on the training pairs, copied by LLaMA-Factory's LogCallback), not a
held-out task accuracy, and `reward` the PPO reward; the presets name them so.

An output folder (`saves/<model>/<method>/<stage>/`) holds `trainer_log.jsonl` beside the
model files, `all_results.json`, `trainer_state.json` (written at the end) and
`running_log.txt`: `phasewatch.folders` reads its `trainer_state.json` when there is one,
else `trainer_log.jsonl`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.io.jsonlines import first_json_object, loads
from phasewatch.io.lines import BadLine, as_step
from phasewatch.io.source import LineRecordSource, collect
from phasewatch.run import Run

FORMAT = "llamafactory"
STEP_KEY = "current_steps"
PROGRESS_KEYS = frozenset({"total_steps", "percentage", "remaining_time"})
_DURATION = re.compile(r"^(?:(\d+) days?, )?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")


def sniff(path: Path, head: bytes) -> bool:
    first = first_json_object(head) if path.is_file() else None
    return bool(first) and STEP_KEY in first


def duration_seconds(text: str) -> float | None:
    """'3 days, 17:51:32' -> 323492.0 (the str() of a datetime.timedelta); None if not one."""
    match = _DURATION.match(text.strip())
    if not match:
        return None
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


class LineParser:
    """One JSON object per line with an integer `current_steps`."""

    finished = False
    total_steps: int | None = None  # the job's planned length, from its progress fields

    @property
    def settings(self) -> dict[str, int | None]:
        """The planned length for the run's config (`phasewatch.planned`)."""
        return {} if self.total_steps is None else {"total_steps": self.total_steps}

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        obj = loads(line)
        if not isinstance(obj, dict):
            raise BadLine("not a JSON object")
        if STEP_KEY not in obj:
            raise BadLine(f"no '{STEP_KEY}' key")
        step = as_step(obj[STEP_KEY])
        total = obj.get("total_steps")
        if isinstance(total, int) and not isinstance(total, bool) and total > 0:
            self.total_steps = total
            if total <= step:
                self.finished = True  # the last step of the job: the run is over
        values = {k: v for k, v in obj.items() if k != STEP_KEY and k not in PROGRESS_KEYS}
        if isinstance(values.get("elapsed_time"), str):
            values["elapsed_time"] = duration_seconds(values["elapsed_time"])
        return [(step, values)]


class Source(LineRecordSource):
    def __init__(self, path: Path, follow: bool = False, notice=None):
        super().__init__(path, FORMAT, LineParser, follow=follow, notice=notice)
        self.info.name = path.parent.name or path.stem

    def end_marker(self, text, values) -> bool:
        """The last step of the job ends the run."""
        return self.parser.finished


def source(path: Path, follow: bool = False, notice=None) -> Source:
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))
