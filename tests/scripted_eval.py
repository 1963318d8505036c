"""A scripted held-out accuracy for the Trainer callback tests (HF and TRL).

The tiny models really train, but their accuracy on toy data has no overfit to find; the
tests instead report this curve from `compute_metrics`, so they know where the peak is.
"""

from __future__ import annotations

import numpy as np

N_EVALS = 200
PEAK = 60


def scripted_accuracy(seed: int = 0) -> np.ndarray:
    """Rise to the peak at evaluation PEAK, then a steady decline, plus small noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(N_EVALS + 1)
    curve = np.where(t < PEAK, 0.4 + 0.3 * t / PEAK, 0.7 - 0.3 * (t - PEAK) / (N_EVALS - PEAK))
    return curve + rng.normal(0, 0.005, t.size)


class ScriptedMetrics:
    """`compute_metrics` that returns the next scripted accuracy; `calls` counts evaluations."""

    def __init__(self, seed: int = 0, accuracy: np.ndarray | None = None):
        self.accuracy = scripted_accuracy(seed) if accuracy is None else accuracy
        self.calls = 0

    def __call__(self, _eval_prediction) -> dict[str, float]:
        value = float(self.accuracy[min(self.calls, len(self.accuracy) - 1)])
        self.calls += 1
        return {"accuracy": value}
