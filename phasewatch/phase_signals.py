"""The supporting signals `analyze_run` reports per phase (JSON `signals`): each series' mean,
start and end within the phase, and the per-step signals of the expert log-prob store."""

from __future__ import annotations

import numpy as np

from phasewatch.results import Phase
from phasewatch.run import Run
from phasewatch.stepseries import StepSeries


def signal_stats(signals: dict[str, StepSeries], phase: Phase) -> dict[str, dict[str, float]]:
    """Each supporting series within `phase`: its mean, and its start and end as the medians of
    the phase's first and last tenth of its values (docs/detection.md)."""
    out = {}
    for name, series in signals.items():
        window = series.between(phase.start_step, phase.end_step).finite().values
        if window.size == 0:
            continue
        head = np.median(window[: max(1, window.size // 10)])
        tail = np.median(window[-max(1, window.size // 10):])
        out[name] = {"mean": float(window.mean()), "start": float(head), "end": float(tail),
                     "change": float(tail - head)}
    return out


def token_signals(run: Run, warnings: list[str]) -> dict[str, StepSeries]:
    """Per-step signals from the expert log-prob store, when the tokens module is present."""
    try:
        from phasewatch.tokens import step_signals_for_run
    except (ImportError, AttributeError):
        return {}
    from phasewatch.errors import InputError

    try:
        return dict(step_signals_for_run(run, warnings))
    except InputError as exc:
        warnings.append(f"token store not used: {exc}")
        return {}
