"""Runs for the PhaseMonitor tests: a three-phase curve with known truth (`three_phase`) and
the loop that feeds values to a monitor and collects its alerts (`feed`)."""

from __future__ import annotations

import numpy as np


def three_phase(n=300, seed=0, sd=0.01):
    """Start 0.5, dip to 0.35 around point 40, rise to 0.75 by point 150, then a steady decline
    from point 180 (the true peak) to 0.6 at the end. Steps are 10 apart."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    curve = 0.5 - 0.15 * np.exp(-(((t - 40) / 15) ** 2)) + 0.25 / (1 + np.exp(-(t - 100) / 10))
    curve = curve - np.where(t > 180, 0.15 * (t - 180) / (n - 180), 0.0)
    return t.astype(int) * 10, curve + rng.normal(0, sd, n), curve


def feed(monitor, steps, values, name="eval/accuracy", extra=None):
    alerts = []
    for i, (step, value) in enumerate(zip(steps, values)):
        record = {name: float(value)}
        if extra is not None:
            record.update(extra(i))
        alerts.extend(monitor.update(int(step), record))
    return alerts
