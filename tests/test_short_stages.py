"""A short SFT-then-RL run: each training stage read as a sparse run is, offline and live.

The values are the held-out accuracy of `phasewatch train --preset sft_then_rl --steps 400
--switch-step 200` (seed 0), as it logged them: the RL stage dips from 0.31-0.33 to 0.24 at the
switch and then climbs to 0.36-0.42."""

from __future__ import annotations

import json

import phasewatch

ACCURACY = [0.546, 0.546, 0.546, 0.54, 0.42, 0.092, 0.026, 0.022, 0.034, 0.066, 0.09, 0.124,
            0.132, 0.138, 0.166, 0.196, 0.238, 0.258, 0.294, 0.31, 0.328, 0.28, 0.286, 0.27,
            0.24, 0.246, 0.282, 0.27, 0.288, 0.302, 0.312, 0.28, 0.334, 0.358, 0.366, 0.326,
            0.364, 0.392, 0.362, 0.328, 0.42]
SWITCH = 200


def short_sft_then_rl(folder, values=ACCURACY, every=10, switch=SWITCH):
    """A native run folder of `values` logged every `every` steps, switching at `switch`."""
    folder.mkdir()
    with open(folder / "metrics.jsonl", "w") as out:
        out.writelines(json.dumps({"step": every * k, "eval/accuracy": value}) + "\n"
                       for k, value in enumerate(values))
    (folder / "run.json").write_text(json.dumps({
        "schema_version": 1, "name": "s2r", "algorithm": "sft_then_rl",
        "performance_metric": "eval/accuracy", "direction": "max",
        "events": [{"step": switch, "name": "sft_to_rl"}]}))
    return folder


def test_a_short_rl_stage_that_climbs_is_not_one_plateau(tmp_path):
    # read by the whole run's lines (segments of 3+ points) the RL stage was one plateau
    # printed "+3.5 sd", though it climbs from 0.24-0.28 to 0.36-0.42
    analysis = phasewatch.analyze(short_sft_then_rl(tmp_path / "s2r"))
    rl = [p for p in analysis.phases if p.start_step >= SWITCH]
    assert rl[-1].name in ("improvement", "readaptation")
    assert rl[-1].end_step == 400 and rl[-1].start_step <= 300
    assert rl[0].start_step == SWITCH
    # the SFT stage keeps its fall and recovery, with the trough on the lowest evaluation
    names = [p.name for p in analysis.phases if p.end_step <= SWITCH]
    assert "disruption" in names and names[-1] == "readaptation"
    trough = next(p for p in analysis.phases if p.name == "disruption").end_step
    assert trough == 10 * ACCURACY.index(min(ACCURACY[:21]))


def test_a_new_stage_starts_from_the_switch_steps_evaluation_live(tmp_path):
    # the level (a window's median) lagged the SFT stage's rise: at the switch it read 0.258
    # where the last evaluation read 0.31, and the alerts quoted it as "the mean of the first
    # 15 evaluations"; then the evaluation before the switch step's (0.31 at 190, where the
    # switch step's own, still before RL, read 0.328), unlike `analyze` (trial 31, finding 8)
    folder = short_sft_then_rl(tmp_path / "s2r")
    alerts = [a for a in phasewatch.watch(folder, stop_on=(), notice=lambda m: None,
                                          info=lambda m: None) if a.step > SWITCH]
    assert alerts, "the RL stage's moves are announced"
    for alert in alerts:
        assert alert.onset_step is None or alert.onset_step >= SWITCH, alert
        if "starting level" in alert.message:
            assert "starting level 0.328 (the last evaluation up to the stage switch at " \
                   f"step {SWITCH})" in alert.message, alert.message


def test_a_steady_rise_of_a_held_out_loss_from_its_first_evaluation_is_an_overfit_live(tmp_path):
    # a new-user trial's run: 15 evaluations of a held-out loss rising faster and faster from
    # the first, planned length known; the steadiness test clipped the values about their median
    # at 3 white-noise sds, flattening the steady rise itself, so the watch ended on 'disruption'
    loss = [1.204, 1.2455, 1.2829, 1.3344, 1.3995, 1.4583, 1.506, 1.5814, 1.6331, 1.7341, 1.8044,
            1.8867, 1.9753, 2.0593, 2.1759]
    log = tmp_path / "rising.jsonl"
    log.write_text("".join(json.dumps({"step": 100 * (k + 1), "eval_loss": v}) + "\n"
                           for k, v in enumerate(loss)))
    alerts = list(phasewatch.watch(log, planned_steps=1500, stop_on=(), notice=lambda m: None,
                                   info=lambda m: None))
    assert "overfit" in [a.event for a in alerts]
    assert [p.name for p in phasewatch.analyze(log).phases] == ["overfit"]


def test_a_readaptation_starts_at_the_datas_trough_live(tmp_path):
    # the level (a window median) lags: its trough was 0.344 at step 300 where the lowest
    # evaluation, 0.2464, is at step 150, where analyze puts the trough
    values = [0.554, 0.452, 0.348, 0.2464, 0.2831, 0.3176, 0.3502, 0.3868, 0.4181, 0.4529,
              0.4883, 0.5208, 0.5522, 0.5846, 0.6172, 0.6525, 0.6859, 0.7183, 0.7518, 0.7649]
    log = tmp_path / "dip.jsonl"
    log.write_text("".join(json.dumps({"step": 50 * k, "val_accuracy": v}) + "\n"
                           for k, v in enumerate(values)))
    [rise] = [a for a in phasewatch.watch(log, stop_on=(), notice=lambda m: None,
                                          info=lambda m: None) if a.event == "readaptation"]
    assert rise.onset_step == 150 and "worst evaluation: 0.2464 at step 150" in rise.message
    trough = next(p for p in phasewatch.analyze(log).phases if p.name == "disruption").end_step
    assert trough == rise.onset_step


def test_the_rl_stage_starts_from_the_switch_steps_own_evaluation(tmp_path):
    """contracts.md: `sft_to_rl` is logged at the last SFT step, whose evaluation is still before
    RL: the RL stage starts from it (0.328 at step 200), not from the evaluation before it (0.31
    at step 190), which overstated the stage's gain (trial 31 finding 8). (This stage is read
    by the broken line, whose first phase's value is its line's: the dense case is in
    test_phases.)"""
    analysis = phasewatch.analyze(short_sft_then_rl(tmp_path / "s2r"))
    sft = next(p for p in analysis.phases if p.end_step == SWITCH)
    assert sft.stats["end_value"] == ACCURACY[SWITCH // 10] == 0.328
    assert any(p.start_step == SWITCH for p in analysis.phases)


def test_a_switch_with_too_few_evaluations_on_a_side_does_not_hide_a_dip(tmp_path):
    # trial 33: `train --preset sft_then_rl --steps 1200 --eval-every 150 --switch-step 600`
    # (seed 0), 5 evaluations up to the switch and 4 after. Kept, the switch alone took the run
    # away from the broken line and the start-dip check, and the fall to 0.134 was one
    # "improvement 0 -> 1200, confidence high"; the same nine values without it were read right
    values = [0.546, 0.134, 0.49, 0.658, 0.68, 0.728, 0.806, 0.81, 0.836]
    analysis = phasewatch.analyze(short_sft_then_rl(tmp_path / "sparse", values, 150, 600))
    dip = analysis.phases[0]
    assert (dip.name, dip.start_step, dip.end_step) == ("disruption", 0, 150)
    assert [p.name for p in analysis.phases[1:]] in (["readaptation"], ["readaptation", "plateau"])
    assert any("sft_to_rl switch at step 600 is not a phase boundary" in w
               for w in analysis.warnings)
