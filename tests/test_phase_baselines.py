"""The standard comparators of benchmarks/phase_baselines.py run and see what is plain to see.

They are benchmark code (segmented regression with BIC, ruptures PELT), not part of the package;
these checks keep `bench_phase_accuracy.py --method ...` from silently scoring a broken
comparator: an obvious dip is a disruption then a readaptation with boundaries near the truth,
a flat run is one plateau, the naming rule does what its docstring says, and the prefix-sum
linear cost gives ruptures' own `linear` cost's breakpoints.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from phase_baselines import (
    METHODS,
    BaselineConfig,
    Fit,
    analyze_baseline,
    finite_series,
    name_segments,
    pelt_fit,
    segmented_fit,
)

from phasewatch.run import Run


def _run_from_table(steps, values, metric) -> Run:
    """A run holding one metric (the readers build runs the same way)."""
    return Run.from_columns({metric: (np.asarray(steps, dtype=np.int64),
                                      np.asarray(values, dtype=np.float64))}, "test", "test")


def dip(n: int, seed: int, sd: float = 0.01):
    """Start 0.5, fall to 0.2 at a quarter of the run, recover to 0.6 at 3/4, flat after."""
    t = np.linspace(0, 1, n)
    curve = np.interp(t, [0, 0.25, 0.75, 1], [0.5, 0.2, 0.6, 0.6])
    return curve + np.random.default_rng(seed).normal(0, sd, n)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n,seed", [(12, 1), (30, 2), (80, 3)])
def test_obvious_dip_is_found(method, n, seed):
    y = dip(n, seed)
    run = _run_from_table(np.arange(n) * 10, y, "eval/accuracy")
    a = analyze_baseline(run, method, "eval/accuracy", "max", oracle_sd=0.01)
    names = [p.name for p in a.phases]
    assert names[:2] == ["disruption", "readaptation"], names
    trough = 10 * round(0.25 * (n - 1))
    interval = 10 * max(2, n // 15)  # within two evaluations (a few % of a dense run)
    assert abs(a.phases[1].start_step - trough) <= interval, (a.phases, trough)
    assert abs(a.baseline - 0.5) < 0.05
    # phases are contiguous and cover the run
    assert a.phases[0].start_step == 0 and a.phases[-1].end_step == 10 * (n - 1)
    for p, q in zip(a.phases, a.phases[1:]):
        assert p.end_step == q.start_step


@pytest.mark.parametrize("method", ["segmented", "pelt"])
def test_flat_run_is_one_plateau(method):
    y = 0.5 + np.random.default_rng(7).normal(0, 0.01, 40)
    run = _run_from_table(np.arange(40) * 5, y, "eval/accuracy")
    a = analyze_baseline(run, method, "eval/accuracy", "max")
    assert [p.name for p in a.phases] == ["plateau"]


def test_loss_is_turned_and_baseline_in_own_units():
    y = 2.0 - dip(30, 4)  # a loss: up then down is a disruption then readaptation
    run = _run_from_table(np.arange(30) * 10, y, "eval/loss")
    a = analyze_baseline(run, "segmented", "eval/loss", "min")
    assert [p.name for p in a.phases][:2] == ["disruption", "readaptation"]
    assert abs(a.baseline - 1.5) < 0.05


def test_naming_rule():
    steps = np.arange(5) * 10

    def names(starts, ends, sd=0.01):
        cuts = list(range(len(starts) + 1))
        return [p.name for p in name_segments(steps, Fit(cuts, starts, ends, sd), 2.0)]

    assert names([0.5, 0.2], [0.2, 0.6]) == ["disruption", "readaptation"]
    assert names([0.5, 0.2], [0.2, 0.2]) == ["disruption", "plateau"]   # a fall onto a floor
    assert names([0.5], [0.2]) == ["overfit"]                           # falls to the end
    assert names([0.5, 0.5], [0.5, 0.3]) == ["plateau", "overfit"]      # late decline
    assert names([0.2, 0.6], [0.6, 0.4]) == ["improvement", "overfit"]
    assert names([0.5, 0.5], [0.51, 0.5]) == ["plateau"]                # within 2 sd: merged
    # unjoined lines: the jump counts with the line after it
    assert names([0.5, 0.2], [0.5, 0.2]) == ["plateau", "overfit"]


def test_prefix_sum_cost_matches_ruptures_linear():
    cfg = BaselineConfig()
    rng = np.random.default_rng(5)
    for n in (20, 60):
        steps = np.sort(rng.choice(np.arange(1, 10 * n), n, replace=False))
        y = dip(n, n, sd=0.03)
        ours = pelt_fit(steps, y, cfg)
        theirs = pelt_fit(steps, y, cfg, builtin_cost=True)
        assert ours.cuts == theirs.cuts


def test_segmented_grid_refine_finds_the_knot_on_a_long_series():
    n = 200  # more candidates than the grid: coarse search, then one-evaluation moves
    t = np.arange(n, dtype=float)
    y = np.where(t < 123, 1.0, 1.0 - 0.01 * (t - 123)) + np.random.default_rng(0).normal(0, 0.002, n)
    fit = segmented_fit(t.astype(np.int64), y, BaselineConfig())
    assert any(abs(c - 123) <= 2 for c in fit.cuts[1:-1]), fit.cuts


def test_series_of_a_run_drops_non_finite_values():
    y = dip(20, 9)
    y[5] = np.nan
    run = _run_from_table(np.arange(20), y, "eval/accuracy")
    steps, values, sign, own, direction = finite_series(run, "eval/accuracy", "max")
    assert own == "eval/accuracy"
    assert values.size == 19 and 5 not in steps and sign == 1.0 and direction == "max"
