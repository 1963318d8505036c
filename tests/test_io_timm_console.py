"""timm's `train.py` console log (`Train: E [ U/N (P%)]  Loss: ...`, a `Test: [ B/B]` block per
epoch): read with the held-out top-1 accuracy as the metric."""

from __future__ import annotations

import pytest

from phasewatch.cli import main
from phasewatch.io import read_run, sniff_format

PER_EPOCH, EPOCHS = 100, 8


def _train(epoch: int, update: int, loss: float) -> str:
    pct = 100.0 * update / (PER_EPOCH - 1)
    return (f"Train: {epoch} [{update:>4d}/{PER_EPOCH} ({pct:>3.0f}%)]  Loss: {loss:#.3g} "
            f"({loss + 0.1:#.3g})  Time: 0.645s,   24.82/s  (0.650s,   24.61/s)  LR: 5.000e-04  "
            f"Data: 0.477 (0.480)")


def _test(batch: int, last: int, loss: float, top1: float, ema: bool = False) -> str:
    name = "Test (EMA)" if ema else "Test"
    return (f"{name}: [{batch:>4d}/{last}]  Time: 0.560 (0.571)  Loss:  {loss + 0.05:.4f} "
            f"({loss:.4f})  Acc@1: {top1 + 1.0:.4f} ({top1:.4f})  Acc@5: 99.0000 ({top1 + 9:.4f})")


def timm_log(ema: bool = False) -> str:
    lines = ["Model resnet50 created, param count:25557032",
             f"Scheduled epochs: {EPOCHS}. LR stepped per epoch."]
    for epoch in range(EPOCHS):
        for update in (0, 50, PER_EPOCH - 1):
            lines.append(_train(epoch, update, 2.0 / (1 + epoch + update / PER_EPOCH)))
        top1 = 60.0 + 4.0 * min(epoch, 5)
        for batch in (0, 10, 12):
            lines.append(_test(batch, 12, 1.0 - 0.05 * epoch, top1))
        if ema:
            lines += [_test(0, 12, 0.9, top1 + 0.5, ema=True),
                      _test(12, 12, 0.9, top1 + 0.5, ema=True)]
        saved = f" ('./output/train/x/checkpoint-{epoch}.pth.tar', {top1})"
        lines += ["Current checkpoints:", saved, ""]
    return "\n".join(lines) + "\n"


def test_a_timm_console_log_is_read_at_its_updates(tmp_path):
    path = tmp_path / "train.log"
    path.write_text(timm_log())
    assert sniff_format(path).FORMAT == "timm_console"
    run = read_run(path)
    ends = [(epoch + 1) * PER_EPOCH - 1 for epoch in range(EPOCHS)]
    top1 = run.series("eval_top1")
    assert top1.index.tolist() == ends  # each epoch's evaluation at its last update
    assert top1.tolist() == [60.0 + 4.0 * min(epoch, 5) for epoch in range(EPOCHS)]  # the means
    assert run.series("eval_loss").tolist()[:2] == pytest.approx([1.0, 0.95])
    loss = run.series("train_loss")  # the batch's loss, not the running mean
    assert loss.index.tolist()[:4] == [0, 50, 99, 100]
    assert loss.iloc[0] == pytest.approx(2.0)
    assert "Time" not in run.metrics and "Data" not in run.metrics
    assert run.config.get("max_steps") == EPOCHS * PER_EPOCH


def test_analyze_judges_it_by_the_held_out_top1(tmp_path, capsys):
    path = tmp_path / "train.log"
    path.write_text(timm_log())
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "metric eval_top1 (max)" in out
    assert main(["inspect", str(path)]) == 0
    roles = {line.split()[0]: line.split()[-1] for line in capsys.readouterr().out.splitlines()
             if line.startswith(("eval_", "train_loss", "lr "))}
    assert roles == {"eval_loss": "eval/loss", "eval_top1": "eval/accuracy",
                     "eval_top5": "eval/top5", "lr": "train/lr", "train_loss": "train/loss"}


def test_the_ema_models_evaluation_is_read_beside_it(tmp_path):
    path = tmp_path / "train.log"
    path.write_text(timm_log(ema=True))
    run = read_run(path)
    assert run.series("ema_eval_top1").tolist()[0] == pytest.approx(60.5)
    assert run.series("eval_top1").tolist()[0] == pytest.approx(60.0)


def test_an_evaluation_before_any_training_line_is_reported(tmp_path):
    path = tmp_path / "train.log"
    path.write_text(_test(12, 12, 1.0, 50.0) + "\n" + timm_log())
    run = read_run(path)
    assert len(run.series("eval_top1")) == EPOCHS
    assert any("line 1" in w and "before any `Train:` line" in w for w in run.warnings)
