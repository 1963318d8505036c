"""The held-out loss beside a held-out score (phasewatch.loss_beside): `analyze` says when the
two put the checkpoint to keep apart, with the steps `--metric` on the loss prints."""

from __future__ import annotations

import json
import math
import re

from phasewatch import analyze
from phasewatch.cli import main


def _trainer_state(tmp_path, accuracy, loss, score="eval_accuracy"):
    """An HF Trainer state with 20 evaluations every 100 steps and a falling train loss."""
    history = []
    for i in range(1, 21):
        history.append({"step": 100 * i, "epoch": i / 2, "loss": math.exp(-i / 4) + 0.05})
        history.append({"step": 100 * i, "epoch": i / 2, score: accuracy(i),
                        "eval_loss": loss(i)})
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"log_history": history, "global_step": 2000, "max_steps": 2000}))
    return path


def _wiggle(i):
    return (-1) ** i


def test_a_held_out_loss_that_rises_while_the_accuracy_climbs_is_said(tmp_path, capsys):
    """The classifier's textbook case: the accuracy improves to the last evaluation while the
    loss of the same evaluations turns up after step 900. The note names the loss's own best
    and overfit, as `--metric eval_loss` reads them."""
    path = _trainer_state(
        tmp_path, lambda i: 0.6 + 0.3 * (1 - math.exp(-i / 5)) + 0.004 * _wiggle(i),
        lambda i: 0.9 * math.exp(-i / 3) + 0.3 + 0.02 * max(0, i - 6) + 0.005 * _wiggle(i))
    score = analyze(path)
    loss = analyze(path, metric="eval_loss")
    assert score.metric == "eval_accuracy" and score.recommended_stop_step == 2000
    overfit = [p for p in loss.phases if p.name == "overfit"]
    assert loss.recommended_stop_step == 900 and overfit, loss.phases
    notes = [w for w in score.warnings if w.startswith("the held-out loss eval_loss")]
    assert len(notes) == 1, score.warnings
    assert (f"called overfit from step {overfit[0].start_step} (its best at step 900)"
            in notes[0]), notes[0]
    assert "eval_accuracy improves to step 2000" in notes[0]
    assert "step 900 is the checkpoint by the loss (--metric eval_loss)" in notes[0]
    assert main(["analyze", str(path), "--format", "json"]) == 0
    assert notes[0] in json.loads(capsys.readouterr().out)["runs"][0]["warnings"]
    # analysed by the loss, the same note points at the score's checkpoint
    by_loss = " ".join(loss.warnings)
    assert "while eval_accuracy improves to step 2000" in by_loss, loss.warnings
    assert "step 2000 is the checkpoint by eval_accuracy (--metric eval_accuracy)" in by_loss


def test_a_word_error_rate_is_judged_lower_is_better_beside_its_loss(tmp_path):
    """A Whisper fine-tune: the WER falls to the end while the eval loss turns up from step
    500. Analysed by the loss, the WER beside it is read in its own direction (read as a
    score to maximise, its fall was an overfit that the loss 'disagreed' with)."""
    path = _trainer_state(
        tmp_path, lambda i: 0.2 + 0.3 * math.exp(-i / 5) + 0.003 * _wiggle(i),
        lambda i: 0.9 * math.exp(-i / 2) + 0.3 + 0.02 * max(0, i - 5) + 0.004 * _wiggle(i),
        score="eval_wer")
    for result in (analyze(path), analyze(path, metric="eval_loss")):
        said = " ".join(result.warnings)
        assert "the held-out loss eval_loss is called overfit from step" in said, result.warnings
        improves = re.search(r"while eval_wer improves to step (\d+)", said)
        assert improves and int(improves.group(1)) >= 1800, said
        assert "disagree" not in said


def test_an_accuracy_called_overfit_while_the_loss_keeps_falling_is_said(tmp_path):
    path = _trainer_state(
        tmp_path,
        lambda i: 0.6 + 0.3 * (1 - math.exp(-i / 3)) - 0.012 * max(0, i - 8) + 0.003 * _wiggle(i),
        lambda i: 0.9 * math.exp(-i / 6) + 0.3 + 0.004 * _wiggle(i))
    score = analyze(path)
    assert score.recommended_stop_step == 800 and score.phases[-1].name == "overfit"
    best = analyze(path, metric="eval_loss").recommended_stop_step
    assert best >= 1800
    assert (f"eval_accuracy is called overfit from step 800 while the held-out loss eval_loss of "
            f"the same evaluations improves to step {best}") in " ".join(score.warnings)


def test_nothing_is_said_when_the_loss_and_the_score_agree(tmp_path):
    """Both improve to the end; or both turn at one step: no note."""
    rising = _trainer_state(
        tmp_path, lambda i: 0.6 + 0.3 * (1 - math.exp(-i / 5)) + 0.004 * _wiggle(i),
        lambda i: 0.9 * math.exp(-i / 6) + 0.3 + 0.004 * _wiggle(i))
    assert not [w for w in analyze(rising).warnings if "held-out loss" in w]
    turning = _trainer_state(
        tmp_path, lambda i: 0.9 - 0.03 * abs(i - 10) + 0.003 * _wiggle(i),
        lambda i: 0.4 + 0.03 * abs(i - 10) + 0.003 * _wiggle(i))
    result = analyze(turning)
    assert result.phases[-1].name == "overfit", result.phases
    assert not [w for w in result.warnings if "held-out loss" in w], result.warnings
