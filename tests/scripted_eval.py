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


def parity_dataset(n: int = 16):
    """A tiny classification dataset for the real Trainer tests: `n` rows of 6 token ids (0-19),
    labelled by the parity of their sum (torch imported here: the callers skip without it)."""
    import torch

    class Parity(torch.utils.data.Dataset):
        def __init__(self):
            g = torch.Generator().manual_seed(0)
            self.x = torch.randint(0, 20, (n, 6), generator=g)
            self.y = (self.x.sum(1) % 2).long()

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return {"input_ids": self.x[i], "labels": self.y[i]}

    return Parity()
