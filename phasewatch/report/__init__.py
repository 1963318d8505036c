"""`phasewatch report`: one self-contained HTML page for a sweep.

The page holds the sweep table (sortable, filterable), small multiples of every run's
performance metric with its phase bands, phase features against the swept hyperparameters,
seed groups as mean and confidence band, and a drill-down per run. Everything it needs is inline
(SVG charts, a small script and stylesheet), so it opens offline and can be mailed around.

The data are the sweep's (`phasewatch.sweep` tasks with `detail=True`): the same analysis as
`analyze` and `sweep`, not a second pipeline.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from phasewatch.output import counted
from phasewatch.plot.style import PHASE_COLORS
from phasewatch.report.assets import CSS, JS
from phasewatch.report.sections import (
    drill_down,
    features_vs_hps,
    run_title,
    seed_groups,
    small_multiples,
)

__all__ = ["build_report", "write_report"]
esc = html.escape


def _cell(value: Any) -> tuple[str, str, bool]:
    """(text shown, sort key, numeric?) of one table cell."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "", "", False
    try:
        import pandas as pd

        if pd.isna(value):
            return "", "", False
    except (TypeError, ValueError):
        pass
    if isinstance(value, bool):
        return str(value), str(value), False
    if isinstance(value, float):
        return f"{value:.4g}", repr(value), True
    if isinstance(value, int):
        return str(value), str(value), True
    return str(value), str(value), False


def sweep_table(results: list[dict[str, Any]]) -> str:
    from phasewatch.sweep.table import build_table, records

    rows = records(build_table([r["row"] for r in results]))
    columns = [c for c in rows[0] if c != "path"] if rows else []
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for c in columns:
            text, key, numeric = _cell(row[c])
            if c == "name":
                text = text or run_title(row)
                inner = f'<a href="#run-{i}" title="{esc(row["path"])}">{esc(text)}</a>'
            else:
                inner = esc(text)
            cells.append(f'<td data-v="{esc(key)}"{" class=n" if numeric else ""}>{inner}</td>')
        bad = ' class="bad"' if row.get("error") else ""
        body.append(f'<tr data-run="{i}"{bad}>{"".join(cells)}</tr>')
    return (f'<input id="filter" type="search" placeholder="filter runs (words in any column)">'
            f' <span class="note"><span id="count">{len(rows)}</span> runs shown</span>'
            f'<div class="wrap"><table class="sweep" id="sweep"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _phase_legend() -> str:
    """The phase names in the colours the charts' bands are tinted from (`PHASE_COLORS`)."""
    return ", ".join(f'<b style="color:{color}">{name}</b>' for name, color in PHASE_COLORS.items())


def build_report(results: list[dict[str, Any]], title: str = "phasewatch sweep report",
                 band: str = "ci95") -> str:
    """The HTML page (a string) for sweep results with detail; `band`: the seed groups' band
    (`plot.seeds.band_limits`)."""
    from phasewatch.sweep.row import failures

    rows = [r["row"] for r in results]
    summary = counted(len(results), "run") + (f", {failures(rows)}"
                                              if any(row.get("error") for row in rows) else "")
    left_out = any((r.get("detail") or {}).get("outliers") for r in results)
    dots = "; a grey dot, a reading the analysis left out as an outlier" if left_out else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1><p class=\"note\">{summary}. Phases: {_phase_legend()}; the "
        f"dashed line is the recommended checkpoint{dots}.</p>"
        f"<h2>Sweep table</h2>{sweep_table(results)}"
        # the summaries before the run-by-run views, which run to pages for a large sweep
        f"<h2>Seed groups</h2>{seed_groups(results, band)}"
        f"<h2>Phase features vs hyperparameters</h2>{features_vs_hps(results)}"
        f"<h2>Runs</h2><p class=\"note\">Each run's performance metric with its phases; click a"
        f" run for its drill-down.</p>{small_multiples(results)}"
        f"<h2>Drill-down</h2>{drill_down(results)}"
        f"<script>{JS}</script></body></html>\n")


def write_report(results: list[dict[str, Any]], path: str | Path, title: str | None = None,
                 band: str = "ci95") -> int:
    """Write the page; returns its size in bytes."""
    text = build_report(results, title or "phasewatch sweep report", band)
    data = text.encode("utf-8")
    Path(path).write_bytes(data)
    return len(data)
