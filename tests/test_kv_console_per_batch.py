"""A custom loop's per-batch prints inside an epoch: `Epoch 2 - Batch 100 - Loss: 0.532`, and
PyTorch tutorials' `Epoch [1/10], Step [100/600], Loss: 0.5234`. The counter within the epoch
is the step, counted over the epochs as `kv_console` counts a step printed beside its epoch."""

from __future__ import annotations

import pytest
from _files import write

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import read_run, sniff_format


def _batches_then_validation(epochs: int = 4, every: int = 100, per_epoch: int = 500) -> str:
    """A loop printing its loss every `every` batches and a validation line after each epoch."""
    lines = []
    for epoch in range(1, epochs + 1):
        for batch in range(every, per_epoch + 1, every):
            loss = 2.0 / (epoch + batch / per_epoch)
            lines.append(f"Epoch {epoch} - Batch {batch} - Loss: {loss:.4f}")
        lines.append(f"Epoch {epoch} - Val Loss: {1.5 / epoch + 0.1:.4f} - Val Acc: "
                     f"{0.5 + 0.05 * epoch:.4f}")
    return "\n".join(lines) + "\n"


def test_per_batch_lines_inside_an_epoch_are_a_series(tmp_path):
    path = write(tmp_path, _batches_then_validation())
    assert sniff_format(path).FORMAT == "kv_console"
    run = read_run(path)
    loss = run.series("Loss")
    assert len(loss) == 20  # every printed batch, none dropped
    # epoch 1 at its batches, then on from the last step logged (no per-epoch total printed)
    assert loss.index.tolist()[:7] == [100, 200, 300, 400, 500, 501, 601]
    assert loss[100] == pytest.approx(round(2.0 / 1.2, 4))
    assert loss.index.is_monotonic_increasing
    # the end-of-epoch validation goes at the last batch logged before it (each epoch's first
    # print one step after the last: the loop printed no per-epoch total)
    assert run.series("Val Loss").index.tolist() == [500, 901, 1302, 1703]
    assert run.series("Val Acc").tolist() == pytest.approx([0.55, 0.6, 0.65, 0.7])
    assert any("counted over the epochs" in w for w in run.warnings)


def test_bracketed_epoch_and_step_of_the_pytorch_tutorials_are_read(tmp_path):
    lines = [f"Epoch [{e}/3], Step [{s}/600], Loss: {1.0 / (e + s / 600):.4f}"
             for e in (1, 2, 3) for s in (100, 200, 300, 400, 500, 600)]
    path = write(tmp_path, "\n".join(lines) + "\n")
    run = read_run(path)
    loss = run.series("Loss")
    assert loss.index.tolist() == [(e - 1) * 600 + s for e in (1, 2, 3)
                                   for s in (100, 200, 300, 400, 500, 600)]
    assert run.config.get("max_steps") == 1800  # 3 epochs of 600 steps
    batches = read_run(write(tmp_path, "".join(
        f"Epoch [{e}/2], Batch [{b}/938], Loss: {0.9 / e - b / 1e4:.4f}\n"
        for e in (1, 2) for b in (300, 600, 900)), "batches.log"))
    assert batches.series("Loss").index.tolist() == [300, 600, 900, 1238, 1538, 1838]


def test_analyze_reads_the_per_batch_loss(tmp_path, capsys):
    path = write(tmp_path, _batches_then_validation(epochs=6))
    code = main(["analyze", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "metric Val Acc (max)" in out  # the held-out accuracy, the per-batch loss beside it
    code = main(["inspect", str(path)])
    out, err = capsys.readouterr()
    assert code == 0 and [line.split()[-1] for line in out.splitlines()
                          if line.startswith("Loss ")] == ["train/loss"]


@pytest.mark.parametrize("text", [
    # a batch size is no counter; no epoch token: no record
    "".join(f"batch 32 of size {n}: loss: 0.5\n" for n in range(5)),
    # a worked sample: whole numbers only after the two tokens
    "".join(f"Epoch {e} Batch {b}: apples: {b + 3}\n" for e in (1, 2) for b in (1, 2)),
])
def test_prose_with_a_batch_word_stays_unknown(tmp_path, text):
    with pytest.raises(InputError, match="unknown log format"):
        read_run(write(tmp_path, text))
