"""A home-made console's bare `val=` printed beside its `loss=` (`Epoch 12/100 | loss=0.4123
val=0.5234`) is the held-out loss, as a researcher reads it: analyze, inspect and watch take it
without --metric, lower is better, and say how they read it; `--metric val` gets the same
direction. Beside an accuracy instead it is neither chosen nor given a direction of its own."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from cli_json import analyzed, watched

from phasewatch.cli import main

READING = "val, read as the held-out loss beside loss"


def _console(path: Path, train: str = "loss", split: str = "val", epochs: int = 30) -> Path:
    """A tracker's console: a train loss falling, and a held-out loss that falls to epoch 20 and
    then rises (an overfit), printed as `val=`, with a little noise."""
    lines = []
    for epoch in range(1, epochs + 1):
        train_value = math.exp(-epoch / 8) + 0.1
        held_out = (1.2 * math.exp(-epoch / 8) + 0.3 + 0.004 * max(0, epoch - 15) ** 1.5
                    + 0.003 * ((epoch * 7) % 5 - 2))
        lines.append(f"12:00:{epoch:02d} [INFO] Epoch {epoch}/100 (10.0s) | {train}={train_value:.4f} "
                     f"lr=1.00e-04 | {split}={held_out:.4f}\n")
    path.write_text("".join(lines))
    return path


@pytest.mark.parametrize("split", ["val", "valid", "Validation"])
def test_a_bare_val_beside_the_loss_is_the_held_out_loss(capsys, tmp_path, split):
    log = _console(tmp_path / "train.log", split=split)
    run = analyzed(capsys, log)
    assert (run["metric"], run["direction"]) == (split, "min")
    assert run["recommended_stop_step"] == 20  # the held-out loss's lowest, before it rises
    assert any(w.startswith(f"{split}, read as the held-out loss beside loss")
               for w in run["warnings"])
    assert main(["inspect", str(log), "--format", "json"]) == 0
    perf = json.loads(capsys.readouterr().out)["performance"]
    assert (perf["metric"], perf["direction"], perf["loss_beside"], perf["train_fallback"]) == \
        (split, "min", "loss", False)
    summary, err = watched(capsys, log)
    assert (summary["metric"], summary["direction"]) == (split, "min")
    assert "checkpoint to keep: epoch 20" in summary["message"]
    assert f"{split}, read as the held-out loss beside loss" in err


def test_the_text_outputs_say_how_val_is_read(capsys, tmp_path):
    log = _console(tmp_path / "train.log")
    assert main(["inspect", str(log)]) == 0
    assert "performance metric: val (lower is better; read as the held-out loss beside loss)" \
        in capsys.readouterr().out
    assert main(["analyze", str(log)]) == 0
    out = capsys.readouterr().out
    assert "metric val (min)" in out and f"warning: {READING}" in out


def test_val_named_by_metric_is_lower_is_better(capsys, tmp_path):
    log = _console(tmp_path / "train.log", train="train_loss")
    run = analyzed(capsys, log, "--metric", "val")
    assert run["direction"] == "min"
    assert any("val, read as the held-out loss beside train_loss" in w for w in run["warnings"])


def test_beside_an_accuracy_val_is_neither_chosen_nor_given_a_direction(capsys, tmp_path):
    log = _console(tmp_path / "train.log", train="acc")
    assert main(["analyze", str(log)]) == 2  # no held-out metric known: --metric is asked for
    assert "pick one with --metric" in capsys.readouterr().err
    run = analyzed(capsys, log, "--metric", "val")
    assert not any("read as the held-out loss" in w for w in run["warnings"])
    assert any("its name does not say which way is better" in w for w in run["warnings"])


def test_beside_another_held_out_metric_val_is_not_read_as_a_loss(capsys, tmp_path):
    log = _console(tmp_path / "train.log")
    log.write_text("".join(line.rstrip("\n") + f" val_loss={0.9 - i / 100:.4f}\n"
                           for i, line in enumerate(log.read_text().splitlines())))
    run = analyzed(capsys, log)
    assert run["metric"] == "val_loss"
    assert not any("read as the held-out loss" in w for w in run["warnings"])
