"""Framework metric names map onto DESIGN.md's roles; the originals stay the run's names."""

import pytest

from phasewatch.presets import aliases_for
from phasewatch.run import RecordCollector

CASES = {
    "trl_new": (
        ["loss", "reward", "reward_std", "kl", "entropy", "completions/mean_length",
         "rewards/accuracy_reward/mean", "learning_rate", "grad_norm", "eval_loss", "eval_reward"],
        {"train/loss": "loss", "train/reward": "reward", "train/kl": "kl", "train/entropy": "entropy",
         "train/response_length": "completions/mean_length", "train/lr": "learning_rate",
         "eval/loss": "eval_loss", "eval/accuracy": "eval_reward", "eval/reward": "eval_reward"},
    ),
    "trl_old": (
        ["loss", "reward", "kl", "completion_length", "rewards/accuracy_reward"],
        {"train/reward": "reward", "train/response_length": "completion_length", "train/kl": "kl"},
    ),
    "trl_via_wandb": (
        ["train/reward", "train/kl", "train/completions/mean_length", "train/learning_rate", "eval/loss"],
        {"train/response_length": "train/completions/mean_length", "train/lr": "train/learning_rate"},
    ),
    "verl_old": (
        ["critic/score/mean", "critic/kl", "actor/entropy_loss", "actor/pg_loss",
         "response_length/mean", "val/test_score/openai/gsm8k", "actor/lr(1e-4)"],
        {"train/reward": "critic/score/mean", "train/kl": "critic/kl", "train/entropy": "actor/entropy_loss",
         "train/loss": "actor/pg_loss", "train/response_length": "response_length/mean",
         "eval/accuracy": "val/test_score/openai/gsm8k"},
    ),
    "verl_new": (
        ["critic/score/mean", "actor/kl_loss", "actor/entropy", "actor/pg_loss", "response_length/mean",
         "val-core/openai/gsm8k/acc/mean@4", "val-aux/openai/gsm8k/reward/std@4", "actor/lr"],
        {"train/kl": "actor/kl_loss", "train/entropy": "actor/entropy", "train/lr": "actor/lr",
         "eval/accuracy": "val-core/openai/gsm8k/acc/mean@4"},
    ),
    "verl_via_mlflow": (
        ["val-core/openai/gsm8k/reward/mean_at_1"],
        {"eval/accuracy": "val-core/openai/gsm8k/reward/mean_at_1"},
    ),
    "openrlhf": (
        ["policy_loss", "reward", "return", "response_length", "entropy_loss", "kl", "actor_lr",
         "actor_grad_norm", "eval_math500_pass1", "eval_math500_pass8"],
        {"train/loss": "policy_loss", "train/reward": "reward", "train/response_length": "response_length",
         "train/entropy": "entropy_loss", "train/lr": "actor_lr", "train/grad_norm": "actor_grad_norm",
         "eval/accuracy": "eval_math500_pass1"},
    ),
    "llamafactory": (
        ["loss", "lr", "rewards/accuracies", "eval_loss"],  # `accuracy` as its reader names it
        {"train/loss": "loss", "train/lr": "lr", "train/preference_accuracy": "rewards/accuracies",
         "eval/loss": "eval_loss"},
    ),
    "keras_csvlogger": (
        ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"],
        {"eval/accuracy": "val_accuracy", "eval/loss": "val_loss", "train/loss": "loss"},
    ),
    "lightning_csvlogger": (
        ["step", "train_loss", "val_loss", "val_acc"],
        {"eval/accuracy": "val_acc", "eval/loss": "val_loss", "train/loss": "train_loss"},
    ),
    "fairseq": (
        ["epoch", "train_loss", "train_nll_loss", "valid_loss", "valid_nll_loss", "valid_ppl"],
        {"eval/loss": "valid_loss", "train/loss": "train_loss"},
    ),
    "dev_split": (
        ["step", "loss", "acc", "dev_loss", "dev_acc"],
        {"eval/accuracy": "dev_acc", "eval/loss": "dev_loss", "train/loss": "loss"},
    ),
    "trinity_rft": (
        ["eval/gsm8k-eval/accuracy/mean@4", "rollout/accuracy/mean", "actor/entropy_loss",
         "critic/score/mean", "response_length/mean"],
        {"eval/accuracy": "eval/gsm8k-eval/accuracy/mean@4", "train/reward": "critic/score/mean",
         "train/response_length": "response_length/mean"},
    ),
    "trinity_rft_explorer_only": (
        ["bench/math500/accuracy/mean@8", "rollout/accuracy/mean"],
        {"eval/accuracy": "bench/math500/accuracy/mean@8", "train/reward": "rollout/accuracy/mean"},
    ),
}


@pytest.mark.parametrize("framework", sorted(CASES))
def test_roles(framework):
    names, expected = CASES[framework]
    aliases = aliases_for(names)
    for canonical, own in expected.items():
        assert aliases.get(canonical) == own, (framework, canonical, aliases)


def test_a_bare_accuracy_beside_a_validation_accuracy_is_no_preference_accuracy():
    """Keras logs `accuracy` (train) beside `val_accuracy`: not a DPO preference accuracy, which
    the same bare name is in an OpenRLHF log (beside its chosen and rejected rewards)."""
    assert "train/preference_accuracy" not in aliases_for(["accuracy", "val_accuracy"])
    assert "train/preference_accuracy" not in aliases_for(["acc", "val_acc", "loss"])
    assert "train/preference_accuracy" not in aliases_for(["acc", "dev_acc", "loss"])
    assert aliases_for(["acc", "loss", "chosen_reward", "reject_reward"])[
        "train/preference_accuracy"] == "acc"


def test_a_train_prefixed_accuracy_is_a_preference_accuracy_only_beside_a_preference_runs_names():
    """ESPnet's `train/acc` (a token accuracy on the training batches, beside `valid/acc`) was
    shown as a DPO preference accuracy; OpenRLHF's `acc` under W&B's `train/` prefix beside its
    chosen and rejected rewards is one."""
    assert "train/preference_accuracy" not in aliases_for(
        ["train/acc", "train/loss", "valid/acc", "valid/loss"])
    assert aliases_for(["train/acc", "train/loss", "train/chosen_reward", "train/reject_reward"])[
        "train/preference_accuracy"] == "train/acc"


def test_a_bare_accuracy_beside_a_classifiers_scores_is_no_preference_accuracy():
    """A CNN's MLflow run logged `accuracy`, `precision`, `recall` and `f1_score` (a reading of
    public logs): `inspect` showed its accuracy as a DPO preference accuracy, which no
    preference trainer logs beside those."""
    assert "train/preference_accuracy" not in aliases_for(
        ["accuracy", "precision", "recall", "f1_score", "train_loss"])
    assert "train/preference_accuracy" not in aliases_for(["acc", "Precision", "Recall", "loss"])
    assert aliases_for(["accuracy", "loss", "chosen", "rejected"])[
        "train/preference_accuracy"] == "accuracy"
    # in capitals too, as the candidate is matched: `Accuracy` beside `Precision`, `Recall`
    assert "train/preference_accuracy" not in aliases_for(["Accuracy", "Precision", "Recall"])


def test_an_optimisers_beta_is_no_preference_runs_beta():
    """A DPO variant logs its `beta` beside a bare accuracy; a classifier logging its Adam
    `adam_beta1` beside one is no preference run (`name_words` reads both as 'beta')."""
    assert "train/preference_accuracy" not in aliases_for(
        ["accuracy", "loss", "adam_beta1", "adam_beta2"])
    assert aliases_for(["accuracy", "loss", "train/beta"])["train/preference_accuracy"] == \
        "accuracy"


def test_a_bare_accuracy_is_a_preference_accuracy_only_beside_a_preference_runs_names(
        tmp_path, capsys):
    """A CIFAR-100 console printing its test `Acc` every 5 epochs beside the train loss, and a
    CSV of `epoch,loss,accuracy`: `inspect` showed the accuracy as a DPO preference accuracy on
    the training pairs, and `analyze` offered no held-out series to pass. A preference run logs
    its accuracy beside its chosen and rejected rewards (OpenRLHF, TRL); LLaMA-Factory's
    trainer_log.jsonl copies TRL's alone and is read under TRL's name."""
    import json

    from phasewatch.cli import main
    from phasewatch.io import read_run

    console = tmp_path / "train.log"
    console.write_text("".join(
        f"Epoch {e:03d} loss {9.0 / e:8.4f} | train 2.2s"
        + (f" | Acc {10 + e:.2f}% | infer 4.4s" if e % 5 == 0 else "") + "\n"
        for e in range(1, 41)))
    table = tmp_path / "history.csv"
    table.write_text("epoch,loss,accuracy\n" + "".join(
        f"{e},{2.0 / e:.4f},{0.5 + e / 100:.3f}\n" for e in range(1, 21)))
    for path, name in ((console, "Acc"), (table, "accuracy")):
        run = read_run(path)
        assert run.own_name("train/preference_accuracy") is None, path
        assert main(["analyze", str(path)]) == 0
        assert f"series that may be one: {name}; pass --metric {name}" in capsys.readouterr().out
    lf = tmp_path / "trainer_log.jsonl"
    lf.write_text("".join(json.dumps({
        "current_steps": s, "total_steps": 200, "loss": 0.7 - s / 400, "accuracy": 0.5 + s / 500,
        "lr": 5e-6, "epoch": s / 100, "percentage": s / 2, "elapsed_time": "0:00:10",
        "remaining_time": "0:01:00"}) + "\n" for s in range(10, 201, 10)))
    run = read_run(lf)
    assert run.own_name("train/preference_accuracy") == "rewards/accuracies"
    assert run.series("rewards/accuracies").iloc[-1] == pytest.approx(0.9)


def test_a_bare_accuracy_in_capitals_is_placed_as_in_lower_case(tmp_path, capsys):
    """The same values named `Accuracy` (an mmcls project's TensorBoard tag) and `accuracy`:
    the first was "scored on the training batches ... not an overfit to the training data" in
    watch's overfit alert and counted in readings, the second an overfit of evaluations."""
    import math

    from phasewatch.cli import main

    said = {}
    for name in ("accuracy", "Accuracy"):
        path = tmp_path / f"{name}.csv"
        path.write_text(f"step,{name}\n" + "".join(
            f"{s},{0.9 - 0.3 * math.exp(-s / 5) - (0.02 * (s - 20) if s > 20 else 0):.4f}\n"
            for s in range(1, 41)))
        assert main(["watch", "--metric", name, str(path)]) == 0
        said[name] = capsys.readouterr().out.replace(name, "NAME")
    assert said["Accuracy"] == said["accuracy"] and "training batches" not in said["Accuracy"]


def test_canonical_name_present_is_not_aliased_and_originals_stay():
    collector = RecordCollector("mem", "test")
    collector.add(0, {"eval/accuracy": 0.5, "eval_accuracy": 0.1, "reward": 1.0})
    run = collector.build()
    assert "eval/accuracy" not in run.aliases
    assert run.series("eval/accuracy").tolist() == [0.5]
    assert run.series("train/reward").tolist() == [1.0] and run.metrics == ["eval/accuracy", "eval_accuracy", "reward"]


def test_a_candidate_spelled_with_capitals_takes_its_role_after_the_listed_spelling():
    """W&B panels named by hand (`Reward`, `Loss`) are the roles `reward` and `loss` are; where
    the log also has the listed spelling, that one keeps the role."""
    from phasewatch.signals import choose_metric

    collector = RecordCollector("t", "t")
    for step in range(1, 6):
        collector.add(step, {"Reward": 0.1 * step, "Loss": 1.0 / step}, line=step)
    run = collector.build()
    assert aliases_for(run.metrics)["train/reward"] == "Reward"
    assert run.resolve_metric(choose_metric(run)) == "Reward"
    assert aliases_for(["Reward", "reward"])["train/reward"] == "reward"
    assert "eval/loss" not in aliases_for(["Val_Loss_Total"])


@pytest.mark.parametrize("name,role", [("training/loss", "train/loss"), ("avg_loss", "train/loss"),
                                       ("reward/mean", "train/reward"),
                                       ("train/mean_reward", "train/reward"),
                                       ("train/average_reward", "train/reward"),
                                       ("avg_reward", "train/reward"),
                                       ("val_losses", "eval/loss"),
                                       # Stable-Baselines3, OpenAI Baselines
                                       ("rollout/ep_rew_mean", "train/reward"),
                                       ("EpRewMean", "train/reward"),
                                       # CleanRL: TensorBoard, and its console print read by
                                       # kv_console (`global step=N, episodic return=X`)
                                       ("charts/episodic_return", "train/reward"),
                                       ("episodic return", "train/reward"),
                                       # an RL loop's return, averaged or one episode's
                                       ("mean return", "train/reward"),
                                       ("avg_return", "train/reward"),
                                       ("episode_reward", "train/reward"),
                                       ("total reward", "train/reward"),
                                       ("eval/mean_reward", "eval/accuracy"),
                                       # Tinker cookbook RL: one environment's test reward, or
                                       # a named evaluator's
                                       ("test/env/gsm8k/reward/total", "eval/accuracy"),
                                       ("test/test/env/all/reward/total", "eval/accuracy")])
def test_home_made_training_loops_names(name, role):
    """Names of home-made loops seen in public repositories (a TensorBoard `training/loss`, a
    printed `avg_loss=`, a JSONL `reward/mean`): analyze takes them without --metric."""
    assert aliases_for([name, "lr"])[role] == name


def _lightning_twins(tmp_path, train: str, held_out: tuple[str, ...]):
    """A metrics.csv where `train` is logged on step and on epoch (`{train}_step` every 10
    steps of the first epoch, `{train}_epoch` at each epoch's end) beside the `held_out` series
    at each epoch's end, read."""
    from phasewatch import read_run

    path = tmp_path / "metrics.csv"
    rows = [",".join(["epoch", "step", f"{train}_step", f"{train}_epoch", *held_out])]
    rows += [f"0,{s},{2.0 - s / 100}," + "," * len(held_out) for s in range(9, 100, 10)]
    rows += [",".join([str(e), str(e * 100 + 99), "", str(1.5 - e / 10),
                       *(str(0.5 + e / 50 + k / 10) for k in range(len(held_out)))]) for e in range(6)]
    path.write_text("\n".join(rows) + "\n")
    return read_run(path)


def test_lightning_metrics_logged_on_step_and_on_epoch(tmp_path):
    """Lightning's CSVLogger writes `train_loss_step` / `train_loss_epoch` (and `val_loss_epoch`,
    `val_acc_epoch` when validation logs on step too): a metrics.csv of them was 'no performance
    metric found'. The validation series is the performance metric when present; the train
    loss is the epoch's mean, at the validation's cadence (`epoch_twins`)."""
    from phasewatch.signals import choose_metric

    run = _lightning_twins(tmp_path, "train_loss", ("val_loss_epoch", "val_acc_epoch"))
    aliases = aliases_for(run.metrics)
    assert aliases["train/loss"] == "train_loss_epoch" == run.own_name("train/loss")
    assert aliases["eval/loss"] == "val_loss_epoch" and aliases["eval/accuracy"] == "val_acc_epoch"
    assert run.resolve_metric(choose_metric(run)) == "val_acc_epoch"
    assert aliases_for(["train_loss_epoch"])["train/loss"] == "train_loss_epoch"


def test_lightning_twins_of_a_slashed_name(tmp_path):
    """A LightningModule that logs `self.log("train/loss", ..., on_step=True, on_epoch=True)`
    writes `train/loss_step` and `train/loss_epoch` (tb-genome-valloss-10, to TensorBoard):
    neither had a role, so `inspect` named no train loss beside `val/loss`, and `analyze` had
    none to judge a held-out loss's rise by. They are the train loss's twins, as
    `train_loss_step` / `train_loss_epoch` are: the epoch's mean at the validation's cadence."""
    run = _lightning_twins(tmp_path, "train/loss", ("val/loss",))
    assert run.own_name("train/loss") == "train/loss_epoch"
    assert run.own_name("eval/loss") == "val/loss"


def test_a_held_out_result_under_its_datasets_name_has_the_results_role():
    """detectron2 keeps several test sets' results apart (`coco_2017_val/bbox/AP`,
    `voc_2007_test/segm/AP`): the role of the name after the set, after that name itself; not
    under a train split, nor for a bare name after a prefix (`run1/accuracy`)."""
    from phasewatch.presets import role_matches

    sets = ["coco_2017_val/bbox/AP", "voc_2007_test/bbox/AP", "total_loss"]
    assert aliases_for(sets)["eval/accuracy"] == "coco_2017_val/bbox/AP"
    assert role_matches("eval/accuracy", sets) == sets[:2]
    assert aliases_for([*sets, "bbox/AP"])["eval/accuracy"] == "bbox/AP"
    assert aliases_for(["lvis_val/segm/AP", "lvis_val/bbox/AP"])["eval/accuracy"] == \
        "lvis_val/segm/AP"  # the masks first, as `segm/AP` before `bbox/AP`
    assert aliases_for(["coco_val/validation/loss"])["eval/loss"] == "coco_val/validation/loss"
    for name in ("train/bbox/AP", "run1/accuracy", "bbox/AP/extra"):
        assert "eval/accuracy" not in aliases_for([name]), name
