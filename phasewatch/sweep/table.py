"""Rows -> one table (pandas), and writing it as CSV, Parquet or JSON."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from phasewatch.errors import UsageError
from phasewatch.step_units import unit_scale, unit_word
from phasewatch.sweep.row import HP_PREFIX, ID_COLUMNS, PHASE_COLUMNS, STEP_COLUMNS, TOKEN_COLUMNS

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json"}


def build_table(rows: Sequence[dict[str, Any]]):
    """A DataFrame, one row per run: identity, phase summary, tokens, `hp.*` (sorted), error.
    Columns that no run has (e.g. no token store anywhere) are kept, empty, so tables of
    different sweeps line up."""
    import pandas as pd

    hp = sorted({k for r in rows for k in r if k.startswith(HP_PREFIX)})
    columns = [*ID_COLUMNS, *PHASE_COLUMNS, *TOKEN_COLUMNS, *hp, "error"]
    rows = [_in_epochs(r) for r in rows]
    frame = pd.DataFrame.from_records([{c: r.get(c) for c in columns} for r in rows],
                                      columns=columns)
    for col in ("seed", *STEP_COLUMNS, "n_changepoints", "n_warnings"):
        values = [r.get(col) for r in rows if r.get(col) is not None]
        if all(isinstance(v, int) for v in values):  # epochs (an HF console log): floats
            frame[col] = pd.array(frame[col], dtype="Int64")
        else:
            frame[col] = pd.to_numeric(frame[col])
    for col in hp:  # a hyperparameter a few runs lack stays numeric if the others are
        values = [r[col] for r in rows if r.get(col) is not None]  # as read (pandas: floats)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            # integers stay integers (max_steps 250, not 250.0) where a run lacks the key
            whole = values and all(isinstance(v, int) for v in values)
            frame[col] = (pd.array([r.get(col) for r in rows], dtype="Int64") if whole
                          else pd.to_numeric(frame[col]))
    return frame


def _in_epochs(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with its steps as the person reads them: an HF console log's epoch x 10,000
    (`step_unit` "epoch/10000") as its epoch, 1.35, and `step_unit` "epoch"."""
    unit = row.get("step_unit") or "step"
    scale = unit_scale(unit)
    out = {**row, "step_unit": unit_word(unit) if row.get("error") is None else row.get("step_unit")}
    if scale != 1:
        out.update({c: round(row[c] / scale, 6) for c in STEP_COLUMNS if row.get(c) is not None})
    return out


def output_format(path: str | None, fmt: str | None = None) -> str:
    if fmt:
        return fmt
    if path is None or path == "-":
        return "csv"
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"{path}: unknown table format {suffix!r}; use .csv, .parquet or .json "
                         "(or --format)")
    return FORMATS[suffix]


def records(frame) -> list[dict[str, Any]]:
    """JSON-ready rows (None for missing; numpy scalars as Python numbers)."""
    from phasewatch.output import jsonable

    out = []
    for rec in frame.astype(object).where(frame.notna(), None).to_dict("records"):
        out.append(jsonable(rec))
    return out


def write_table(frame, path: str | None, fmt: str, key: str = "runs") -> None:
    """Write to `path` ('-' or None: stdout). JSON is `{"schema_version": 1, "runs": [...]}`
    (`key`: "configs" for `by_config`'s table)."""
    if fmt == "parquet":
        if path in (None, "-"):
            raise UsageError("parquet goes to a file: give -o TABLE.parquet")
        try:
            frame.to_parquet(path, index=False)
        except ImportError as exc:
            raise UsageError("writing parquet needs pyarrow: pip install pyarrow") from exc
        return
    if path in (None, "-"):
        _write_text(frame, sys.stdout, fmt, key)
        return
    with open(path, "w", encoding="utf-8", newline="") as stream:
        _write_text(frame, stream, fmt, key)


def _write_text(frame, stream, fmt: str, key: str = "runs") -> None:
    if fmt == "json":
        from phasewatch.output import emit_json

        emit_json({key: records(frame)}, stream)
    else:
        # 12 significant digits: a difference read as -0.30000000000000004 is -0.3 (trial 37)
        frame.to_csv(stream, index=False, lineterminator="\n", float_format="%.12g")
