"""The default direction by the words of a metric's name: long words anywhere, short ones
(nll, ppl, wer, cer, ter, err) only as a word of their own (trial 39b: `final_answer_accuracy`
was read as a word error rate through "answer", and its worst evaluation was the checkpoint to
keep)."""

from __future__ import annotations

import json

import pytest

from phasewatch.cli import main
from phasewatch.direction_words import name_words
from phasewatch.presets import default_direction


@pytest.mark.parametrize("name", ["final_answer_accuracy", "rewards/answer_reward_func",
                                  "eval/answer_f1", "lower_bound", "eval/cancer_auc",
                                  "placer_score", "train/rewards/correct_answer", "apple_rate",
                                  "eval/fidelity", "kids_score", "eval/grade_accuracy",
                                  "val/shaded_acc", "mission_success_rate"])
def test_a_short_word_inside_another_does_not_make_a_score_lower_is_better(name):
    assert default_direction(name) == "max"


@pytest.mark.parametrize("name", ["eval_wer", "test/wer", "eval/cer", "evalWER", "val_ppl",
                                  "eval_nll", "top1_err", "eval/ter", "valloss",
                                  "eval/mean_token_error", "logps/rejected", "eval_wer_score",
                                  "eval_mse", "val/rmse", "eval_mae", "test_mape", "valMSE",
                                  "val_cost", "eval/episode_cost", "totalCost", "cum_regret",
                                  "val_pinball", "eval/crps", "test_MASE", "val_fid", "FID",
                                  "metrics/fid50k_full", "eval/kid", "val_fad", "val/minADE6",
                                  "val/minFDE6", "val/miss_rate", "val/brier-minFDE",
                                  "test_brier_score"])
def test_losses_and_error_rates_are_lower_is_better(name):
    assert default_direction(name) == "min"


@pytest.mark.parametrize("name", ["val_cross_entropy", "val_CrossEntropy", "val_crossentropy",
                                  "eval/cross-entropy", "test_cross_entropy_epoch"])
def test_a_cross_entropy_is_lower_is_better(name):
    """A Lightning run logging torchmetrics' `val_cross_entropy` beside its Jaccard index (no
    loss word in the name) had it read higher-is-better: its fall was an overfit from epoch 0."""
    assert default_direction(name) == "min"


@pytest.mark.parametrize("name", ["entropy", "actor/entropy", "objective/entropy"])
def test_an_entropy_has_no_direction_and_is_no_cross_entropy(name):
    from phasewatch.direction_words import has_no_better_direction, is_cross_entropy
    assert has_no_better_direction(name) and not is_cross_entropy(name)


def test_name_words_split_at_separators_digits_and_camel_case():
    assert name_words("evalWER_at5/top1-err") == ["eval", "wer", "at", "top", "err"]


def test_analyze_keeps_the_best_answer_accuracy(tmp_path, capsys):
    """An accuracy of final answers: its best evaluation is the checkpoint to keep."""
    log = tmp_path / "log.jsonl"
    values = [0.78, 0.79, 0.8, 0.81, 0.83, 0.84, 0.86, 0.87, 0.87, 0.88, 0.87, 0.88]
    log.write_text("".join(json.dumps({"step": 10 * i, "final_answer_accuracy": v}) + "\n"
                           for i, v in enumerate(values)))
    assert main(["analyze", str(log), "--metric", "final_answer_accuracy", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["direction"] == "max" and result["recommended_stop_step"] >= 90, result


@pytest.mark.parametrize("name", ["eval/incorrect", "num_incorrect", "numIncorrect",
                                  "eval/inaccuracy", "test/unsuccessful_episodes", "eval/inexact",
                                  "mismatch_rate", "val_mismatch", "misranked",
                                  "val/misclassified", "wrong_answers", "val_mistakes",
                                  "failure_rate", "eval/num_failed"])
def test_a_count_or_rate_of_failures_is_lower_is_better(name):
    """A score word negated (`incorrect` holds "correct", `mismatch` "match") or a word of
    failure: lower is better, not the score the word inside it names."""
    assert default_direction(name) == "min"


@pytest.mark.parametrize("name", ["eval/correct", "rewards/correct_answer", "eval_exact_match",
                                  "mission_success", "index_acc", "eval_f1", "val_accuracy",
                                  "train/rewards/format_reward", "eval/em", "acc_on_failed",
                                  "train/reward_unmatched", "eval/success_after_failure"])
def test_scores_beside_the_failure_words_stay_higher_is_better(name):
    """A score word of its own beside a word of failure says what is counted: an accuracy on
    the failed cases is still an accuracy."""
    assert default_direction(name) == "max"


def test_analyze_reads_a_falling_share_of_misranked_pairs_as_an_improvement(tmp_path, capsys):
    """An energy-DPO script's share of misranked pairs falling over 20 epochs (a reading of
    public logs) was 'higher is taken to be better' and an overfit from the first epoch: its
    best checkpoint the worst one."""
    log = tmp_path / "log.jsonl"
    values = [0.467, 0.386, 0.421, 0.386, 0.361, 0.373, 0.373, 0.35, 0.357, 0.344, 0.341,
              0.357, 0.35, 0.341, 0.336, 0.341, 0.329, 0.329, 0.31, 0.329]
    log.write_text("".join(json.dumps({"epoch": i + 1, "misranked": v}) + "\n"
                           for i, v in enumerate(values)))
    assert main(["analyze", str(log), "--metric", "misranked", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["direction"] == "min", result
    assert "overfit" not in [p["name"] for p in result["phases"]], result["phases"]
    assert result["recommended_stop_step"] >= 15, result
    assert not any("taken to be better" in w for w in result["warnings"]), result["warnings"]
