"""W&B's run history as JSON lines: `wandb-history.jsonl` (the run folders of wandb < 0.10).

Before its `.wandb` transaction log (0.10, 2020), the wandb SDK kept a run in a folder of plain
files (`wandb/run-<time>-<id>/`, or the `wandb/` folder itself in the oldest versions):
`wandb-history.jsonl` (one line per `wandb.log` call), `wandb-events.jsonl` (system metrics:
CPU, GPU, memory, every 30 s, no step), `wandb-summary.json` (each key's last value),
`config.yaml`, `wandb-metadata.json`, `output.log` and `media/`. Those folders are still
committed to many repositories.

The history is the run: a line's `_step` (W&B's counter of `wandb.log` calls, or the `step=`
the script passed, as Hugging Face's old callback passed its global step) is its step, unless
the run logs its own counter in its rows (`iter`, `global_step`, ...: `wandb_counter`, the
rule a `.wandb` file's rows are read by). Keys
starting with `_` (`_step`, `_runtime`, `_timestamp`) are W&B's bookkeeping, not metrics, as
in a `.wandb` file (`io.wandb`); a logged media object, histogram or table (an object with a
`_type`: `{"_type": "video-file", "path": ..., "size": 192147}`) is no number and is left out
(its `size` is not a metric); other nested objects are flattened with `.`, as W&B names them.
The run is named after its folder. `config.yaml` is not read (YAML); `wandb-events.jsonl` is
the machine's (no `_step`), read as plain JSON lines if given.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from phasewatch.io.jsonlines import head_lines, loads
from phasewatch.io.lines import BadLine, as_step
from phasewatch.io.source import LineRecordSource, collect
from phasewatch.io.wandb_counter import OwnCounter
from phasewatch.run import Run

FORMAT = "wandb_history"
HISTORY = "wandb-history.jsonl"
STEP = "_step"
BOOKKEEPING = ("_runtime", "_timestamp")


def sniff(path: Path, head: bytes) -> bool:
    """Two JSON lines with `_step` and `_runtime` or `_timestamp`: a `wandb-summary.json`, one
    object of the same keys (each key's last value), is no history and stays plain JSON."""
    if not path.is_file():
        return False
    rows = []
    for line, complete in head_lines(head, limit=2):
        try:
            rows.append(loads(line) if complete else None)
        except ValueError:
            return False
    return len(rows) == 2 and all(_history_row(row) for row in rows)


def _history_row(row: Any) -> bool:
    return isinstance(row, dict) and STEP in row and any(key in row for key in BOOKKEEPING)


def metrics_of(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A history row's metrics: no `_` bookkeeping, no media objects, nested keys `a.b`."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if str(key).startswith("_"):
            continue
        if isinstance(value, Mapping):
            if "_type" not in value:
                out.update(metrics_of(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


class LineParser:
    def __init__(self) -> None:
        self.counter = OwnCounter()

    @property
    def notes(self) -> list[str]:
        note = self.counter.note()
        return [note] if note else []

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        row = loads(line)
        if not isinstance(row, dict):
            raise BadLine("not a JSON object")
        if STEP not in row:
            raise BadLine("a history row without W&B's '_step'")
        values = metrics_of(row)
        counter = self.counter
        counter.see(row, bool(values))
        if counter.key is None:
            return [(as_step(row[STEP]), values)] if values else []
        values.pop(counter.key, None)  # the step, no metric
        return [(counter.step(), values)] if values else []


def source(path: Path, follow: bool = False, notice=None) -> LineRecordSource:
    path = Path(path)
    src = LineRecordSource(path, FORMAT, LineParser, what="W&B history rows", follow=follow,
                           notice=notice)
    src.info.name = path.parent.name if path.name == HISTORY else path.stem
    return src


def read(path: Path) -> Run:
    return collect(source(path))
