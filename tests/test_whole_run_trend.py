"""A long, noisy run the per-evaluation rules call one plateau (phasewatch.whole_run_trend):
a GRPO batch reward climbing 2 noise sds over 250 steps is an improvement."""

from __future__ import annotations

import numpy as np
import pytest

import phasewatch.analysis
from phasewatch.analysis import analyze_run
from phasewatch.run import Run
from phasewatch.whole_run_trend import stretch_size


def _names(values, direction="max"):
    steps = np.arange(1, len(values) + 1, dtype=np.int64)
    run = Run.from_columns({"reward": (steps, np.asarray(values, dtype=float))}, "t", "t")
    return [p.name for p in analyze_run(run, "reward", direction).phases]


def _saturating(seed: int, rise_sd: float, n: int = 250, sd: float = 0.23) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 0.75 + rise_sd * sd * (1 - np.exp(-np.arange(n) / 50)) + rng.normal(0, sd, n)


def test_a_noisy_reward_climbing_two_sds_is_an_improvement():
    calls = [_names(_saturating(seed, rise_sd=2.0)) for seed in range(20)]
    assert calls == [["improvement"]] * 20


def test_the_per_evaluation_rules_alone_call_it_a_plateau(monkeypatch):
    monkeypatch.setattr(phasewatch.analysis, "whole_run_trend", lambda phases, *a: phases)
    calls = [_names(_saturating(seed, rise_sd=2.0)) for seed in range(20)]
    assert calls.count(["plateau"]) >= 15


def test_a_noisy_loss_rising_from_the_start_is_an_overfit():
    """Lower is better: a held-out loss that creeps up 2 sds from the first evaluation."""
    assert _names(_saturating(3, rise_sd=2.0), direction="min") == ["overfit"]


def test_white_noise_without_a_trend_stays_one_plateau():
    calls = [_names(0.75 + np.random.default_rng(100 + seed).normal(0, 0.23, 250))
             for seed in range(30)]
    assert calls == [["plateau"]] * 30


def test_sticky_noise_is_not_read_as_a_trend():
    """Under AR(1) noise a long stretch wanders by sds: the rule is not used."""
    for seed in range(10):
        rng = np.random.default_rng(seed)
        e = np.zeros(250)
        for i in range(1, 250):
            e[i] = 0.8 * e[i - 1] + rng.normal(0, 0.1)
        assert _names(0.5 + e) != ["improvement"] and _names(0.5 + e) != ["overfit"]


def _ramp(seed: int, rise_sd: float, n: int, sd: float = 0.0007) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 0.001 + rise_sd * sd * np.linspace(0, 1, n) + rng.normal(0, sd, n)


def test_a_margin_rising_three_sds_over_33_evaluations_is_an_improvement():
    """Runs of 13-40 evaluations are read by the broken line, whose pieces must each move by
    sds; a preference margin rising 3 noise sds over 33 evaluations (a real TRL ORPO run) is
    one trend all the same."""
    calls = [_names(_ramp(seed, rise_sd=3.0, n=33)) for seed in range(20)]
    assert calls.count(["improvement"]) >= 16, calls
    assert all(c in (["improvement"], ["plateau"]) or c[0] == "improvement" for c in calls), calls


def test_short_white_and_sticky_runs_without_a_trend_are_left_as_the_other_rules_read_them(
        monkeypatch):
    """13-40 evaluations of white noise: the rank test at p < 0.01 and the 3-se gap between the
    quarters leave them alone; sticky noise wanders by sds there too: the residual
    autocorrelation about the line keeps the rule out. The calls are what the other rules make
    of the runs without this one, but for at most one white run in 60 (the rank test's p < 0.01
    is a 1% false-alarm rate; seed 242 of 27 values drifts enough)."""
    def sticky(seed: int) -> np.ndarray:
        rng = np.random.default_rng(300 + seed)
        e = np.zeros(30)
        for i in range(1, 30):
            e[i] = 0.8 * e[i - 1] + rng.normal(0, 0.1)
        return 0.5 + e

    runs = [0.5 + np.random.default_rng(200 + seed).normal(0, 0.1, 13 + seed % 28)
            for seed in range(60)] + [sticky(seed) for seed in range(20)]
    with_rule = [_names(y) for y in runs]
    monkeypatch.setattr(phasewatch.analysis, "whole_run_trend", lambda phases, *a: phases)
    without = [_names(y) for y in runs]
    changed = [k for k, (a, b) in enumerate(zip(with_rule, without)) if a != b]
    assert len(changed) <= 1 and all(k < 60 for k in changed), changed


def test_the_trend_is_reported_between_the_stretches_it_was_decided_on():
    """Its edges are the means of the run's first and last 30 evaluations, not single noisy
    readings: a first reading far above the start of the rise (a GRPO reward's lucky first
    batch) printed an improvement whose change was negative."""
    for seed in range(10):
        y = _saturating(seed, rise_sd=2.0)
        y[0] = y.max() + 0.1  # the first reading is the run's highest
        steps = np.arange(1, y.size + 1, dtype=np.int64)
        analysis = analyze_run(Run.from_columns({"reward": (steps, y)}, "t", "t"), "reward", "max")
        [phase] = analysis.phases
        assert phase.name == "improvement"
        assert phase.stats["start_value"] == np.mean(y[:30])
        assert phase.stats["end_value"] == np.mean(y[-30:])
        assert phase.stats["change"] > 0
        assert analysis.baseline == y[0]  # the starting level is still what was observed first


def _step_reward(seed: int, n: int = 700, at: int = 75, jump_sd: float = 2.5,
                 sd: float = 0.22) -> np.ndarray:
    """A GRPO batch reward that jumps `jump_sd` batch sds over 15 steps at `at`, then stays
    flat (verl-consis, trial 34b: read as one improvement 1 -> 700)."""
    rng = np.random.default_rng(seed)
    level = -0.38 + jump_sd * sd * np.clip((np.arange(n) - at) / 15, 0, 1)
    return level + rng.normal(0, sd, n)


def _phases(values, direction="max"):
    steps = np.arange(1, len(values) + 1, dtype=np.int64)
    run = Run.from_columns({"reward": (steps, np.asarray(values, dtype=float))}, "t", "t")
    return analyze_run(run, "reward", direction).phases


def test_a_step_then_a_long_flat_stretch_is_an_improvement_then_a_plateau():
    for seed in range(10):
        improvement, plateau = _phases(_step_reward(seed))
        assert (improvement.name, plateau.name) == ("improvement", "plateau")
        assert 80 <= improvement.end_step <= 120, improvement  # the jump is over by step 90
        # the trend's end is the level the plateau holds, not one batch; its start the first
        # stretch's mean where that decided the trend (the rules found it on seed 7)
        k = stretch_size(len(_step_reward(seed)))
        assert improvement.stats.get("start_averaged", k) == k
        assert improvement.stats["end_held"] == plateau.stats["ends_medians"]
        assert improvement.stats["end_value"] == plateau.stats["start_value"]
        assert improvement.stats["change"] > 0.4


def test_a_trends_best_on_noisy_batches_is_a_level_not_one_lucky_batch():
    """trl-sft-grpo (trial 35b): a GRPO train reward whose 30-evaluation means rose 0.08 was
    "best 0.3 above the start", one lucky batch less the first one."""
    values = _saturating(5, rise_sd=2.0)
    steps = np.arange(1, len(values) + 1, dtype=np.int64)
    run = Run.from_columns({"reward": (steps, values)}, "t", "t")
    [improvement] = analyze_run(run, "reward", "max").phases
    best = improvement.stats
    assert best["peak_averaged"] == 30
    top = int(np.searchsorted(steps, best["peak_step"]))
    assert best["gain_over_baseline"] == pytest.approx(values[top - 15:top + 15].mean() - values[0])
    assert best["gain_over_baseline"] < values.max() - values[0] - 0.2



@pytest.mark.parametrize("seed", [0, 2])
def test_an_overfits_decline_on_noisy_batches_is_from_a_level_not_one_lucky_batch(seed):
    """wandb-trl-ppo-scores-500: a PPO batch score whose level fell by about 12 was "overfit ...
    change -9.269 ... 33.5 below its best (step 9)": the mean of the last 30 batches measured
    against one lucky batch. Ends read as means of 30 evaluations, the best is one too."""
    rng = np.random.default_rng(seed)
    n = 500
    values = np.where(np.arange(n) < 175, 5.0, -7.0) + rng.normal(0, 12, n)
    steps = np.arange(1, n + 1, dtype=np.int64)
    run = Run.from_columns({"reward": (steps, values)}, "t", "t")
    [overfit] = analyze_run(run, "reward", "max").phases
    s = overfit.stats
    assert overfit.name == "overfit" and s["ends_averaged"] == 30
    assert s["peak_step"] != 1  # (the case where the peak moves off the phase's start)
    assert s["peak_averaged"] == 30
    top = int(np.searchsorted(steps, s["peak_step"]))
    level = values[max(top - 15, 0):max(top - 15, 0) + 30].mean()
    assert s["decline_since_peak"] == pytest.approx(level - s["end_value"])
    assert s["decline_since_peak"] < 20  # one batch reaches ~30 above the end's mean

def test_a_trends_checkpoint_is_in_its_best_stretch_not_at_the_first_lucky_ceiling():
    """trl-grpo-gsm8k-reward-2900 (trial 37b): a batch reward in steps of 1/8 that reaches its
    ceiling 2.0 on a quarter of its steps had "best ... around step 2626: a mean of 30
    evaluations" and "recommended stop: step 90", its first two 2.0s in a row."""
    rng = np.random.default_rng(3)
    n = 1500
    level = 1.2 + 0.5 * (1 - np.exp(-np.arange(n) / 300))
    values = np.clip(np.round((level + rng.normal(0, 0.35, n)) * 8) / 8, 0.0, 2.0)
    steps = np.arange(1, n + 1, dtype=np.int64)
    analysis = analyze_run(Run.from_columns({"reward": (steps, values)}, "t", "t"), "reward", "max")
    [improvement] = analysis.phases
    k = improvement.stats["peak_averaged"]
    assert k == stretch_size(n)
    peak = improvement.stats["peak_step"]
    first_ceiling_pair = int(steps[np.flatnonzero((values[:-1] == 2.0) & (values[1:] == 2.0))[0]])
    assert first_ceiling_pair < peak - 100  # the trap: where the 3-point median first reaches 2.0
    # within the stretch of the best mean
    assert abs(analysis.recommended_stop_step - peak) <= k // 2
    stretch = values[peak - 1 - k // 2:peak - 1 - k // 2 + k]
    assert values[analysis.recommended_stop_step - 1] == stretch.max()


def test_a_dense_trend_ends_at_the_level_the_plateau_after_it_holds():
    """A dense train loss falls, then holds: the fall's end is the plateau's held start, not
    the one reading at the boundary (a lucky 1.302 where the plateau held 1.369 printed two
    values at one step and a gain a sixth too large: reader 40a)."""
    rng = np.random.default_rng(5)
    steps = np.arange(1, 601, dtype=np.int64)
    loss = 1.35 + 0.4 * np.clip(1 - steps / 200, 0, None) + rng.normal(0, 0.04, steps.size)
    run = Run.from_columns({"loss": (steps, loss)}, "t", "t")
    fall, flat = analyze_run(run, "loss", "min").phases
    assert (fall.name, flat.name) == ("improvement", "plateau")
    assert fall.stats["end_value"] == flat.stats["start_value"]
    assert fall.stats["end_held"] == max((flat.end_step - flat.start_step + 1) // 3, 3)
    assert fall.stats["change"] == pytest.approx(fall.stats["end_value"] - loss[0])


def test_a_dense_runs_last_trend_still_says_its_end_is_the_mean_of_the_last_two():
    """Its edges read by `trend_edges`, the last trend of a dense run keeps `end_averaged` (the
    paper trial 40e: "overfit ... -> 0.651", the mean of 0.628 and 0.674, said nowhere)."""
    rng = np.random.default_rng(2)
    steps = np.arange(10, 1510, 10, dtype=np.int64)
    acc = np.where(steps < 1100, 0.3 + 0.4 * steps / 1100, 0.7 - 0.1 * (steps - 1100) / 400)
    acc = acc + rng.normal(0, 0.01, steps.size)
    acc[-2:] = [0.628, 0.674]
    run = Run.from_columns({"acc": (steps, acc)}, "t", "t")
    last = analyze_run(run, "acc", "max").phases[-1]
    assert last.name == "overfit" and last.stats["end_averaged"] == 2
    assert last.stats["end_value"] == pytest.approx(0.651)


# wandb-alpaca-sft's train loss (W&B, 39 logs): a fall in the first four, then a noisy floor
ALPACA = [1.502, 1.238, 1.226, 1.042, 1.14, 1.176, 1.167, 1.234, 1.088, 1.063, 1.131, 1.198,
          1.129, 1.016, 1.094, 1.097, 1.119, 1.114, 1.115, 1.128, 1.145, 1.09, 1.078, 1.169,
          1.146, 1.124, 1.18, 1.112, 1.12, 1.101, 1.105, 1.209, 1.063, 1.131, 1.013, 1.132,
          1.039, 1.152, 1.129]


def test_a_trend_on_13_to_40_evaluations_ends_at_the_level_the_plateau_after_it_holds():
    """As on a dense run: the improvement ended on the one reading at step 3 (1.226) where the
    plateau printed from the same step held 1.135, two values at one step and a fall of 0.276
    beside watch's "fell 0.378". On 12 evaluations the edge stays the evaluation."""
    steps = np.arange(1, len(ALPACA) + 1, dtype=np.int64)
    run = Run.from_columns({"loss": (steps, np.asarray(ALPACA))}, "t", "t")
    fall, flat = analyze_run(run, "loss", "min").phases
    assert (fall.name, flat.name) == ("improvement", "plateau")
    assert fall.stats["end_value"] == flat.stats["start_value"] != ALPACA[2]
    assert fall.stats["change"] == pytest.approx(flat.stats["start_value"] - 1.502)
    twelve = Run.from_columns({"loss": (steps[:12], np.asarray(ALPACA[:12]))}, "t", "t")
    phases = analyze_run(twelve, "loss", "min").phases
    trend = next(p for p in phases if p.name != "plateau")
    assert trend.stats["end_value"] in ALPACA[:12]


def test_a_train_series_values_are_readings_not_evaluations(tmp_path, capsys):
    """wandb-mistral-qlora-trainloss-409: a QLoRA run's train loss (no held-out metric) was
    "best 0.5001 below the baseline (around step 1980: a mean of 30 evaluations) (ends: means
    of 30 evaluations each ...)", as if the log held a held-out set. A train series' values are
    readings; the same values logged as an eval loss stay evaluations."""
    import json

    from phasewatch.cli import main

    values = 2.75 - _saturating(5, rise_sd=2.0)  # a noisy loss falling 2 sds, then flat
    for name, word, other in (("train/loss", "readings", "evaluations"),
                              ("eval/loss", "evaluations", "readings")):
        path = tmp_path / f"{name.replace('/', '_')}.jsonl"
        path.write_text("".join(json.dumps({"step": i + 1, name: float(v)}) + "\n"
                                for i, v in enumerate(values)))
        assert main(["analyze", str(path)]) == 0
        lines = [line for line in capsys.readouterr().out.splitlines() if "of 30 " in line]
        assert lines and all(f"mean of 30 {word})" in line and f"means of 30 {word} each" in line
                             and other not in line for line in lines), lines


def _episodes(seed: int, rise: float, n: int = 14_000) -> np.ndarray:
    """Episode rewards of a DQN on an Atari game: whole points, sd 130 per episode, the mean
    climbing `rise` over the run (a 1000-episode mean rising 123 -> 198 for 75)."""
    rng = np.random.default_rng(seed)
    return np.round(125 + rise * np.sqrt(np.arange(n) / n) + rng.normal(0, 130, n))


def test_thousands_of_episode_rewards_climbing_half_an_sd_are_an_improvement():
    """30 episodes at each end put the climb within their noise (se 34 for a rise of 75); a
    twentieth of the run each does not (se 7), and the printed ends are those means."""
    steps = np.arange(14_000, dtype=np.int64)
    run = Run.from_columns({"episode_reward": (steps, _episodes(0, 75.0))}, "t", "t")
    analysis = analyze_run(run, "episode_reward", "max")
    assert [p.name for p in analysis.phases] == ["improvement"]
    assert analysis.phases[0].stats["ends_averaged"] == 14_000 // 20


@pytest.mark.parametrize("seed", range(3))
def test_thousands_of_flat_episode_rewards_stay_one_plateau(seed):
    assert _names(_episodes(seed, 0.0)) == ["plateau"]
