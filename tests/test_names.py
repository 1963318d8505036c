"""Metric names as the frameworks write them (checked against OpenRLHF, verl, TRL, LLaMA-Factory
sources), several validation sets (--aggregate), the x axis (--x), OpenRLHF's eval step on W&B."""

import json
import math
import textwrap

import pytest
from wandb_offline import offline_run

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.presets import ROLE_CANDIDATES, aliases_for, role_matches


def cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def curve(i: int, depth: float = 0.3) -> float:
    return 0.5 - depth * math.exp(-((i - 5) / 2.5) ** 2) + 0.01 * min(i, 18) - 0.006 * max(i - 18, 0)


def test_openrlhf_ppo_names():
    aliases = aliases_for(["policy_loss", "entropy_loss", "actor_grad_norm", "actor_lr", "kl",
                           "reward", "eval_gsm8k_pass1"])
    assert aliases["train/entropy"] == "entropy_loss"
    assert aliases["train/grad_norm"] == "actor_grad_norm"
    assert aliases["train/lr"] == "actor_lr"
    assert aliases["eval/accuracy"] == "eval_gsm8k_pass1"
    names = [n for c in ROLE_CANDIDATES.values() for n in c]
    assert "policy_entropy" not in names and "policy_lr" not in names  # never logged by OpenRLHF


def test_openrlhf_on_wandb_prefixes():
    aliases = aliases_for(["train/entropy_loss", "train/actor_grad_norm", "train/actor_lr",
                           "eval/eval_math_pass1", "train/gpt_loss", "eval/eval gpt_loss"])
    assert aliases["train/entropy"] == "train/entropy_loss"
    assert aliases["train/lr"] == "train/actor_lr"
    assert aliases["eval/accuracy"] == "eval/eval_math_pass1"
    assert aliases["eval/loss"] == "eval/eval gpt_loss"


def test_sft_losses():
    assert aliases_for(["gpt_loss", "eval gpt_loss"]) == {"train/loss": "gpt_loss",
                                                        "eval/loss": "eval gpt_loss"}
    assert aliases_for(["val/loss"])["eval/loss"] == "val/loss"  # verl SFT


def test_ppo_kl_is_not_the_reference_kl():
    aliases = aliases_for(["actor/ppo_kl", "actor/pg_loss"])
    assert "train/kl" not in aliases and aliases["train/policy_step_kl"] == "actor/ppo_kl"
    both = aliases_for(["actor/ppo_kl", "actor/kl_loss"])
    assert both["train/kl"] == "actor/kl_loss"


def test_dpo_keys_are_preference_metrics_not_task_accuracy():
    trl = aliases_for(["rewards/accuracies", "rewards/margins", "eval_rewards/accuracies", "loss"])
    assert trl["train/preference_accuracy"] == "rewards/accuracies"
    assert trl["train/preference_margin"] == "rewards/margins"
    assert trl["eval/preference_accuracy"] == "eval_rewards/accuracies"
    assert "eval/accuracy" not in trl
    openrlhf = aliases_for(["acc", "loss", "chosen_reward", "reject_reward"])  # OpenRLHF DPO
    assert openrlhf["train/preference_accuracy"] == "acc"
    lf = aliases_for(["loss", "rewards/accuracies", "lr"])  # LLaMA-Factory's, as read
    assert lf["train/preference_accuracy"] == "rewards/accuracies"
    assert "train/reward" not in lf and "eval/accuracy" not in lf


def test_verl_scaled_lr_is_converted_by_both_verl_readers(tmp_path):
    console = tmp_path / "sft.log"
    console.write_text("step:1 - train/loss:0.9 - train/lr(1e-3):0.010\n"
                       "step:2 - train/loss:0.8 - train/lr(1e-3):0.020 - val/loss:0.85\n")
    run = read_run(console)
    assert run.series("train/lr").tolist() == pytest.approx([1e-5, 2e-5])
    assert "train/lr(1e-3)" not in run.metrics
    assert run.own_name("eval/loss") == "val/loss"
    jsonl = tmp_path / "exp.jsonl"
    jsonl.write_text('{"step": 1, "data": {"train/loss": 0.9, "train/lr(1e-3)": 0.5}}\n')
    assert read_run(jsonl).series("train/lr").tolist() == pytest.approx([5e-4])


# ---------------------------------------------------------------- several validation sets
def two_sets_log(tmp_path):
    """verl console log with two data sources validated every 10 steps."""
    lines = []
    for i in range(30):
        step = 10 * i
        lines.append(f"step:{step} - critic/score/mean:{0.3 + 0.01 * i:.4f} - "
                     f"val-core/aime24/acc/mean@16:{curve(i, 0.1) - 0.3:.4f} - "
                     f"val-core/math500/acc/mean@16:{curve(i):.4f}")
    path = tmp_path / "two_sets.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_several_sets_are_listed_not_silently_chosen(tmp_path, capsys):
    path = two_sets_log(tmp_path)
    assert role_matches("eval/accuracy", read_run(path).metrics) == [
        "val-core/aime24/acc/mean@16", "val-core/math500/acc/mean@16"]
    code, out, _err = cli(capsys, "analyze", path, "--format", "json")
    assert code == 0
    result = json.loads(out)["runs"][0]
    warning = next(w for w in result["warnings"] if "validation sets" in w)
    assert "aime24" in warning and "math500" in warning and "--aggregate mean" in warning
    code, out, _ = cli(capsys, "analyze", path, "--metric", "val-core/math500/acc/mean@16",
                       "--format", "json")
    result = json.loads(out)["runs"][0]
    assert result["metric"] == "val-core/math500/acc/mean@16"
    assert not any("validation sets" in w for w in result["warnings"])


def test_aggregate_mean_analyses_the_mean_of_the_sets(tmp_path, capsys):
    path = two_sets_log(tmp_path)
    code, out, err = cli(capsys, "analyze", path, "--aggregate", "mean", "--format", "json")
    assert code == 0, err
    result = json.loads(out)["runs"][0]
    assert result["metric"] == "eval/accuracy (mean of 2 sets)"
    expected_start = ((curve(0, 0.1) - 0.3) + curve(0)) / 2
    assert result["baseline"] == pytest.approx(expected_start, abs=1e-3)
    # a glob of sets, averaged the same way
    code, out, _ = cli(capsys, "analyze", path, "--metric", "val-core/*/acc/mean@16",
                       "--aggregate", "mean", "--format", "json")
    assert json.loads(out)["runs"][0]["baseline"] == pytest.approx(expected_start, abs=1e-3)
    with pytest.raises(SystemExit) as info:  # argparse: a usage error
        cli(capsys, "analyze", path, "--aggregate", "median")
    assert info.value.code == 2


# ---------------------------------------------------------------- x axis
def tokens_log(tmp_path):
    rows = []
    for i in range(30):
        rows.append({"step": 10 * i, "epoch": i / 10, "num_input_tokens_seen": 4096 * 10 * i,
                     "consumed_samples": 64 * 10 * i, "eval_accuracy": round(curve(i), 4)})
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.mark.parametrize("unit,scale", [("epoch", 0.01), ("tokens", 4096.0), ("samples", 64.0)])
def test_x_axis_reports_phases_in_the_unit(tmp_path, capsys, unit, scale):
    path = tokens_log(tmp_path)
    code, out, err = cli(capsys, "analyze", path, "--x", unit, "--format", "json")
    assert code == 0, err
    result = json.loads(out)["runs"][0]
    assert result["x"]["unit"] == unit
    for phase in result["phases"]:
        assert phase["start_x"] == pytest.approx(phase["start_step"] * scale)
        assert phase["end_x"] == pytest.approx(phase["end_step"] * scale)
    stop = result["recommended_stop_step"]
    assert result["x"]["recommended_stop"] == pytest.approx(stop * scale)
    code, out, _ = cli(capsys, "analyze", path, "--x", unit)
    assert f"x axis: {unit}" in out


def test_x_axis_missing_counter_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps({"step": s, "eval_accuracy": curve(s)})
                              for s in range(30)) + "\n")
    code, _out, err = cli(capsys, "analyze", path, "--x", "tokens")
    assert code == 2 and "no tokens counter" in err


def test_plot_x_epoch_labels_the_axis(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tokens_log(tmp_path)
    code, _out, err = cli(capsys, "plot", path, "--x", "epoch", "-o", tmp_path / "f.svg")
    assert code == 0, err
    svg = (tmp_path / "f.svg").read_text()
    assert ">epoch<" in svg or "epoch" in svg


# ---------------------------------------------------------------- OpenRLHF on W&B
OPENRLHF_WANDB = textwrap.dedent(
    """
    import sys, wandb
    run = wandb.init(mode="offline", dir=sys.argv[1], project="p", name="openrlhf",
                     settings=wandb.Settings(console="off"))
    # openrlhf/utils/logging_utils.py WandbLogger
    wandb.define_metric("train/global_step")
    wandb.define_metric("train/*", step_metric="train/global_step", step_sync=True)
    wandb.define_metric("eval/epoch")
    wandb.define_metric("eval/*", step_metric="eval/epoch", step_sync=True)
    for step in range(1, 41):
        wandb.log({"train/reward": step / 40, "train/global_step": step})
        if step % 10 == 0:  # log_eval: eval/<k> plus eval/global_step, no eval/epoch
            wandb.log({"eval/eval_gsm8k_pass1": step / 100, "eval/global_step": step})
    run.finish()
    """
)


def test_openrlhf_wandb_eval_points_land_at_their_global_step(tmp_path):
    run = read_run(offline_run(OPENRLHF_WANDB, tmp_path))
    evals = run.series("eval/accuracy")
    assert evals.index.tolist() == [10, 20, 30, 40]  # not W&B's _step (11, 22, 33, 44)
    assert evals.tolist() == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert "eval/global_step" not in run.metrics and "train/global_step" not in run.metrics
    assert run.series("train/reward").index.tolist() == list(range(1, 41))
