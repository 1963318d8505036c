"""A JSON history dump whose metric lists have different lengths (`phasewatch.io.json_uneven_lists`):
a loss per batch beside an accuracy per epoch, written with `json.dump` as the training loops of
the sweep wrote them (Embabsha/...-CIFAR-10-'s `training_stats.json`, one compact 310 KB line,
was read as JSON lines: one record, `best_test_acc`, the three curves dropped without a word;
Laurence-Wu/LLM-QAT-on-gpt2's gave its `bit_width_usage` counts as a 3-step curve and dropped
its 1,000 iteration losses and 499 validation losses)."""

from __future__ import annotations

import json
import math

from phasewatch.cli import main
from phasewatch.io import read_run


def cifar_dump(path, epochs=20, batches=782) -> None:
    stats = {"batch_losses": [2.3 * math.exp(-i / 4000) + 0.3 for i in range(epochs * batches)],
             "train_accuracies": [0.25 + 0.5 * (1 - math.exp(-e / 5)) for e in range(epochs)],
             "test_accuracies": [0.31 + 0.4 * (1 - math.exp(-e / 4)) - 0.004 * max(e - 12, 0)
                                 for e in range(epochs)],
             "best_test_acc": 0.7269}
    path.write_text(json.dumps(stats))  # one line, no newline: as json.dump writes it


def test_a_per_batch_loss_beside_per_epoch_accuracies(tmp_path):
    path = tmp_path / "training_stats.json"
    cifar_dump(path)
    assert path.stat().st_size > 64 * 1024  # the sniffed head is a part of its one line
    run = read_run(path)
    assert run.format == "generic_json"
    assert run.series("batch_losses").index.tolist() == list(range(20 * 782))
    test = run.series("test_accuracies")
    assert test.index.tolist() == [(e + 1) * 782 - 1 for e in range(20)]  # each epoch's end
    assert test.iloc[0] == 0.31
    assert run.config["best_test_acc"] == 0.7269
    assert any("different lengths" in w and "test_accuracies (20)" in w for w in run.warnings)
    assert not any("rounded" in w for w in run.warnings)  # 15640 is 20 x 782


def test_evaluations_that_do_not_divide_the_iterations_are_rounded(tmp_path, capsys):
    path = tmp_path / "training_stats.json"
    stats = {"iteration_losses": [200 - i * 0.1 for i in range(1000)],
             "validation_losses": [10 - 0.01 * i + 0.0002 * max(i - 300, 0) ** 2 for i in range(499)],
             "bit_width_usage": {"4": 120, "8": 300, "16": 580},
             "best_val_loss": 3.40, "best_iteration": 998}
    path.write_text(json.dumps(stats, indent=2))
    run = read_run(path)
    assert sorted(run.metrics) == ["iteration_losses", "validation_losses"]  # counts are no curve
    val = run.series("validation_losses")
    assert val.index[0] == 1 and val.index[-1] == 999 and len(val) == 499
    assert any("rounded where n does not divide 1000" in w for w in run.warnings)
    assert main(["analyze", "--metric", "validation_losses", str(path)]) == 0
    assert "validation_losses" in capsys.readouterr().out


def test_short_arrays_of_a_config_are_not_a_log(tmp_path):
    path = tmp_path / "preprocessor_config.json"
    path.write_text(json.dumps({"image_mean": [0.481, 0.458, 0.408], "image_std": [0.27, 0.26],
                                "size": 224}, indent=2))
    assert main(["inspect", str(path)]) == 3
    unnamed = tmp_path / "arrays.json"  # long lists, but no name says they are metrics
    unnamed.write_text(json.dumps({"x": list(range(50)), "y": list(range(20))}, indent=2))
    assert main(["inspect", str(unnamed)]) == 3
