"""Writing the native run folder (DESIGN.md "Native run folder") as training goes.

`metrics.jsonl` is appended one line per step and flushed, so `phasewatch watch --follow` can read
a live run and an interrupted run leaves a readable partial log. `run.json` is rewritten (atomically)
whenever an event is recorded and at the end. `phasewatch join` writes its joined run with it too
(no token store: `probe_sequences` None).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from phasewatch.tokens import TokenStoreWriter


def _clean(value: Any) -> Any:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class RunWriter:
    def __init__(self, folder: Path, name: str, algorithm: str, config: dict[str, Any],
                 probe_sequences: list[dict[str, Any]] | None,
                 performance_metric: str | None = "eval/accuracy", direction: str | None = "max"):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.meta = {
            "schema_version": 1,
            "name": name,
            "algorithm": algorithm,
            "performance_metric": performance_metric,
            "direction": direction,
            "events": [],
            "config": config,
        }
        self._write_meta()
        # Kept open for the whole run (closed by `close`): one line per step, flushed.
        self.metrics = open(self.folder / "metrics.jsonl", "w", encoding="utf-8")  # noqa: SIM115
        self.tokens = (TokenStoreWriter(self.folder / "expert_logprobs", probe_sequences, "float16")
                       if probe_sequences is not None else None)

    def log(self, step: int, values: dict[str, float]) -> None:
        row = {"step": int(step), **{k: _clean(v) for k, v in values.items()}}
        self.metrics.write(json.dumps(row) + "\n")
        self.metrics.flush()

    def event(self, step: int, name: str) -> None:
        self.meta["events"].append({"step": int(step), "name": name})
        self._write_meta()

    def store_logprobs(self, step: int, logprobs) -> None:
        if self.tokens is None:
            raise ValueError("this run folder was opened without probe sequences")
        self.tokens.append(step, logprobs)

    def close(self, **extra: Any) -> None:
        self.meta.update(extra)
        self._write_meta()
        self.metrics.close()

    def _write_meta(self) -> None:
        path = self.folder / "run.json"
        tmp = path.with_name("run.json.tmp")
        tmp.write_text(json.dumps(self.meta, indent=1), encoding="utf-8")
        os.replace(tmp, path)
