"""The console of the PyTorch ImageNet example (`imagenet/main.py`) and of the scripts that copy
its `ProgressMeter` (MoCo, SimSiam and their linear evaluations): an unknown log format before
(WilyZhao8/W2SSL keeps a self-supervised run's and its linear evaluation's in `outputs/`). The
lines below are printed as `ProgressMeter.display` and `display_summary` print them."""

from __future__ import annotations

import json

import pytest

from phasewatch.cli import main
from phasewatch.io import read_run, sniff_format

PER_EPOCH, EPOCHS, PRINT_FREQ = 500, 6, 200


def _meter(name: str, value: float, fmt: str) -> str:
    """AverageMeter.__str__: `name val (avg)` in the meter's format."""
    return f"{name} {value:{fmt}} ({value * 1.1:{fmt}})"


def _train(epoch: int, batch: int, loss: float, accuracy: bool) -> str:
    meters = [f"Epoch: [{epoch}][{batch:>3d}/{PER_EPOCH}]", _meter("Time", 0.98, "6.3f"),
              _meter("Data", 0.01, "6.3f"), _meter("Loss", loss, ".4e")]
    if accuracy:
        meters += [_meter("Acc@1", 60 - 10 * loss, "6.2f"), _meter("Acc@5", 80 - 5 * loss, "6.2f")]
    return "\t".join(meters)


def imagenet_log(from_one: bool = False, evaluate: bool = True) -> str:
    """`from_one`: newer versions print the batch counted from 1 and a summary whose meters
    without one print '' (` *   Acc@1 ...`)."""
    lines = ["=> creating model 'resnet50'"]
    for epoch in range(EPOCHS):
        for i in range(0, PER_EPOCH, PRINT_FREQ):
            loss = 3.0 / (1 + epoch + i / PER_EPOCH)
            lines.append(_train(epoch, i + from_one, loss, accuracy=evaluate))
        if not evaluate:
            continue
        for i in (0, 100):
            lines.append(f"Test: [{i + from_one:>3d}/196]\t" + _meter("Time", 0.11, "6.3f") + "\t"
                         + _meter("Loss", 1.2, ".4e") + "\t" + _meter("Acc@1", 99.0, "6.2f"))
        top1 = 50.0 + 5 * min(epoch, 3)
        star = " *  " if from_one else " *"
        lines.append(f"{star} Acc@1 {top1:.3f} Acc@5 {top1 + 20:.3f}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("from_one", [False, True])
def test_an_imagenet_example_log_is_read_at_its_batches(tmp_path, from_one):
    path = tmp_path / "log.txt"
    path.write_text(imagenet_log(from_one))
    assert sniff_format(path).FORMAT == "progressmeter_console"
    run = read_run(path)
    loss = run.series("train_loss")
    assert loss.index.tolist()[:4] == [e * PER_EPOCH + i + from_one
                                       for e, i in ((0, 0), (0, 200), (0, 400), (1, 0))]
    assert loss.iloc[0] == pytest.approx(3.0)  # the batch's value, not the epoch's average
    assert run.series("train_top1").iloc[0] == pytest.approx(30.0)
    top1 = run.series("eval_top1")
    # the summary, not a validation batch's running average (99.0), at the epoch's last batch
    assert top1.tolist() == [50.0, 55.0, 60.0, 65.0, 65.0, 65.0]
    assert top1.index.tolist() == [(e + 1) * PER_EPOCH - 1 for e in range(EPOCHS)]
    assert "train_time" not in run.metrics and "train_data" not in run.metrics
    assert not run.warnings


def test_analyze_judges_by_the_held_out_top1(tmp_path, capsys):
    path = tmp_path / "log.txt"
    path.write_text(imagenet_log())
    assert main(["analyze", str(path), "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["metric"] == "eval_top1" and result["direction"] == "max"


def test_a_pretraining_log_of_losses_is_its_train_loss(tmp_path, capsys):
    """MoCo's and SimSiam's pretraining print `Loss` alone (W2SSL adds its own meters)."""
    path = tmp_path / "log.txt"
    path.write_text(imagenet_log(evaluate=False).replace(
        "\tLoss ", "\tLR 1.0000e-01 (5.0000e-02)\tLoss "))
    run = read_run(path)
    assert set(run.metrics) == {"train_loss", "lr"}
    assert main(["analyze", str(path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["metric"] == "train_loss"


def test_a_summary_before_any_training_line_is_reported(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text(" * Acc@1 76.130 Acc@5 92.862\n" + imagenet_log())
    run = read_run(path)
    assert len(run.series("eval_top1")) == EPOCHS
    assert any("line 1" in w and "before any training line" in w for w in run.warnings)
