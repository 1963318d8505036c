"""LLaMA-Factory's `trainer_log.jsonl` rows written during an evaluation count its batches.

Its LogCallback (v0.1.6 to v0.7.0) zeroes its step counters when training ends, and the
`trainer.evaluate()` after it writes `{"current_steps": 300, "total_steps": 300, "eval_loss":
...}` (300 evaluation batches): read as a step, a restart at step 300 that dropped every
evaluation after it (heymimihere/my_work's sft log: 3 of 11 kept). From v0.7.1 an
evaluation-only process appending to the log writes progress rows every 5 batches and its
results at its own global step, 0. Such rows are an evaluation after training, read at the
last training step as HF's is (`post_training`); training rows that go back are a restart.
"""

from __future__ import annotations

import json

from watch_follower import eval_curve, follow_while_written, replay

from phasewatch.io import read_run

NULLS = {"loss": None, "eval_loss": None, "predict_loss": None, "reward": None,
         "accuracy": None, "learning_rate": None}


def _row(step: int, total: int, **values) -> str:
    """A line as LogCallback.on_log wrote it up to v0.7.0 (every key, null where unlogged)."""
    row = {"current_steps": step, "total_steps": total, **NULLS, **values,
           "percentage": round(100 * step / total, 2) if total else 100,
           "elapsed_time": f"0:{step // 60:02d}:{step % 60:02d}", "remaining_time": "0:00:10"}
    return json.dumps(row) + "\n"


def _training(total: int, evals: dict[int, float], every: int = 10) -> list[str]:
    """Training rows every `every` steps, an eval_loss row after those in `evals`, and the
    row of the end-of-training summary (LogCallback copies none of its keys)."""
    lines = []
    for step in range(every, total + 1, every):
        epoch = round(step / total * 3, 4)
        lines.append(_row(step, total, loss=round(2.0 - step / (2 * total), 4),
                          learning_rate=1e-4, epoch=epoch))
        if step in evals:
            lines.append(_row(step, total, eval_loss=evals[step], epoch=epoch))
    return lines + [_row(total, total, epoch=3.0)]


def _overfit(total: int = 100) -> dict[int, float]:
    """eval_loss every 10 steps: best at step 40, then rising."""
    return {s: round(1.0 - 0.05 * min(s, 40) / 10 + 0.03 * max(0, s - 40) / 10, 4)
            for s in range(10, total + 1, 10)}


def _write(path, lines: list[str]):
    path.write_text("".join(lines))
    return path


def test_the_evaluation_after_training_is_no_restart(tmp_path):
    """The best checkpoint evaluated again after training (load_best_model_at_end): its row
    at 30 of 30 evaluation batches neither drops the evaluations after step 30 nor stands for
    the final weights."""
    evals = _overfit()
    log = _write(tmp_path / "trainer_log.jsonl",
                 _training(100, evals) + [_row(30, 30, eval_loss=evals[40], epoch=3.0)])
    run = read_run(log)
    assert run.series("eval_loss").to_dict() == evals  # all ten, the best not again at 100
    assert run.series("loss").index.max() == 100
    assert not [e for e in run.events if e.name == "resume"]
    assert run.config == {"total_steps": 100}  # not the evaluation's 30 batches
    notes = [w for w in run.warnings if "line 22" in w]
    assert any("count of an evaluation's own batches, not a restart" in w
               and "read at step 100" in w for w in notes), run.warnings
    assert any("checkpoint of step 40 evaluated again" in w for w in notes), run.warnings
    assert not any("went back" in w for w in run.warnings)


def test_an_evaluation_of_the_final_weights_is_read_at_the_last_step(tmp_path):
    """A run that did not evaluate its last step: the evaluation after training is a point
    there; a loader without length writes it at 0 of 0; a predict's row likewise."""
    evals = {s: v for s, v in _overfit(100).items() if s < 100}
    lines = _training(95, evals, every=5) + [_row(0, 0, eval_loss=1.4, epoch=3.0),
                                             _row(12, 12, predict_loss=1.5, epoch=3.0)]
    run = read_run(_write(tmp_path / "trainer_log.jsonl", lines))
    assert run.series("eval_loss").to_dict() == {**evals, 95: 1.4}
    assert run.series("predict_loss").to_dict() == {95: 1.5}
    assert not [e for e in run.events if e.name == "resume"]


def test_an_evaluation_only_process_appended_to_the_log(tmp_path):
    """v0.7.1 on: an evaluation-only process writes a progress row every 5 batches (progress
    fields only) and its results at its global step 0 of its 12 batches."""
    evals = _overfit()
    progress = [json.dumps({"current_steps": k, "total_steps": 12, "percentage": k / 12 * 100,
                            "elapsed_time": "0:00:03", "remaining_time": "0:00:01"}) + "\n"
                for k in (5, 10)]
    result = json.dumps({"current_steps": 0, "total_steps": 12, "eval_loss": evals[40],
                         "percentage": 0.0, "elapsed_time": "0:00:04",
                         "remaining_time": "0:00:00"}) + "\n"
    run = read_run(_write(tmp_path / "trainer_log.jsonl",
                          _training(100, evals) + progress + [result]))
    assert run.series("eval_loss").to_dict() == evals
    assert run.series("elapsed_time").index.max() == 100
    assert not [e for e in run.events if e.name == "resume"]
    assert any("lines 22-23: 2 progress row(s) of an evaluation" in w for w in run.warnings)


def test_a_resumed_run_is_still_a_restart(tmp_path):
    """Training rows that go back, with the run's total_steps or a new plan's: a restart."""
    evals = _overfit()
    first = _training(100, evals)[:12]  # steps 10 to 60, each with its evaluation
    for total in (100, 120):
        again = [line for line in _training(total, evals)
                 if 40 < json.loads(line)["current_steps"] <= 90]  # resumed from step 40
        run = read_run(_write(tmp_path / f"log_{total}.jsonl", first + again))
        assert [e.step for e in run.events if e.name == "resume"] == [50], total
        assert run.series("eval_loss").index.max() == 90
        assert run.config == {"total_steps": total}


def _overfit_log(n: int = 300) -> tuple[list[str], list[str]]:
    """A run of `n` evaluations whose held-out loss dips, recovers and overfits, and the rows
    of its evaluation after training (the best checkpoint again)."""
    curve = eval_curve(n)
    evals = {step + 10: round(2.0 - acc, 6) for step, acc in curve}
    total = max(evals)
    best = min(evals.values())
    return _training(total, evals), [_row(40, 40, eval_loss=best, epoch=3.0)]


def test_watch_replays_and_follows_the_evaluation_after_training(tmp_path):
    """A watch reads the evaluation's row as `analyze` does: the same alerts as the log
    without it (no restart), replayed or followed while written."""
    training, after = _overfit_log()
    plain = _write(tmp_path / "plain.jsonl", training)
    log = tmp_path / "run" / "trainer_log.jsonl"
    log.parent.mkdir()
    expected, plain_result = replay(plain, stop_on=())
    follower = follow_while_written(log, "".join(training + after), size=4096)
    replayed, result = replay(log, stop_on=())
    assert replayed == expected and any(a.event == "overfit" for a in expected)
    assert result.resumes == [] and result.last_step == plain_result.last_step
    assert follower.watch.result.resumes == []
