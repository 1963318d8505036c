"""A short held-out series worse at every evaluation after its best while train improved is
said (`phasewatch.worse_after_best`), with the phases unchanged: hf-distilbert-lora-5ev's eval
loss read "plateau, not established" beside "the train loss fell", a textbook overfit unsaid."""

from __future__ import annotations

import json

import numpy as np
import pytest

from phasewatch import analyze

EVAL_LOSS = [0.342, 0.2978, 0.2981, 0.3023, 0.3154]  # hf-distilbert-lora-5ev, steps 500-2500


def trainer_state(tmp_path, eval_loss, train_slope=-0.00005):
    """A Trainer's log: eval_loss at steps 500, 1000, ..., the train loss every 10 steps falling
    (or rising, `train_slope` > 0) with noise 0.02."""
    rng = np.random.default_rng(0)
    history = [{"step": s, "loss": round(0.26 + train_slope * s + rng.normal(0, 0.02), 4)}
               for s in range(10, 500 * len(eval_loss) + 1, 10)]
    history += [{"step": 500 * (i + 1), "eval_loss": v} for i, v in enumerate(eval_loss)]
    history.sort(key=lambda row: row["step"])
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"global_step": 500 * len(eval_loss), "log_history": history}))
    return path


def said(analysis) -> list[str]:
    return [w for w in analysis.warnings if "got worse at each of the" in w]


def test_worse_at_each_evaluation_after_its_best_as_train_falls_is_said(tmp_path):
    a = analyze(trainer_state(tmp_path, EVAL_LOSS), metric="eval_loss")
    assert [p.name for p in a.phases] == ["plateau"]  # the phases are not changed
    [note] = said(a)
    assert note.startswith("after its best evaluation (step 1000, eval_loss 0.2978) eval_loss got "
                           "worse at each of the 3 later ones, to 0.3154 at step 2500, while the "
                           "train loss (loss) fell ")
    assert note.endswith("the pattern of an overfit, which 5 evaluations cannot establish")
    assert a.recommended_stop_step == 1000


@pytest.mark.parametrize("eval_loss, train_slope", [
    (EVAL_LOSS, 0.00005),                        # the train loss rose too: no such pattern
    ([0.342, 0.2978, 0.2981, 0.3154, 0.3023], -0.00005),  # the last one got better again
    ([0.342, 0.2978, 0.2981, 0.3023], -0.00005),  # 2 evaluations after the best
])
def test_not_said_without_train_improving_or_a_worsening_at_every_later_evaluation(
        tmp_path, eval_loss, train_slope):
    assert not said(analyze(trainer_state(tmp_path, eval_loss, train_slope), metric="eval_loss"))


def test_not_said_of_a_train_reward(tmp_path):
    """The note says "held-out worse as train improves": a train reward worse after its best
    while the train loss falls (the same values as a reward) is no held-out metric, and no
    overfit. Said only of a metric measured on held-out data."""
    rng = np.random.default_rng(0)
    rows = [{"step": s, "loss": round(0.26 - 0.00005 * s + rng.normal(0, 0.02), 4)}
            for s in range(10, 2501, 10)]
    for row in rows:
        if row["step"] % 500 == 0:
            row["reward"] = -EVAL_LOSS[row["step"] // 500 - 1]
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    a = analyze(path, metric="reward")
    assert [p.name for p in a.phases] == ["plateau"]
    assert any("the train loss (loss) fell" in w for w in a.warnings)  # train did improve
    assert not said(a)
