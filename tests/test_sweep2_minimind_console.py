"""MiniMind-style console logs, `Epoch:[E/N](I/M), name: value, ...` (MiniMind's pretrain / SFT /
DPO / GRPO trainers and the scripts copied from them): the step is the iteration counted over
the epochs, items are `name: value` (names may hold spaces). They were "unknown log format"
(5 logs of Coicozoi/minimind-from-scratch in the second new-user sweep)."""

from __future__ import annotations

import json
import math

from phasewatch.cli import main
from phasewatch.io import read_run


def _sft_lines(epochs: int = 2, per_epoch: int = 400, every: int = 20) -> list[str]:
    lines = ["Model Params: 25.83M", "Generating train split: 1000 examples"]
    for epoch in range(1, epochs + 1):
        for i in range(every, per_epoch + 1, every):
            step = (epoch - 1) * per_epoch + i
            loss = 2.0 + 6.0 * math.exp(-step / 150)
            lines.append(f"Epoch:[{epoch}/{epochs}]({i}/{per_epoch}), loss: {loss:.4f}, "
                         f"logits_loss: {loss:.4f}, aux_loss: 0.0000, lr: 0.00050000, epoch_time: 12.0min")
    return lines


def test_sft_lines_give_the_loss_over_steps_counted_across_epochs(tmp_path, capsys):
    log = tmp_path / "sft.log"
    log.write_text("\n".join(_sft_lines()) + "\n")
    run = read_run(log)
    assert run.format == "kv_console"
    loss = run.series("loss")
    assert [int(s) for s in loss.index[:2]] == [20, 40]
    assert int(loss.index[20]) == 420  # epoch 2, iteration 20 of 400
    assert len(loss) == 40 and run.config["max_steps"] == 800
    assert run.resolve_metric("train/loss") == "loss"
    assert main(["analyze", "--format", "json", str(log)]) == 0
    analyzed = json.loads(capsys.readouterr().out)["runs"][0]
    assert analyzed["metric"] == "loss"
    assert main(["watch", "--format", "jsonl", str(log)]) == 0
    summary = [json.loads(x) for x in capsys.readouterr().out.splitlines()][-1]
    assert summary["event"] == "summary" and summary["metric"] == "loss"


def test_grpo_lines_with_spaced_names_and_compact_pretrain_lines(tmp_path):
    grpo = tmp_path / "grpo.log"
    grpo.write_text("".join(
        f"Epoch:[1/1]({i}/60), Reward: {0.2 + i / 100:.4f}, KL_ref: 0.0004, Adv Std: 0.9248, "
        f"Actor Loss: 0.0000, Avg Response Len: {120 + i}.00, Learning Rate: 0.00000100\n"
        f"[DEBUG] gen[0] reward=-1.3711\n" for i in range(1, 61)))
    run = read_run(grpo)
    assert run.format == "kv_console"
    assert {"Reward", "Actor Loss", "Avg Response Len", "Learning Rate"} <= set(run.metrics)
    assert list(run.series("Reward").index[:3]) == [1, 2, 3]
    assert run.resolve_metric("train/reward") == "Reward"

    pretrain = tmp_path / "pretrain.log"  # the older print: `name:value`, no commas
    pretrain.write_text("".join(f"Epoch:[1/1]({i}/5000) loss:{8 - i / 1000:.3f} lr:0.000550000000 "
                                f"epoch_Time:45.0min;\n" for i in range(0, 5000, 100)))
    run = read_run(pretrain)
    assert run.format == "kv_console"
    assert len(run.series("loss")) == 50 and run.series("loss").iloc[0] == 8.0
