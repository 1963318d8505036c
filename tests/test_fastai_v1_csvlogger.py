"""fastai v1's `CSVLogger` before `time` was added (1.0.42, read from its source: fastai v1 does
not install on Python 3.10+, whose `collections` has no `Iterable`) writes the Recorder's names
and, each epoch, its numbers:

    self.file.write(','.join(self.learn.recorder.names) + '\\n')       # on_train_begin
    stats = [str(stat) if isinstance(stat, int) else f'{stat:.6f}'    # on_epoch_end
             for name, stat in zip(self.learn.recorder.names, [epoch, smooth_loss] + last_metrics)]

with `recorder.names = ['epoch', 'train_loss', 'valid_loss'] + metrics_names`. Its metrics are
the validation set's, as in v2's history.csv (which ends with `time`): `accuracy` is read as
`valid_accuracy`, the held-out accuracy, where it had no role and analyze took the valid loss."""

from __future__ import annotations

import json
import math

from phasewatch.cli import main
from phasewatch.io import read_run

NAMES = ["epoch", "train_loss", "valid_loss", "accuracy", "error_rate"]


def write_history(path):
    """The file `CSVLogger(learn)` of fastai 1.0.42 leaves in `learn.path` after 12 epochs."""
    with open(path, "w") as file:
        file.write(",".join(NAMES) + "\n")
        for epoch in range(12):
            smooth_loss = 1.0 - epoch / 20
            accuracy = 0.6 + 0.3 * math.tanh(epoch / 3) - 0.01 * max(0, epoch - 6)
            last_metrics = [0.8 - 0.3 * math.tanh(epoch / 3) + 0.02 * max(0, epoch - 6),
                            accuracy, 1 - accuracy]
            stats = [str(stat) if isinstance(stat, int) else f"{stat:.6f}"
                     for name, stat in zip(NAMES, [epoch, smooth_loss] + last_metrics)]
            file.write(",".join(stats) + "\n")
    return path


def test_v1_history_gets_the_held_out_names_v2_gets(tmp_path, capsys):
    path = write_history(tmp_path / "history.csv")
    run = read_run(path)
    assert sorted(run.metrics) == ["train_loss", "valid_accuracy", "valid_error_rate",
                                   "valid_loss"]
    assert main(["inspect", str(path), "--format", "json"]) == 0
    performance = json.loads(capsys.readouterr().out)["performance"]
    assert (performance["metric"], performance["direction"]) == ("valid_accuracy", "max")
    assert main(["analyze", str(path), "--format", "json"]) == 0
    [analysis] = json.loads(capsys.readouterr().out)["runs"]
    assert (analysis["metric"], analysis["direction"]) == ("valid_accuracy", "max")


def test_the_same_header_in_a_file_of_another_name_keeps_its_names(tmp_path):
    """A script's own table that starts as the Recorder's does (`epoch,train_loss,valid_loss,
    train_ppl,...,lr_last`) is no fastai table: only the logger's own file name tells."""
    path = write_history(tmp_path / "metrics.csv")
    assert sorted(read_run(path).metrics) == ["accuracy", "error_rate", "train_loss",
                                              "valid_loss"]
