"""PaddlePaddle's `paddle.Model.fit` prints Keras' `Epoch N/M` header, then `step N/M - loss: 0.5
- acc: 0.8 - 12ms/step` progress lines and each epoch's evaluation between `Eval begin...` and
`Eval samples: N` (its `ProgBarLogger` and `ProgressBar`). Sniffed as a Keras console, whose
bars have no `step` word, it was refused: "no Keras `Epoch N/M` lines, each followed by its
progress bar's `- name: value` items found"."""

from __future__ import annotations

import pytest
from _files import notebook_cell, read_as, write
from cli_json import analyzed

BANNER = ("The loss value printed in the log is the current step, and the metric is the average "
          "value of previous steps.")


def acc_of(epoch: int, peak: int = 6) -> float:
    """A held-out accuracy that rises to `peak` and falls after it."""
    return 0.60 + 0.05 * min(epoch, peak) - 0.03 * max(0, epoch - peak)


def paddle_log(epochs: int = 10, steps: int = 614, eval_steps: int = 88, log_freq: int = 10,
               indent: str = "", bar: bool = False, evaluate_after: bool = False) -> str:
    """A `Model.fit(..., log_freq=log_freq, verbose=2)` printout (with `bar`, verbose=1's
    completed bar lines), each line after `indent` (a notebook's output pasted as Markdown)."""
    lines = [BANNER]

    def progress(done: int, of: int, loss: float, acc: float) -> str:
        width = len(str(of))
        shown = f"step {done:{width}d}/{of}"
        if bar:
            shown += " [" + "=" * 30 + "]"
        return f"{shown} - loss: {loss:.4f} - acc: {acc:.4f} - 120ms/step"

    def evaluation(epoch: int) -> list[str]:
        rows = ["Eval begin..."]
        for done in [*range(log_freq, eval_steps, log_freq), eval_steps]:
            rows.append(progress(done, eval_steps, 0.5 - 0.01 * epoch, acc_of(epoch)))
        return [*rows, "Eval samples: 11219"]

    for epoch in range(epochs):
        lines += [f"Epoch {epoch + 1}/{epochs}", "", ""]
        for done in [*range(log_freq, steps, log_freq), steps]:
            lines.append(progress(done, steps, 0.9 - 0.05 * epoch, 0.5 + 0.04 * epoch))
        lines.append(f"save checkpoint at /home/user/save/{epoch}")
        lines += evaluation(epoch)
    lines.append("save checkpoint at /home/user/save/final")
    if evaluate_after:  # `model.evaluate(test_dataset)` after the fit: another set
        lines += [row.replace(f"acc: {acc_of(epochs - 1):.4f}", "acc: 0.1000")
                  for row in evaluation(epochs - 1)]
    return "".join(f"{indent}{line}\n" for line in lines)


@pytest.mark.parametrize("indent", ["", "    "])
def test_each_epoch_is_its_complete_train_line_and_its_evaluation(tmp_path, indent):
    run = read_as(write(tmp_path, paddle_log(indent=indent)), "paddle_console")
    assert sorted(run.metrics) == ["acc", "eval/acc", "eval/loss", "loss"]
    assert run.series("eval/acc").index.tolist() == list(range(10))
    assert run.series("eval/acc").tolist() == pytest.approx([acc_of(e) for e in range(10)])
    assert run.series("acc").tolist() == pytest.approx([0.5 + 0.04 * e for e in range(10)])
    assert any("last batch" in w for w in run.warnings)


def test_the_held_out_accuracy_is_the_metric_and_its_peak_the_stop(capsys, tmp_path):
    offline = analyzed(capsys, write(tmp_path, paddle_log(indent="    ")))
    assert (offline["metric"], offline["direction"]) == ("eval/acc", "max")
    assert offline["recommended_stop_step"] == 6


def test_the_completed_bars_of_verbose_1_are_read_as_well(tmp_path):
    run = read_as(write(tmp_path, paddle_log(bar=True)), "paddle_console")
    assert run.series("eval/acc").tolist() == pytest.approx([acc_of(e) for e in range(10)])


def test_an_evaluation_after_the_fit_is_not_the_last_epochs(tmp_path):
    run = read_as(write(tmp_path, paddle_log(evaluate_after=True)), "paddle_console")
    assert run.series("eval/acc").tolist()[-1] == pytest.approx(acc_of(9))


def test_a_notebook_cell_that_printed_the_fit_is_read(tmp_path):
    path = notebook_cell(tmp_path, "model.fit(train, val, epochs=10, verbose=2)", paddle_log())
    run = read_as(path, "paddle_console")  # a notebook's printed log shows its console's format
    assert run.series("eval/acc").tolist() == pytest.approx([acc_of(e) for e in range(10)])
