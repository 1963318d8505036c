"""Stable-Baselines3's `Monitor` file (`<n>.monitor.csv`): one row per finished episode.

SB3's `Monitor` wrapper (`stable_baselines3.common.monitor`, also gym's old `Monitor` and
OpenAI Baselines') writes a JSON comment line, then a CSV header and one row per episode:

    #{"t_start": 1713849656.072508, "env_id": "ALE/Breakout-v5"}
    r,l,t
    0.0,171,0.910399
    2.0,254,2.011377

`r` is the episode's return, `l` its length in environment steps, `t` the seconds since
`t_start`; `info_keywords` add columns. The step is the environment steps taken when the
episode ended, the running sum of `l`: SB3's own `plot_results` puts episodes on that axis
(`X_TIMESTEPS`), and its `progress.csv` counts `time/total_timesteps` the same way. Names are
kept as written (`r`, `l`, `t`); the header line's `env_id` goes to the run's config. The
return `r` is the run's declared performance metric, higher is better (as `plot_results`
plots it): a file holds no other, and `analyze 0.monitor.csv` stopped at "no performance
metric found ... Metrics in this run: l, r, t" (mvillarios/vizdoom's `eval_monitor.csv`). With
several environments each writes its file (`0.monitor.csv`, `1.monitor.csv`...): a folder of
runs, one per environment.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from phasewatch.io.lines import BadLine, as_step
from phasewatch.io.source import LogFileSource

FORMAT = "sb3_monitor"
LENGTH = "l"
RETURN = "r"


def sniff(path: Path, head: bytes) -> bool:
    if not path.is_file() or not head.startswith(b"#{"):
        return False
    lines = head.decode("utf-8", "replace").splitlines()
    if len(lines) < 2:
        return False
    try:
        meta = json.loads(lines[0][1:])
    except ValueError:
        return False
    columns = [c.strip() for c in lines[1].split(",")]
    return isinstance(meta, dict) and "t_start" in meta and columns[:3] == ["r", "l", "t"]


class LineParser:
    """The comment, the header, then one episode per row at the running sum of its lengths."""

    def __init__(self) -> None:
        self.columns: list[str] | None = None
        self.steps = 0
        self.config: dict[str, Any] = {}

    @property
    def settings(self) -> dict[str, Any]:
        return self.config

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        text = line.rstrip("\r\n")
        if text.startswith("#"):
            try:
                meta = json.loads(text[1:])
            except ValueError:
                return []
            if isinstance(meta, dict) and isinstance(meta.get("env_id"), str):
                self.config = {"env_id": meta["env_id"]}
            return []
        if not text.strip():
            return []
        cells = next(csv.reader([text]))
        if self.columns is None:
            self.columns = [c.strip() for c in cells]
            return []
        if len(cells) != len(self.columns):
            raise BadLine(f"{len(cells)} cells under {len(self.columns)} columns")
        row = dict(zip(self.columns, cells))
        try:
            self.steps += as_step(row[LENGTH])
        except (KeyError, ValueError):
            raise BadLine(f"an episode length that is no whole number ({row.get(LENGTH)!r})") from None
        return [(self.steps, row)]


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = "Monitor rows (r,l,t per episode) after a `#{\"t_start\": ...}` line"
    cut_line_may_parse = True

    def __init__(self, path: Path, follow: bool = False, notice=None):
        super().__init__(path, follow=follow, notice=notice)
        self.info.performance_metric, self.info.direction = RETURN, "max"  # module docstring


source = Source.open
read = Source.run_of
