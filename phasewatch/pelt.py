"""The exact optimal partition of a series into least-squares segments (PELT, Killick et al.,
2012), each segment's cost in O(1) from prefix sums (`Cumsums`); `changepoint.Segmenter` sets
the penalty, the minimum size and the model, and refines what it finds."""

from __future__ import annotations

import numpy as np

# "normal" model: no segment's variance counts as below this fraction of the run's noise
# variance (sd: half the robust noise sd). Without a floor a quantised or capped stretch of
# identical values buys an arbitrarily good fit and is cut out as its own segment; a segment
# *noisier* than the run (a burst, a variance increase) still costs more, so variance changes
# upward and back are found.
VAR_FLOOR = 0.25
# Up to this many points PELT takes every segment's cost from one (n+1)^2 array computed at once
# (under 2 MB at 400): the live monitor refits a short run at every evaluation.
WHOLE_COST_MAX = 400


class Cumsums:
    """Prefix sums of x, x^2, y, xy, y^2 so any segment's least-squares fit costs O(1)."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        z = np.zeros((1,))
        self.c0 = np.arange(x.size + 1, dtype=np.float64)
        self.cx = np.concatenate([z, np.cumsum(x)])
        self.cxx = np.concatenate([z, np.cumsum(x * x)])
        zd = np.zeros((1, y.shape[1]))
        self.cy = np.concatenate([zd, np.cumsum(y, axis=0)])
        self.cxy = np.concatenate([zd, np.cumsum(x[:, None] * y, axis=0)])
        self.cyy = np.concatenate([z, np.cumsum((y * y).sum(axis=1))])

    def rss(self, s, t, model: str) -> np.ndarray:
        """Residual sum of squares of segments [s, t) (s, t int arrays or scalars)."""
        n = self.c0[t] - self.c0[s]
        sy = self.cy[t] - self.cy[s]
        syy = self.cyy[t] - self.cyy[s]
        inv_n = 1.0 / np.maximum(n, 1.0)
        vy = syy - (sy * sy).sum(axis=-1) * inv_n
        if model == "mean":
            return np.maximum(vy, 0.0)
        sx = self.cx[t] - self.cx[s]
        vx = (self.cxx[t] - self.cxx[s]) - sx * sx * inv_n
        cxy = (self.cxy[t] - self.cxy[s]) - sy * np.expand_dims(sx * inv_n, -1)
        with np.errstate(divide="ignore", invalid="ignore"):
            explained = np.where(vx > 1e-12, (cxy * cxy).sum(axis=-1) / vx, 0.0)
        return np.maximum(vy - explained, 0.0)

    def cost(self, s, t, model: str) -> np.ndarray:
        rss = self.rss(s, t, model)
        if model != "normal":
            return rss
        n = self.c0[t] - self.c0[s]
        # -2 log-likelihood with the segment's own variance, floored (see VAR_FLOOR).
        return n * np.log(np.maximum(rss / np.maximum(n, 1.0), VAR_FLOOR))


def pelt(sums: Cumsums, n: int, penalty: float, min_size: int, model: str,
         lone_first: bool = False) -> list[int]:
    """Exact optimal partition under `penalty` per change point (PELT pruning).

    `lone_first` lets the first point be a segment of its own despite `min_size`: training
    logs often start with an evaluation before the first update, a regime of its own (the
    level a disruption falls from). Returns the segment starts (excluding 0), ascending.
    """
    if n < 2 * min_size:
        return []
    whole = None  # every segment's cost from one array operation, not one per step
    if n <= WHOLE_COST_MAX:
        ends = np.arange(n + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            whole = sums.cost(ends[:, None], ends[None, :], model)
    best = np.full(n + 1, np.inf)
    best[0] = -penalty
    last = np.zeros(n + 1, dtype=np.int64)
    candidates = np.zeros(1, dtype=np.int64)
    if lone_first and n > min_size + 1:
        best[1] = float(sums.cost(0, 1, model))  # -penalty + cost of one point + penalty
        candidates = np.array([0, 1], dtype=np.int64)
    for t in range(min_size, n + 1):
        eligible = candidates[candidates <= t - min_size]
        if eligible.size:
            totals = best[eligible] + (whole[eligible, t] if whole is not None
                                       else sums.cost(eligible, t, model))
            k = int(np.argmin(totals))
            best[t] = totals[k] + penalty
            last[t] = eligible[k]
            keep = np.ones(candidates.size, dtype=bool)
            keep[candidates <= t - min_size] = totals <= best[t]
            candidates = candidates[keep]
        if t <= n - min_size:
            candidates = np.append(candidates, t)
    breaks, t = [], n
    while t > 0:
        s = int(last[t])
        if s > 0:
            breaks.append(s)
        t = s
    return sorted(breaks)
