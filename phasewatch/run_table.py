"""A run's resolved columns as the tidy long pandas table `Run.table` shows (step, metric,
value), and back; pandas is imported only when a table is asked for."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from phasewatch.records import Columns

if TYPE_CHECKING:
    import pandas as pd


def columns_to_table(columns: Columns) -> pd.DataFrame:
    """The long table of resolved columns, sorted by metric then step."""
    import pandas as pd

    names = sorted(columns)
    if not names:
        return empty_table()
    counts = [columns[n][0].size for n in names]
    return pd.DataFrame(
        {
            "step": np.concatenate([columns[n][0] for n in names]).astype(np.int64, copy=False),
            "metric": pd.Series(np.repeat(np.array(names, dtype=object), counts), dtype=object),
            "value": np.concatenate([columns[n][1] for n in names]).astype(np.float64, copy=False),
        }
    )


def table_to_columns(table: pd.DataFrame) -> Columns:
    """Per metric its rows of `table`, ordered by step (stable: equal steps keep row order)."""
    import pandas as pd

    if table.empty:
        return {}
    codes, names = pd.factorize(table["metric"], sort=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    steps_all = table["step"].to_numpy(dtype=np.int64)
    values_all = table["value"].to_numpy(dtype=np.float64)
    out: Columns = {}
    for i, name in enumerate(names):
        rows = order[bounds[i]:bounds[i + 1]]
        steps = steps_all[rows]
        by_step = np.argsort(steps, kind="stable")
        out[name] = (steps[by_step], values_all[rows][by_step])
    return out


def empty_table() -> pd.DataFrame:
    """The long table of a run with no values."""
    import pandas as pd

    return pd.DataFrame(
        {"step": np.zeros(0, np.int64), "metric": pd.Series([], dtype=object),
         "value": np.zeros(0, np.float64)}
    )
