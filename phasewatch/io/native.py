"""The native run folder the reference trainer writes (DESIGN.md "Native run folder").

RUN/metrics.jsonl  {"step": int, "<metric>": number|null, ...} per line, keys may be sparse
RUN/run.json       name, algorithm, performance_metric, direction, events, config
RUN/expert_logprobs/  optional token store (see phasewatch.tokens)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasewatch.io.fastjson import read_json_lines
from phasewatch.io.jsonlines import loads, read_json_object
from phasewatch.io.lines import BadLine, as_step, read_lines
from phasewatch.run import Event, RecordCollector, Run

FORMAT = "native"
METRICS_FILE = "metrics.jsonl"
RUN_FILE = "run.json"
TOKENS_DIR = "expert_logprobs"


def sniff(path: Path, head: bytes) -> bool:
    if path.is_dir():
        return (path / METRICS_FILE).is_file()
    return path.name == METRICS_FILE and (path.parent / RUN_FILE).is_file()


class LineParser:
    """Parses metrics.jsonl lines: a JSON object with an integer `step`; other keys are metrics."""

    step_keys: tuple[str, ...] = ("step",)

    def step_key(self, keys) -> str | None:
        """The key holding the step in a row with these keys (for the bulk reader)."""
        return next((key for key in self.step_keys if key in keys), None)

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        """Records in this line; raises ValueError (with a reason) if it is not one."""
        obj = loads(line)
        if not isinstance(obj, dict):
            raise BadLine("not a JSON object")
        for key in self.step_keys:
            if key in obj:
                step = as_step(obj[key])
                values = {k: v for k, v in obj.items() if k != key}
                return [(step, values)]
        raise BadLine("no 'step' key")


def read(path: Path) -> Run:
    folder = path if path.is_dir() else path.parent
    metrics_path = folder / METRICS_FILE
    meta = read_run_json(folder / RUN_FILE)
    collector = RecordCollector(folder, FORMAT)
    if not read_json_lines(metrics_path, LineParser(), collector):
        read_lines(metrics_path, LineParser(), collector)
    events = []
    for i, event in enumerate(meta.get("events") or []):
        try:
            events.append(Event(step=int(event["step"]), name=str(event["name"])))
        except (KeyError, TypeError, ValueError):
            collector.warn(f"{RUN_FILE}: event {i} is not {{'step': int, 'name': str}}; ignored")
    tokens = folder / TOKENS_DIR
    return collector.build(
        name=meta.get("name") or folder.name,
        algorithm=meta.get("algorithm"),
        performance_metric=meta.get("performance_metric"),
        direction=meta.get("direction"),
        events=events,
        config=meta.get("config") or {},
        token_store=tokens if (tokens / "index.json").is_file() else None,
    )


def read_run_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    return read_json_object(path, "run.json")
