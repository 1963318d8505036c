"""`StepSeries`: one metric's values by step as two numpy arrays.

The analysis path (metric choice, supporting signals, phases, `inspect`, `changepoints`) works
on these rather than on `pandas.Series`: importing pandas costs more than a whole `analyze` of
a 100k-step run does without it. `Run.series` still gives the pandas view for users who want
one (`StepSeries.to_pandas`); pandas is imported only there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class StepSeries:
    """`values[i]` was logged at `steps[i]` (int64; ascending and distinct when it comes from
    a `Run`); `name` is the metric's own name in the log. The arrays are the series' own."""

    name: str
    steps: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.steps.size)

    @property
    def size(self) -> int:
        return int(self.steps.size)

    def _take(self, keep: np.ndarray) -> StepSeries:
        if keep.all():
            return self
        return StepSeries(self.name, self.steps[keep], self.values[keep])

    def between(self, lo: float, hi: float) -> StepSeries:
        """The points with lo <= step <= hi."""
        return self._take((self.steps >= lo) & (self.steps <= hi))

    def since(self, lo: float) -> StepSeries:
        """The points with step >= lo."""
        return self._take(self.steps >= lo)

    def finite(self) -> StepSeries:
        """The points whose value is finite (NaN and infinities left out)."""
        return self._take(np.isfinite(self.values))

    def dropna(self) -> StepSeries:
        """The points whose value is not NaN (infinities kept, as pandas' `dropna` does)."""
        return self._take(~np.isnan(self.values))

    def to_pandas(self) -> pd.Series:
        """A `pandas.Series` of copies of the values, indexed by `step` (imports pandas)."""
        import pandas as pd

        return pd.Series(self.values.copy(), name=self.name, copy=False,
                         index=pd.Index(self.steps.copy(), name="step", copy=False))

    @classmethod
    def from_pandas(cls, series: Any, name: str | None = None) -> StepSeries:
        """From a `pandas.Series` indexed by step (token signals come as those)."""
        return cls(str(series.name if name is None else name),
                   series.index.to_numpy(dtype=np.int64),
                   series.to_numpy(dtype=np.float64))
