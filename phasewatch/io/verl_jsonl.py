"""verl's JSONL file logger: one `{"step": N, "data": {"actor/entropy": ..., ...}}` per line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasewatch.io.jsonl import flatten
from phasewatch.io.jsonlines import first_json_object, loads
from phasewatch.io.lines import BadLine, as_step, read_lines
from phasewatch.run import RecordCollector, Run

FORMAT = "verl_jsonl"


def sniff(path: Path, head: bytes) -> bool:
    first = first_json_object(head) if path.is_file() else None
    return bool(first) and "step" in first and isinstance(first.get("data"), dict)


class LineParser:
    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        obj = loads(line)
        if not isinstance(obj, dict) or "step" not in obj:
            raise BadLine("not a JSON object with a 'step' key")
        data = obj.get("data")
        if not isinstance(data, dict):
            raise BadLine("no 'data' object")
        return [(as_step(obj["step"]), flatten(data))]


def read(path: Path) -> Run:
    collector = RecordCollector(path, FORMAT)
    read_lines(path, LineParser(), collector)
    return collector.build(name=path.stem)
