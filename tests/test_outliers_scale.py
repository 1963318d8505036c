"""What an outlier is judged against: the noise of the part of the run it lies in, the noise the
user gives, and never the first evaluations of a new training stage (phasewatch.signals.prepare,
phasewatch.outliers.local_scale)."""

from __future__ import annotations

import json

import numpy as np

import phasewatch
from phasewatch.outliers import local_scale, spike_mask
from phasewatch.signals import outlier_scale


def native_run(folder, values, every=10, events=()):
    """A native run folder of an accuracy logged every `every` steps, with `events`
    ((step, name) pairs)."""
    folder.mkdir()
    with open(folder / "metrics.jsonl", "w") as out:
        out.writelines(json.dumps({"step": every * k, "eval/accuracy": float(v)}) + "\n"
                       for k, v in enumerate(values))
    (folder / "run.json").write_text(json.dumps({
        "schema_version": 1, "name": folder.name, "performance_metric": "eval/accuracy",
        "direction": "max", "events": [{"step": s, "name": n} for s, n in events]}))
    return folder


def repeats_then_scatter(seed=0):
    """A greedy accuracy on 500 fixed prompts: one reading repeated while the model does not
    change (60 evaluations), then a rise with the scatter of its later readings (sd 0.012),
    in multiples of 0.002, as rl_s2 of the paper trial logged it."""
    rng = np.random.default_rng(seed)
    rise = 0.56 + 0.17 * (1 - np.exp(-np.arange(90) / 30.0)) + rng.normal(0, 0.012, 90)
    return np.round(np.r_[np.full(60, 0.56), rise] / 0.002) * 0.002


def test_a_long_stretch_of_exact_repeats_leaves_the_later_scatter_in(tmp_path):
    y = repeats_then_scatter()
    # the run's noise, read from differences 40% of which are exact zeros, is a third of the
    # scatter the rise's readings have
    assert outlier_scale(y)[0] < 0.005 and outlier_scale(y)[-1] > 0.009
    analysis = phasewatch.analyze(native_run(tmp_path / "r", y))
    assert analysis.extra.get("outlier_steps", []) == []
    assert not any("outlier" in w for w in analysis.warnings)


def test_a_failed_evaluation_in_the_noisy_part_is_still_left_out(tmp_path):
    y = repeats_then_scatter()
    y[120] = 0.0  # a failed evaluation among readings that scatter by 0.012
    assert np.flatnonzero(spike_mask(y, outlier_scale(y))).tolist() == [120]
    y[30] = 0.4  # and one on the stretch of repeats
    assert np.flatnonzero(spike_mask(y, outlier_scale(y))).tolist() == [30, 120]


def test_the_local_scale_keeps_the_runs_where_its_noise_is_one_size():
    rng = np.random.default_rng(3)
    y = np.linspace(0.2, 0.8, 200) + rng.normal(0, 0.01, 200)
    assert np.all(local_scale(y, 0.01) == 0.01)  # no stretch 3 times noisier: the run's
    short = y[:15]  # fewer evaluations than a window: the run's noise, or its own if larger
    assert np.all(local_scale(short, 0.01) == max(0.01, phasewatch.noise.noise_scale(short)))


def test_a_given_noise_is_what_outliers_are_judged_against(tmp_path):
    rng = np.random.default_rng(1)
    y = np.round((0.7 + rng.normal(0, 0.004, 40)) / 0.002) * 0.002
    y[20] = y[19] + 0.045  # 11 of the run's noise sds, 3 of the given one
    folder = native_run(tmp_path / "g", y)
    assert phasewatch.analyze(folder).extra["outlier_steps"] == [200]
    assert phasewatch.analyze(folder, noise_sd=0.015).extra.get("outlier_steps", []) == []
    # the binomial noise of 500 items, 0.0205 at 0.7, the same
    assert phasewatch.analyze(folder, eval_size=500).extra.get("outlier_steps", []) == []


def after_switch():
    """An SFT stage that rises to 0.82, then an RL stage whose fresh optimizer drops the
    accuracy 11 points at the first evaluation after the switch (step 750) and brings it back
    over 60 steps (sft_then_rl_s1 of the paper trial: 0.822, 0.712, 0.756, 0.760, ...)."""
    rng = np.random.default_rng(2)
    sft = 0.82 - 0.26 * np.exp(-np.arange(76) / 15.0) + rng.normal(0, 0.006, 76)
    rl = np.r_[0.712, 0.756, 0.760, 0.776, 0.788, 0.812,
               0.82 + 0.1 * np.arange(69) / 68 + rng.normal(0, 0.012, 69)]
    return np.round(np.r_[sft, rl] / 0.002) * 0.002


def test_the_first_evaluations_after_a_stage_switch_are_no_outliers(tmp_path):
    y = after_switch()
    plain = phasewatch.analyze(native_run(tmp_path / "plain", y))
    assert 760 in plain.extra["outlier_steps"]  # without the switch, its neighbours contradict it
    staged = phasewatch.analyze(native_run(tmp_path / "staged", y, events=[(750, "sft_to_rl")]))
    assert 760 not in staged.extra.get("outlier_steps", [])
    # ... and it is the RL stage's disruption, recovered from in the readaptation after it
    rl = [(p.name, p.start_step, p.end_step) for p in staged.phases if p.start_step >= 750]
    assert rl[0] == ("disruption", 750, 760) and rl[1][0] == "readaptation"
    # --no-events reads the run as one: the switch exempts nothing then
    unstaged = phasewatch.analyze(native_run(tmp_path / "u", y, events=[(750, "sft_to_rl")]),
                                  use_events=False)
    assert 760 in unstaged.extra["outlier_steps"]
