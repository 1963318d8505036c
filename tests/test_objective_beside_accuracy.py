"""DARTS (and the NAS code built on it) logs each split's mean cross-entropy as its "objective"
beside its accuracy: TensorBoard `Obj/valid` beside `Acc/valid`, console `valid_obj` beside
`valid_acc`. Read as higher-is-better (no word of the name says a direction), its fall was
called an overfit from epoch 0 and epoch 0 the checkpoint to keep. An objective alone stays
undecided: TRL's `objective/scores` is a reward model's score, higher is better."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from phasewatch.cli import main

EPOCHS = 30


def _darts_log(path: Path, names: dict[str, str], accuracy: bool = True) -> Path:
    """A search's per-epoch table: the valid objective falls 1.34 -> ~0.5, the accuracy rises."""
    rows = [",".join(["epoch", *(names[k] for k in names if accuracy or k.startswith("obj"))])]
    for epoch in range(EPOCHS):
        valid_obj = 0.5 + 0.84 * math.exp(-epoch / 5) + 0.01 * math.sin(epoch)
        values = {"obj_train": 1.6 * math.exp(-epoch / 8), "obj_valid": valid_obj,
                  "acc_train": 100 - 60 * math.exp(-epoch / 8), "acc_valid": 100 - 40 * valid_obj}
        rows.append(",".join([str(epoch), *(f"{values[k]:.4f}" for k in names
                                            if accuracy or k.startswith("obj"))]))
    path.write_text("\n".join(rows) + "\n")
    return path


TENSORBOARD = {"acc_train": "Acc/train", "obj_train": "Obj/train", "acc_valid": "Acc/valid",
               "obj_valid": "Obj/valid"}
CONSOLE = {"acc_train": "train_acc", "obj_train": "train_obj", "acc_valid": "valid_acc",
           "obj_valid": "valid_obj"}


def _analyze(path: Path, metric: str, capsys) -> dict:
    assert main(["analyze", str(path), "--metric", metric, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["runs"][0]


@pytest.mark.parametrize("names", [TENSORBOARD, CONSOLE], ids=["tensorboard", "console"])
@pytest.mark.parametrize("split", ["valid", "train"])
def test_an_objective_beside_its_accuracy_is_a_loss(tmp_path, capsys, names, split):
    metric = names[f"obj_{split}"]
    result = _analyze(_darts_log(tmp_path / "search.csv", names), metric, capsys)
    assert result["direction"] == "min"
    assert "overfit" not in [phase["name"] for phase in result["phases"]]
    assert result["recommended_stop_step"] > 0
    said = " ".join(result["warnings"])
    assert f"beside its accuracy {names[f'acc_{split}']}" in said and "--direction max" in said


def test_an_objective_without_its_accuracy_is_not_guessed(tmp_path, capsys):
    result = _analyze(_darts_log(tmp_path / "search.csv", TENSORBOARD, accuracy=False),
                      "Obj/valid", capsys)
    assert result["direction"] == "max"
    assert any("its name does not say which way is better" in w for w in result["warnings"])


def test_trl_s_objectives_keep_their_directions(tmp_path, capsys):
    """TRL's PPO / RLOO / Online DPO names: no accuracy twin, the score stays higher-is-better
    and its KL a health measure."""
    rows = [json.dumps({"step": step, "objective/scores": 1 + step / 50,
                        "objective/kl": 0.1 + step / 100, "objective/entropy": 2.0,
                        "objective/rlhf_reward": 1 + step / 60, "eval_accuracy": 0.5 + step / 400})
            for step in range(0, 100, 5)]
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(rows) + "\n")
    assert _analyze(path, "objective/scores", capsys)["direction"] == "max"
    assert _analyze(path, "objective/kl", capsys)["direction"] == "min"
