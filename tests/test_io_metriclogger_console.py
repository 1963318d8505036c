"""The console of torchvision's reference scripts and of research code built on their
`MetricLogger` (DETR, DeiT, MAE): an unknown log format before (beijn/bachelor-thesis keeps a
detection run's in `detection/traingraph.py`)."""

from __future__ import annotations

import pytest

from phasewatch.cli import main
from phasewatch.io import read_run, sniff_format

PER_EPOCH, EPOCHS = 100, 6


def _train(epoch: int, it: int, loss: float) -> str:
    return (f"Epoch: [{epoch}]  [{it:>3d}/{PER_EPOCH}]  eta: 0:00:25  lr: 0.100000  img/s: 480.5  "
            f"loss: {loss:.4f} ({loss + 0.1:.4f})  acc1: 30.0000 (28.1000)  "
            f"time: 0.4800  data: 0.0100  max mem: 8231")


def classification_log(summary: str = "torchvision") -> str:
    lines = []
    for epoch in range(EPOCHS):
        for it in (0, 50, PER_EPOCH - 1):
            lines.append(_train(epoch, it, 3.0 / (1 + epoch + it / PER_EPOCH)))
        lines.append(f"Epoch: [{epoch}] Total time: 0:01:02")
        lines.append("Test:  [ 0/10]  eta: 0:00:05  loss: 1.2 (1.2)  acc1: 70.0 (70.0)  "
                     "acc5: 90.0 (90.0)  time: 0.5  max mem: 8231")
        top1 = 50.0 + 5 * min(epoch, 3)
        lines.append(f"Test:  Acc@1 {top1:.3f} Acc@5 {top1 + 20:.3f}" if summary == "torchvision"
                     else f"* Acc@1 {top1:.3f} Acc@5 {top1 + 20:.3f} loss {2.0 - epoch / 10:.3f}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("summary", ["torchvision", "deit"])
def test_a_metriclogger_log_is_read_at_its_iterations(tmp_path, summary):
    path = tmp_path / "train.log"
    path.write_text(classification_log(summary))
    assert sniff_format(path).FORMAT == "metriclogger_console"
    run = read_run(path)
    top1 = run.series("eval_top1")
    assert top1.index.tolist() == [(e + 1) * PER_EPOCH - 1 for e in range(EPOCHS)]
    assert top1.tolist() == [50.0, 55.0, 60.0, 65.0, 65.0, 65.0]
    assert run.series("train_loss").index.tolist()[:4] == [0, 50, 99, 100]
    assert "train_time" not in run.metrics and "train_max mem" not in run.metrics
    assert ("eval_loss" in run.metrics) == (summary == "deit")


def test_an_ema_model_s_evaluation_is_its_own_series(tmp_path):
    """torchvision's train.py with --model-ema evaluates twice each epoch, `Test:  Acc@1 ...`
    then `Test: EMA Acc@1 ...`: two models, not two readings of one to average."""
    lines = []
    for line in classification_log().splitlines():
        lines.append(line)
        if line.startswith("Test:  Acc@1"):
            lines.append("Test: EMA Acc@1 40.000 Acc@5 60.000")
    path = tmp_path / "train.log"
    path.write_text("\n".join(lines) + "\n")
    run = read_run(path)
    assert run.series("eval_top1").tolist() == [50.0, 55.0, 60.0, 65.0, 65.0, 65.0]
    assert run.series("ema_eval_top1").tolist() == [40.0] * EPOCHS
    assert run.series("ema_eval_top5").index.tolist() == run.series("eval_top5").index.tolist()


def test_analyze_judges_by_the_held_out_top1_not_the_training_acc1(tmp_path, capsys):
    path = tmp_path / "train.log"
    path.write_text(classification_log())
    assert main(["analyze", str(path)]) == 0
    assert "metric eval_top1 (max)" in capsys.readouterr().out


def test_the_coco_evaluation_of_the_detection_references(tmp_path):
    lines = []
    for epoch in range(4):
        lines += [_train(epoch, it, 2.0 / (1 + epoch)) for it in (0, PER_EPOCH - 1)]
        for kind, ap in (("bbox", 0.30 + 0.02 * epoch), ("segm", 0.25 + 0.02 * epoch)):
            whole = " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ]"
            half = " Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ]"
            lines += [f"IoU metric: {kind}", f"{whole} = {ap:.3f}", f"{half} = 0.600"]
    path = tmp_path / "train.log"
    path.write_text("\n".join(lines) + "\n")
    run = read_run(path)
    assert run.series("segm/AP").tolist() == pytest.approx([0.25, 0.27, 0.29, 0.31])
    assert run.series("bbox/AP").index.tolist() == [99, 199, 299, 399]
