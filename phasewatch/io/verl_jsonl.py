"""verl's JSONL file logger: one `{"step": N, "data": {"actor/entropy": ..., ...}}` per line.

verl writes it to `$VERL_FILE_LOGGER_PATH`, else `<project>/<experiment>.jsonl` under the
working directory; a project folder of several experiments is a folder of runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasewatch.io.jsonl import flatten
from phasewatch.io.jsonlines import first_json_object, loads
from phasewatch.io.lines import BadLine, as_step
from phasewatch.io.source import LineRecordSource, collect
from phasewatch.io.verl_names import unscale
from phasewatch.run import Run

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
        return [(as_step(obj["step"]), unscale(flatten(data)))]


def source(path: Path, follow: bool = False, notice=None) -> LineRecordSource:
    path = Path(path)
    src = LineRecordSource(path, FORMAT, LineParser, follow=follow, notice=notice)
    src.info.name = path.stem
    return src


def read(path: Path) -> Run:
    return collect(source(path))
