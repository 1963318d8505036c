"""The native run folder the reference trainer writes (DESIGN.md "Native run folder").

RUN/metrics.jsonl  {"step": int, "<metric>": number|null, ...} per line, keys may be sparse
RUN/run.json       name, algorithm, performance_metric, direction, events, config
RUN/expert_logprobs/  optional token store (see phasewatch.tokens)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from phasewatch.errors import InputError
from phasewatch.io.jsonlines import iter_lines, loads, skipped_summary
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

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        """Records in this line; raises ValueError (with a reason) if it is not one."""
        obj = loads(line)
        if not isinstance(obj, dict):
            raise ValueError("not a JSON object")
        for key in self.step_keys:
            if key in obj:
                step = _as_step(obj[key])
                values = {k: v for k, v in obj.items() if k != key}
                return [(step, values)]
        raise ValueError("no 'step' key")


def _as_step(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"step is not an integer: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    raise ValueError(f"step is not an integer: {value!r}")


def read_lines(path: Path, parser, collector: RecordCollector) -> None:
    """Feed every line of `path` to `parser`; bad lines become warnings, never a crash.

    A file where no line parses is an InputError naming its first bad line.
    """
    bad: list[int] = []
    first_error = None
    total = 0
    last_lineno = 0
    for lineno, text in iter_lines(path):
        total += 1
        last_lineno = lineno
        try:
            records = parser.feed(text, lineno)
        except (ValueError, TypeError) as exc:
            bad.append(lineno)
            if first_error is None:
                first_error = (lineno, str(exc))
            continue
        for step, values in records:
            collector.add(step, values, lineno)
    if total == 0:
        raise InputError("the file holds no records (empty)", path)
    if collector.n_records == 0:
        lineno, reason = first_error if first_error else (None, "no records")
        raise InputError(f"no valid record in the file; first problem: {reason}", path, lineno)
    if bad:
        if bad == [last_lineno]:
            collector.warn(f"skipped the last line, which is incomplete (truncated write?)", last_lineno)
        else:
            collector.warn(skipped_summary(bad, total))


def read(path: Path) -> Run:
    folder = path if path.is_dir() else path.parent
    metrics_path = folder / METRICS_FILE
    meta = _read_run_json(folder / RUN_FILE)
    collector = RecordCollector(folder, FORMAT)
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


def _read_run_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", path) from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", path, exc.lineno) from exc
    if not isinstance(meta, dict):
        raise InputError("run.json must hold a JSON object", path)
    return meta
