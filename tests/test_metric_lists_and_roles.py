"""What the notes and errors list of a log's metrics, and the roles `inspect` gives them
(trial 39b): trl-orpo-recsys was told "series that may be one: rewards/chosen,
rewards/rejected" and not its rewards/accuracies; grpo-axiomforge's `accuracy`, an evaluation
every 5 iterations, was a preference accuracy; a GRPO run's train-batch `completion_length` was
`eval/response_length`, drawn as a held-out length."""

from __future__ import annotations

import json

import numpy as np

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.plot import phase_figure
from phasewatch.presets import aliases_for


def write_state(path, rows: list[dict]) -> str:
    path.write_text(json.dumps({"global_step": rows[-1]["step"], "log_history": rows}))
    return str(path)


def test_a_preference_run_is_pointed_to_its_accuracy_and_margin_not_its_rejected_reward(
        tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = [{"step": s, "loss": 1.0 / s ** 0.5, "rewards/chosen": -0.1 + s / 4000,
             "rewards/rejected": -0.1 - s / 4000 + rng.normal(0, 0.01),
             "rewards/accuracies": min(0.9, 0.45 + s / 800 + rng.normal(0, 0.03)),
             "rewards/margins": s / 2000 + rng.normal(0, 0.001), "logps/chosen": -1 + s / 400}
            for s in range(10, 340, 10)]
    path = write_state(tmp_path / "trainer_state.json", rows)
    assert main(["analyze", path]) == 0
    [note] = [line for line in capsys.readouterr().out.splitlines() if "may be one" in line]
    assert "series that may be one: rewards/accuracies, rewards/margins, rewards/chosen;" in note
    assert "rejected" not in note


def test_a_bare_accuracy_beside_an_rl_reward_is_no_preference_accuracy():
    assert "train/preference_accuracy" not in aliases_for(["accuracy", "mean_reward", "loss"])
    assert "train/preference_accuracy" not in aliases_for(["acc", "reward", "kl"])
    # OpenRLHF's reward model: `acc` beside its chosen and rejected rewards
    assert aliases_for(["loss", "acc", "chosen_reward", "reject_reward"])[
        "train/preference_accuracy"] == "acc"


def test_a_train_batchs_response_length_is_a_train_signal(tmp_path, capsys):
    aliases = aliases_for(["reward", "completion_length", "eval_completions/mean_length"])
    assert aliases["train/response_length"] == "completion_length"
    assert aliases["eval/response_length"] == "eval_completions/mean_length"
    rng = np.random.default_rng(1)
    rows = [{"step": s, "loss": 0.0, "reward": 0.2 + s / 200 + rng.normal(0, 0.1),
             "reward_std": 0.3, "completion_length": 150 - s / 5 + rng.normal(0, 5), "kl": s / 1e3}
            for s in range(1, 120)]
    path = write_state(tmp_path / "trainer_state.json", rows)
    assert main(["inspect", path]) == 0
    [line] = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("completion_length")]
    assert line.split()[-1] == "train/response_length"
    fig = phase_figure(read_run(path))
    assert [ax.get_ylabel().replace("\n", " ") for ax in fig.axes][-1] == "resp. length (train)"


def test_the_no_metric_error_says_how_many_more_and_under_which_prefixes(tmp_path, capsys):
    path = tmp_path / "log.jsonl"
    names = [f"raw/m{i:02d}" for i in range(24)] + ["series/a", "series/b", "other/c"]
    path.write_text("".join(json.dumps({"step": s, **{n: s * 0.1 for n in names}}) + "\n"
                            for s in range(5)))
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err
    # other/c, raw/m00 ... raw/m18, then raw/m19 ... raw/m23, series/a, series/b
    assert "raw/m18 and 7 more (under raw/ (5), series/ (2))" in err


def test_a_trainer_history_saved_under_a_key_of_its_own_keeps_the_trainers_names(tmp_path, capsys):
    """json-dpo-jsonextract-reward: HF's `log_history` saved as `raw_log_history` beside copies
    of its series (`train_loss`, `scalar_series`): its `loss` is the train loss and its
    `rewards/accuracies` the preference accuracy, not `raw_log_history/loss`."""
    rows = [{"step": s, "epoch": s / 45, "loss": 0.7 / s ** 0.3, "rewards/accuracies": 0.6 + s / 300,
             "rewards/margins": s / 30} for s in range(1, 91)]
    doc = {"eval_loss": [], "metadata": {"stage": "dpo"}, "raw_log_history": rows,
           "train_loss": [{"step": r["step"], "epoch": r["epoch"], "loss": r["loss"]} for r in rows]}
    path = tmp_path / "dpo_history.json"
    path.write_text(json.dumps(doc))
    run = read_run(path)
    assert run.own_name("train/loss") == "loss"
    assert run.own_name("train/preference_accuracy") == "rewards/accuracies"
    assert "train_loss/loss" in run.metrics  # the other lists keep their keys
    assert main(["analyze", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"{path}  metric loss (min)")


def test_a_log_with_no_metric_to_take_is_pointed_to_the_series_that_may_be_its_score(
        tmp_path, capsys):
    """json-fair-rlvr-batch-acc (real corpus): a GRPO run's batch log with `accuracy` (rising
    0.77 -> 0.98) among a dozen rates and counts, no loss and no reward by name, was refused
    with the run's metrics listed alphabetically, its score among them unmarked; the refusal
    now names the series that may be one, as the train-loss fallback's note does."""
    rng = np.random.default_rng(0)
    rows = [{"step": s, "accuracy": min(1.0, 0.77 + s / 500 + rng.normal(0, 0.02)),
             "abstention_rate": 0.3 + rng.normal(0, 0.05), "n_samples": 176,
             "avg_p_structural": 0.0} for s in range(100)]
    path = tmp_path / "batch_logs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no performance metric found" in err
    assert ("pick one with --metric (series that may be one: accuracy; pass --metric accuracy "
            "to analyse it). Metrics in this run:") in err


def test_the_series_a_log_may_be_judged_by_name_its_held_out_scores_first(tmp_path, capsys):
    """json-openenv-ppo-evalgreedy-20 (real corpus): a PPO run's `episode_rewards` at every
    episode beside greedy and stochastic evaluations every few, `eval_greedy_rewards` and
    `eval_greedy_grader_scores`: the refusal named only "episode_rewards" (an `eval_x` is also
    spelled `eval/x`, an alias taken for a role; "grader" holds "grad"). The evaluations are
    named, first."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(30):
        row = {"step": s, "episode_rewards": 0.5 + rng.normal(0, 0.2),
               "episode_steps": int(rng.integers(1, 10))}
        if s % 3 == 2:
            row.update({"eval_greedy_rewards": 0.44 + rng.normal(0, 0.02),
                        "eval_greedy_grader_scores": 0.5 + rng.normal(0, 0.02)})
        rows.append(row)
    path = tmp_path / "training_metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err
    assert ("(series that may be one: eval_greedy_grader_scores, eval_greedy_rewards, "
            "episode_rewards; pass --metric eval_greedy_grader_scores to analyse the first)"
            ) in err, err


def test_a_score_s_short_name_is_named_among_the_series_a_log_may_be_judged_by(tmp_path, capsys):
    """json-verl-kg-grpo-val-25 (real corpus): a verl QA run's validations `em`, `f1` and
    `score` were refused with "series that may be one: score, f1", not its exact match `em`,
    a score by a short name (`direction_words.HIGHER_IS_BETTER_TOKENS`)."""
    rng = np.random.default_rng(0)
    rows = [{"step": 50 * (i + 1), "em": 0.2 + i / 100 + rng.normal(0, 0.01),
             "f1": 0.25 + i / 100 + rng.normal(0, 0.01), "score": 0.25 + i / 200,
             "r_step_avg": 0.1 + rng.normal(0, 0.01)} for i in range(25)]
    path = tmp_path / "task_reward_data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err
    assert "(series that may be one: score, em, f1; pass --metric score to analyse the first)" \
        in err, err


def test_a_policy_gradient_loss_is_no_default_metric(tmp_path, capsys):
    """jsonl-rdan-grpo-reward (real corpus): a home-made GRPO log whose rewards no role names
    had its `actor/pg_loss` analysed by default (a plateau and a stop) beside a warning that a
    policy-gradient loss measures no performance; now it is refused as a log with no metric to
    take, saying why its train loss was passed over and naming the rewards that may be the
    score. An ordinary train loss is still the fallback (the test above)."""
    rng = np.random.default_rng(0)
    rows = [{"step": s, "actor/pg_loss": rng.normal(0, 2e-4), "actor/entropy": 0.7,
             "reward/selected_mean": 0.3 + s / 400 + rng.normal(0, 0.02)} for s in range(1, 120)]
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["analyze", str(path)]) == 2
    err = capsys.readouterr().err
    assert ("its train loss, actor/pg_loss, is a policy-gradient loss, which measures no "
            "performance); pick one with --metric (series that may be one: "
            "reward/selected_mean; pass --metric reward/selected_mean to analyse it)") in err
    assert main(["analyze", str(path), "--metric", "reward/selected_mean"]) == 0


def test_a_token_accuracy_is_not_named_as_a_score_beside_the_train_loss(tmp_path, capsys):
    # TRL SFT without evaluation logs `mean_token_accuracy` on the loss's own batches: the
    # fallback note named it as a series that "may be" a held-out metric or reward
    # (trainer-state-gsm8k-lora-trainloss-62), the train loss's mirror, no more able to show
    # an overfit; a preference run's own scores are still named
    rows = [{"step": s, "loss": 1.0 / s ** 0.5, "mean_token_accuracy": 0.6 + s / 2000}
            for s in range(10, 400, 10)]
    path = write_state(tmp_path / "trainer_state.json", rows)
    assert main(["analyze", path]) == 0
    [note] = [ln for ln in capsys.readouterr().out.splitlines() if "no held-out metric" in ln]
    assert "token_accuracy" not in note and "may be one" not in note
    rows = [{**row, "rewards/accuracies": 0.5 + row["step"] / 1000,
             "train/mean_token_accuracy": 0.5 + row["step"] / 3000} for row in rows]
    path = write_state(tmp_path / "dpo_state.json", rows)
    assert main(["analyze", path]) == 0
    [note] = [ln for ln in capsys.readouterr().out.splitlines() if "no held-out metric" in ln]
    assert "series that may be one: rewards/accuracies;" in note
