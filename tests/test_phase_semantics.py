"""The phase names of issue #12's semantics on shapes that real runs have: a disruption is an
early fall; a fall later in a run, or one that never goes below the start, is not."""

import numpy as np
from test_phases import make_run, names

from phasewatch.analysis import analyze_run


def test_only_an_early_fall_is_a_disruption():
    """A fall from the start that slides for most of the run before it flattens is an overfit
    (held-out accuracy 0.71 -> 0.59 over 17 of 31 evaluations, the shape of a real HF run whose
    train loss fell throughout); the same drop over the first 5 is a disruption. A fall in the
    middle of a run that stays above the start and is recovered later is an overfit followed
    by an improvement, not a disruption / readaptation."""
    rng = np.random.default_rng(3)
    t = np.arange(31)
    slide = np.where(t < 17, 0.71 - 0.12 * t / 17, 0.59) + rng.normal(0, 0.006, t.size)
    assert names(analyze_run(make_run(slide))) == ["overfit", "plateau"]
    fast = np.where(t < 5, 0.71 - 0.12 * t / 5, 0.59) + rng.normal(0, 0.006, t.size)
    assert names(analyze_run(make_run(fast))) == ["disruption", "plateau"]

    t = np.arange(120)
    mid = np.interp(t, [0, 40, 60, 80, 119], [0.3, 0.7, 0.55, 0.7, 0.72]) + rng.normal(0, 0.01, t.size)
    analysis = analyze_run(make_run(mid))
    assert names(analysis)[:3] == ["improvement", "overfit", "improvement"]
    assert "disruption" not in names(analysis)


def test_a_short_collapse_inside_a_rise_is_part_of_the_rise():
    """A reward that collapses for 3% of a rising run and climbs on past its old level is one
    rise, also when the bottom of the collapse is a short flat stretch (the rounded turn joins
    the fall, and the fall is then a blip of the rise)."""
    rng = np.random.default_rng(4)
    t = np.arange(600)
    rise = np.interp(t, [0, 400, 599], [0.0, 1.0, 1.3])
    dip = (t >= 250) & (t < 268)
    y = rise - np.where(dip, 0.6, 0.0) + rng.normal(0, 0.05, t.size)
    phases = names(analyze_run(make_run(y)))
    assert "disruption" not in phases and "overfit" not in phases
    assert phases[0] == "improvement"


def test_a_train_loss_getting_worse_is_said_to_be_no_overfit_to_the_training_data():
    """A train loss that falls, climbs back for a sustained stretch and falls again has an
    'overfit' by its shape; the analysis says it is an instability of training (a train loss
    keeps fitting its training data), whether the loss was taken for want of a held-out metric
    or asked for. A held-out loss of the same shape gets no such note."""
    rng = np.random.default_rng(5)
    t = np.arange(150)
    loss = np.interp(t, [0, 50, 80, 110, 149], [2.0, 0.2, 0.6, 0.15, 0.12]) + rng.normal(0, 0.01, t.size)
    for options in ({}, {"metric": "train/loss"}):
        analysis = analyze_run(make_run(loss, metric="loss"), **options)
        assert "overfit" in names(analysis)
        [note] = [w for w in analysis.warnings if "instability of training" in w]
        overfit = next(p for p in analysis.phases if p.name == "overfit")
        assert f"({overfit.start_step} -> {overfit.end_step})" in note
    held_out = analyze_run(make_run(loss, metric="eval_loss"))
    assert "overfit" in names(held_out)
    assert not any("instability" in w for w in held_out.warnings)


def test_the_checkpoint_is_the_recovery_when_it_climbs_past_the_peak_an_overfit_fell_from():
    """Rise, a sustained fall, then a climb: above the old peak, the checkpoint to keep is in
    the climb (the peak is no longer the best); short of it, it stays at the peak."""
    rng = np.random.default_rng(6)
    t = np.arange(160)
    for end, later in ((0.85, True), (0.62, False)):
        y = np.interp(t, [0, 40, 80, 130, 159], [0.3, 0.7, 0.5, end, end]) + rng.normal(0, 0.01, t.size)
        analysis = analyze_run(make_run(y))
        assert names(analysis)[:3] == ["improvement", "overfit", "improvement"]
        overfit = next(p for p in analysis.phases if p.name == "overfit")
        if later:
            assert analysis.recommended_stop_step > overfit.end_step
            assert y[analysis.recommended_stop_step // 10] > y[: overfit.end_step // 10].max()
        else:
            assert analysis.recommended_stop_step == overfit.start_step


def test_a_one_evaluation_trough_on_a_dense_run_is_not_recovered_after_0_steps():
    """The trough's own 3-point median (a dense run's level) is its neighbours': the recovery
    is counted from the evaluation after it (a real train loss: 2.668, 3.054, 2.542, falling)."""
    rng = np.random.default_rng(8)
    loss = np.r_[2.668, 3.054, 2.542, np.linspace(1.8, 0.2, 67) + rng.normal(0, 0.05, 67)]
    analysis = analyze_run(make_run(loss, metric="loss", steps=np.arange(1, 71)))
    dip = next(p for p in analysis.phases if p.name == "disruption")
    assert dip.stats["trough_step"] == 2
    assert dip.stats["time_to_recover"] == 1


def test_a_rounded_trough_that_recovers_slowly_is_a_dip():
    """A fall over the first five evaluations (0.433 -> 0.319, 6 noise sds) that stays near its
    trough for three more (0.336, 0.334, 0.366) before it climbs to 0.64 is a disruption and a
    readaptation: the three evaluations right after the trough are within the noise of it, so
    the recovery is read from the best three in a row of the rise (the first generator's
    dip_recover run of the AR(1) regime, seed 109 of the tuning seeds)."""
    from phasewatch import synth

    run = synth.generate_regime("dip_recover", "ar1", 109)
    y = run.run.series(run.metric).dropna().values
    assert y[0] - y[4] > 5 * run.truth["noise_sd"] and max(y[5:8]) - y[4] < 0.05
    analysis = analyze_run(run.run, metric=run.metric)
    assert names(analysis) == ["disruption", "readaptation", "plateau"]


def test_a_wide_trough_reached_gradually_is_a_dip():
    """A fall over four evaluations (0.288 -> 0.172, 6 noise sds) whose next evaluation is still
    at the trough (0.177) before a logistic climb to 0.56 is a disruption and a readaptation,
    though the evaluation before the trough (0.207) is within the margin of the start: the
    recovery is read from the best three in a row of the rise (the second generator's
    three_phase run of the fast regime, seed 100 of the tuning seeds; it came out as an
    improvement from the start)."""
    from phasewatch import synth_logistic

    run = synth_logistic.generate_regime("three_phase", "fast", 100)
    y = run.run.series(run.metric).dropna().values
    assert y[0] - y[3] > 6 * run.truth["noise_sd"] and y[4] - y[3] < run.truth["noise_sd"]
    analysis = analyze_run(run.run, metric=run.metric)
    assert names(analysis) == ["disruption", "readaptation", "overfit"]
    assert analysis.phases[0].end_step == 18


def test_not_recovered_says_how_far_short_of_the_start_the_run_ends():
    """A real HF run (trial 30, disruption_12_start): the loss doubles and comes back to 0.014
    above its start. "not recovered" beside "the last is as good within the noise" read as a
    contradiction: the disruption line says what it compares, the run's end against the
    start, with the numbers (0.0138 above, 0.1 sd), and within the noise (the phases' own rule
    of a recovery) it says so."""
    from phasewatch.commands.analyze import phase_line

    loss = [1.3304, 2.3141, 2.6942, 2.8356, 2.9183, 2.6347, 1.5443, 1.4251, 1.372, 1.3573,
            1.3509, 1.3459, 1.3442]
    analysis = analyze_run(make_run(loss, metric="eval_loss", steps=np.arange(13) * 25))
    dip = analysis.phases[0]
    assert dip.name == "disruption" and dip.stats["time_to_recover"] is None
    assert abs(dip.stats["end_short"] - (1.3442 - 1.3304)) < 1e-9  # oriented: worse is > 0
    line = phase_line(dip, analysis.direction)
    assert "back within the noise of the start (the run ends 0.0138 above it, 0.1 sd)" in line, line


def test_a_run_that_ends_far_short_of_its_start_is_not_recovered():
    from phasewatch.commands.analyze import phase_line

    loss = [1.3304, 2.3141, 2.6942, 2.8356, 2.9183, 2.6347, 1.9443, 1.8251, 1.772, 1.7573,
            1.7509, 1.7459, 1.7442]
    analysis = analyze_run(make_run(loss, metric="eval_loss", steps=np.arange(13) * 25))
    dip = analysis.phases[0]
    assert dip.name == "disruption" and dip.stats["end_short_sd"] > 1
    line = phase_line(dip, analysis.direction)
    assert "not recovered (the run ends 0.4138 above the start, " in line, line


def test_a_fall_that_gets_worse_after_its_boundary_says_so_beside_its_worst():
    # trial 34b: hf-medimind eval_loss "worst 0.8181 above the start, not recovered (the run
    # ends 0.881 above the start, 12.3 sd)": the end read as worse than the worst
    from phasewatch.commands.analyze import phase_line
    from phasewatch.results import Phase

    phase = Phase("disruption", 100, 800, {"start_value": 9.764, "end_value": 10.58,
                                           "change": 0.818, "change_sd": 11.4, "depth": 0.818,
                                           "time_to_recover": None, "end_short": 0.881,
                                           "end_short_sd": 12.3})
    line = phase_line(phase, direction="min")
    assert "worst 0.818 above the start, not recovered (worse still at its end: 0.881 above " \
           "the start, 12.3 sd)" in line, line
    phase.stats.update(end_short=0.5, end_short_sd=7.0)
    assert "not recovered (the run ends 0.5 above the start, 7.0 sd)" in phase_line(
        phase, direction="min")


def _steps_run(values, metric="eval/loss"):
    from phasewatch.run import Run

    steps = np.arange(len(values), dtype=np.int64) * 80
    return Run.from_columns({metric: (steps, np.asarray(values, dtype=float))}, "t", "t")


def test_a_lone_first_evaluation_leaves_no_phase_that_shifts_the_names():
    """Trial 35, the noise given: 0.5966, 0.0513, 0.0507, 0.0505 x3 was "plateau 0 -> 80,
    -363.5 sd" then "disruption 80 -> 160, -0.4 sd": a one-evaluation phase before the fall
    took the fall's step when the corner was placed."""
    a = analyze_run(_steps_run([0.59655, 0.05128, 0.05068, 0.05048, 0.05048, 0.05048],
                               "eval/accuracy"), "eval/accuracy", "max", noise_sd=0.0015)
    first = a.phases[0]
    assert first.name == "disruption" and first.start_step == 0
    assert first.stats["change_sd"] < -300
    assert all(p.end_step > p.start_step for p in a.phases)


def test_a_turn_sits_on_the_lowest_or_highest_evaluation_near_it():
    """The trough is the lowest evaluation near the turn and the peak the highest, however small
    the difference: sample_logs/seeds/sft_s1 fell to 0.026, 0.026, 0.024 and its trough was read
    at the first 0.026 (a turn moved only by more than the noise); sft_s2's peak shares its
    3-point median 0.724 with two neighbours and was read on a 0.724 beside the 0.73 at step
    1140 (the first of the tied medians). Two runs sharing a dip then differ in it only by what
    the data say (paper trial 40e: troughs at 90 and 60 of identical evaluations)."""
    import json
    from pathlib import Path

    from phasewatch import analyze

    root = Path(__file__).resolve().parents[1] / "sample_logs" / "seeds"
    for run, turn, at in (("sft_s1", 0, 80), ("sft_s2", 1, 1140)):
        rows = [json.loads(line) for line in (root / run / "metrics.jsonl").read_text().splitlines()]
        acc = {r["step"]: r["eval/accuracy"] for r in rows if "eval/accuracy" in r}
        phases = analyze(root / run).phases
        assert phases[turn].end_step == at
        near = [acc[s] for s in range(at - 30, at + 40, 10)]
        assert acc[at] == (min(near) if turn == 0 else max(near))


def test_a_train_reward_getting_worse_is_said_to_be_no_overfit_to_the_training_data():
    """wandb-trl-ppo-scores-500: a PPO batch score (a reward on the training batches) falling
    after its best was 'overfit 1 -> 500' beside a note that the score "cannot show an
    overfit", with no word on what the phase then is. A held-out reward of the same shape
    gets no such note."""
    rng = np.random.default_rng(6)
    t = np.arange(150)
    reward = np.interp(t, [0, 50, 149], [0.2, 0.8, 0.3]) + rng.normal(0, 0.02, t.size)
    analysis = analyze_run(make_run(reward, metric="train/reward"))
    assert "overfit" in names(analysis)
    [note] = [w for w in analysis.warnings if "reward on the training batches" in w]
    overfit = next(p for p in analysis.phases if p.name == "overfit")
    assert f"({overfit.start_step} -> {overfit.end_step})" in note
    assert "not an overfit to the training data" in note
    # the role holds environment RL's episode returns too (a SAC agent's SB3 return was said to
    # be earned "on the prompts it trains on"): the note names rollouts, which both have
    sb3 = analyze_run(make_run(reward, metric="rollout/ep_rew_mean"))
    [note] = [w for w in sb3.warnings if "reward on the training batches" in w]
    assert "in the rollouts it trains on" in note and "prompt" not in note
    held_out = analyze_run(make_run(reward, metric="eval/reward"))
    assert "overfit" in names(held_out)
    assert not any("training batches getting worse" in w for w in held_out.warnings)
