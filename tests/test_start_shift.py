"""A change at the first update that then holds, on a dense run (`phasewatch.start_shift`)."""

import numpy as np
import pytest

from phasewatch.analysis import analyze_run
from tests.test_phases import check_contract, make_run, names


def _flat_after_first(first, n=1200, level=1.1, sd=0.04, seed=0):
    rng = np.random.default_rng(seed)
    y = level + rng.normal(0, sd, n)
    y[0] = first
    return y


def test_a_train_loss_logged_before_it_fell_is_an_improvement_then_a_plateau():
    """A loss logged at step 1 at 1.50, then 1.10 +- 0.04 for 400 steps (a stanford_alpaca
    trainer_state.json): one plateau "1.50 -> 1.13, change -9.5 sd" contradicted its name."""
    y = _flat_after_first(1.5)
    steps = np.arange(1, y.size + 1)
    a = analyze_run(make_run(y, steps=steps, metric="loss"))
    assert names(a) == ["improvement", "plateau"]
    first, flat = a.phases
    assert (first.start_step, first.end_step) == (1, 2)
    # its end is the level the plateau holds there (a dense run: `trend_edges`), not y[1]
    assert first.stats["start_value"] == 1.5 and first.stats["end_value"] == flat.stats["start_value"]
    assert first.stats["change"] == pytest.approx(flat.stats["start_value"] - 1.5)
    assert abs(flat.stats["change_sd"]) < 4
    check_contract(a, steps)


def test_a_fall_at_the_first_update_that_holds_is_a_disruption():
    y = _flat_after_first(0.6, level=0.5, sd=0.01, seed=1)
    a = analyze_run(make_run(y))
    assert names(a) == ["disruption", "plateau"]
    assert a.phases[0].stats["trough_step"] == 10


@pytest.mark.parametrize("first", [1.25, 1.16])
def test_a_first_reading_within_the_noise_or_matched_later_stays_in_the_plateau(first):
    """1.25 is 3.75 sds above the level (not a move); 1.16 lies inside the range of the
    evaluations after it (the run comes back to it)."""
    y = _flat_after_first(first)
    a = analyze_run(make_run(y, metric="loss"))
    assert names(a) == ["plateau"]



def test_a_plateau_is_reported_between_the_levels_it_holds():
    """A noisy train loss whose first reading is 3.75 sds high stays one plateau; its edges
    differ by ~4 sds, but the levels it holds at its start and end (the medians of its first
    and last thirds) do not (MetaMath trainer_state.json: 'plateau 1.037 -> 0.6456, change
    -3.2 sd' on a flat loss): those are its start and end values, and its change."""
    from phasewatch.commands.analyze import phase_line

    y = _flat_after_first(1.25)
    a = analyze_run(make_run(y, metric="loss"))
    (flat,) = a.phases
    third = y.size // 3
    assert flat.stats["start_value"] == pytest.approx(np.median(y[:third]))
    assert flat.stats["end_value"] == pytest.approx(np.median(y[-third:]))
    assert flat.stats["change"] == pytest.approx(np.median(y[-third:]) - np.median(y[:third]))
    assert abs(flat.stats["change_sd"]) < 1 and flat.stats["drift"] == flat.stats["change"]
    assert flat.stats["level"] == pytest.approx(float(np.median(y)))
    assert f"change {flat.stats['change']:+.4g}" in phase_line(flat, "min")
    assert f"level {flat.stats['level']:.4g}" in phase_line(flat, "min")


def test_a_sparse_collapse_that_then_holds_is_a_disruption_then_a_plateau():
    """Trial 35: a held-out accuracy of 6 and 8 evaluations, 0.597 then ~0.05 to the end,
    read a noise sd of 0.16 from the collapse itself and was one plateau "as good within the
    noise" as the start; a rise to a ceiling likewise. Tested as the 3-5-evaluation runs are:
    the later evaluations against the first, judged against their own scatter."""
    collapse = np.array([0.59655, 0.05128, 0.05068, 0.05048, 0.05048, 0.05048])
    steps = np.arange(collapse.size) * 80
    a = analyze_run(make_run(collapse, steps=steps, metric="eval/accuracy"))
    assert names(a) == ["disruption", "plateau"] and a.recommended_stop_step == 0
    assert a.extra["noise_sd"] < 0.001 and a.phases[0].stats["change_sd"] < -100
    ceiling = np.array([0.5302, 0.5961, 0.5968, 0.5968, 0.5968, 0.5947])
    assert names(analyze_run(make_run(ceiling, steps=steps, metric="eval/accuracy"))) == [
        "improvement", "plateau"]
