"""A loop printing its epoch as sentences, `Epoch: 3.   Avg.loss: 0.9466.   Accuracy: 66.56%.`
(a CIFAR-10 CNN's output.txt, read in the third reader trial): the period after the epoch made
`Epoch: 3` no step token and the one after each value no number, so the file was an unknown
log format."""

from __future__ import annotations

from functools import partial

import pytest
from _files import write as _write_log

from phasewatch.errors import InputError
from phasewatch.io import read_run

write = partial(_write_log, name="output.txt")


def test_a_sentences_period_ends_neither_the_epoch_nor_a_value(tmp_path):
    lines = ["Using algorithm: Convolutional Neural Network.", "Running..."]
    for e in range(1, 11):
        lines += [f"Epoch: {e}.   Avg.loss: {1.5 / e:.16f}.   Accuracy: {49 + 2 * e:.2f}%.",
                  f"Checkpoint saved.   At epoch: {e}.    With accuracy: {49 + 2 * e:.2f}%."]
    lines.append("Test accuracy: 83.46%.  Correct: 4173.  Total: 5000.")
    run = read_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert sorted(run.metrics) == ["Accuracy", "Avg.loss"]
    assert run.series("Accuracy").to_dict() == {e: 49 + 2 * e for e in range(1, 11)}
    assert run.series("Avg.loss").tolist() == pytest.approx([1.5 / e for e in range(1, 11)])


@pytest.mark.parametrize("text", [
    # a decimal step stays no step token; a worked answer's numbered steps stay prose
    "".join(f"step {k}.5 loss: 0.{k}1 acc: 0.{k}2\n" for k in range(1, 6)),
    "".join(f"Step {k}. Add {k} apples: {k + 2}.\n" for k in range(1, 6)),
])
def test_other_periods_stay_no_record(tmp_path, text):
    with pytest.raises(InputError):
        read_run(write(tmp_path, text))
