"""verl's validations before the first update and after the last, printed as dicts
(`Initial validation metrics: {...}`, `Final validation metrics: {...}`): read where an older
verl logged them nowhere else, under the step lines' name; a newer verl's, which its step lines
repeat, add nothing."""

from __future__ import annotations

from cli_json import analyzed, watched

from phasewatch.io import read_run

PREFIX = "\x1b[36m(main_task pid=54569)\x1b[0m "
SCORE = "val/test_score/openai/gsm8k"


def _old_verl(tmp_path, steps: int = 40, tracker_step0: bool = False):
    """An older verl PPO console (verl's example logs): the initial validation printed only
    (or, `tracker_step0`, also logged by the tracker at step 0 under `_validate`'s bare name),
    a validation every 10 steps under `val/`, and the final one after the last update."""
    lines = ["Size of train dataloader: 29", 'Initial validation metrics: {\'test_score/openai/gsm8k\': 0.0007621951219512195}"']
    lines[1] = PREFIX + '"' + lines[1]
    if tracker_step0:
        lines.append(PREFIX + "step:0 - test_score/openai/gsm8k:0.001")
    for step in range(steps):
        items = [f"critic/score/mean:{0.01 * step:.3f}", f"critic/kl:{0.001 * step:.3f}"]
        if step % 10 == 9:
            items.append(f"{SCORE}:{min(0.1 * (step + 1), 0.55):.3f}")
        lines.append(PREFIX + f"step:{step} - " + " - ".join(items))
        lines.append(PREFIX + "A sample generation that is no record.")
    lines.append(PREFIX + '"Final validation metrics: {\'test_score/openai/gsm8k\': 0.5685975609756098}"')
    path = tmp_path / "verl.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_older_verls_validations_before_and_after_training_are_read(tmp_path):
    run = read_run(_old_verl(tmp_path))
    score = run.column(SCORE)
    assert score.steps.tolist() == [0, 9, 19, 29, 39]
    assert score.values[0] == 0.0007621951219512195  # before the first update
    assert score.values[-1] == 0.55  # step 39's own validation stands; the final dict adds none
    assert not [m for m in run.metrics if m.startswith("test_score/")]


def test_the_final_validation_joins_the_last_step_where_it_logged_none(tmp_path):
    run = read_run(_old_verl(tmp_path, steps=35))
    score = run.column(SCORE)
    assert score.steps.tolist() == [0, 9, 19, 29, 34]
    assert score.values[-1] == 0.5685975609756098  # after the last update, step 34's model
    assert run.column("critic/score/mean").steps.tolist() == list(range(35))


def test_a_tracker_line_at_step_0_is_the_same_series_and_keeps_its_value(tmp_path):
    """Some older versions also logged the initial validation through the tracker, under
    `_validate`'s bare name: one series, not a second one-value metric beside the curve."""
    run = read_run(_old_verl(tmp_path, tracker_step0=True))
    score = run.column(SCORE)
    assert score.steps.tolist() == [0, 9, 19, 29, 39] and score.values[0] == 0.001
    assert not [m for m in run.metrics if m.startswith("test_score/")]


def test_a_newer_verls_dicts_repeat_its_step_lines_and_add_nothing(tmp_path):
    name = "val-core/openai/gsm8k/reward/mean@1"
    lines = ["(\"Initial validation metrics: {'val-core/openai/gsm8k/reward/mean@1': \"",
             "\"np.float64(0.25), 'val-aux/openai/gsm8k/reward/std@1': np.float64(0.4)}\")",
             f"step:0 - {name}:np.float64(0.25) - timing_s/testing:12.5"]
    for step in range(1, 21):
        items = [f"critic/score/mean:np.float64({0.01 * step})"]
        if step % 5 == 0:
            items.append(f"{name}:np.float64({0.25 + 0.01 * step})")
        lines.append(f"step:{step} - " + " - ".join(items))
    lines.append(f"\"Final validation metrics: {{'{name}': np.float64(0.45), 'timing_s/testing': 3.0}}\"")
    path = tmp_path / "verl.log"
    path.write_text("\n".join(lines) + "\n")
    run = read_run(path)
    score = run.column(name)
    assert score.steps.tolist() == [0, 5, 10, 15, 20] and score.values[-1] == 0.45
    assert run.n_records == 21 and "val-aux/openai/gsm8k/reward/std@1" not in run.metrics


def test_analyze_and_watch_start_from_the_score_before_training(capsys, tmp_path):
    path = _old_verl(tmp_path, steps=120)
    offline = analyzed(capsys, path)
    assert offline["metric"] == SCORE and offline["baseline"] == 0.0007621951219512195
    summary, _ = watched(capsys, path)
    assert summary["metric"] == SCORE and summary["best_step"] == offline["recommended_stop_step"]
