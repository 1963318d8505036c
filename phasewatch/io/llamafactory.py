"""LLaMA-Factory's `trainer_log.jsonl`: `{"current_steps", "total_steps", "loss", "lr", ...}`.

Progress fields (`total_steps`, `percentage`, `remaining_time`) describe the job, not the
model, and are left out; `elapsed_time` ("3 days, 17:51:32") is kept as seconds. Older
versions wrote `learning_rate` where newer ones write `lr`; both are kept as written (the
presets map either onto the `train/lr` role).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from phasewatch.io.jsonlines import first_json_object, loads
from phasewatch.io.lines import BadLine, as_step, read_lines
from phasewatch.run import RecordCollector, Run

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

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        obj = loads(line)
        if not isinstance(obj, dict):
            raise BadLine("not a JSON object")
        if STEP_KEY not in obj:
            raise BadLine(f"no '{STEP_KEY}' key")
        step = as_step(obj[STEP_KEY])
        values = {k: v for k, v in obj.items() if k != STEP_KEY and k not in PROGRESS_KEYS}
        if isinstance(values.get("elapsed_time"), str):
            values["elapsed_time"] = duration_seconds(values["elapsed_time"])
        return [(step, values)]


def read(path: Path) -> Run:
    collector = RecordCollector(path, FORMAT)
    read_lines(path, LineParser(), collector)
    return collector.build(name=path.parent.name or path.stem)
