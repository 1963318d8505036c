"""The series a log may be judged by are named with the option to type (`choice_notes.
score_like_hint`), and with where the log places the first: a Keras CSVLogger log without a
validation split (`epoch,accuracy,loss`) was told "series that may be one: accuracy; pass
--metric to choose another", and one of `epoch,accuracy` only "pick one with --metric (series
that may be one: accuracy)", leaving the user to assemble the command."""

from __future__ import annotations

import json
import math

from phasewatch.cli import main


def keras_log(path, columns) -> str:
    values = {"accuracy": lambda e: 0.5 + 0.45 * (1 - math.exp(-e / 4)),
              "loss": lambda e: 1.2 * math.exp(-e / 5) + 0.1}
    lines = [",".join(["epoch", *columns])]
    lines += [",".join([str(e)] + [f"{values[c](e):.4f}" for c in columns]) for e in range(20)]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_a_keras_log_without_validation_is_given_the_option_to_type(tmp_path, capsys):
    path = keras_log(tmp_path / "training_log.csv", ["accuracy", "loss"])
    assert main(["analyze", path]) == 0
    [note] = [line for line in capsys.readouterr().out.splitlines() if "no held-out" in line]
    assert "taking its train loss (loss)" in note
    assert note.endswith("series that may be one: accuracy; pass --metric accuracy to analyse it")
    assert "training batches" not in note  # a bare accuracy the log does not place

    path = keras_log(tmp_path / "accuracy_only.csv", ["accuracy"])
    assert main(["analyze", path]) == 2
    err = capsys.readouterr().err
    assert ("pick one with --metric (series that may be one: accuracy; pass --metric accuracy "
            "to analyse it). Metrics in this run: accuracy") in err
    assert main(["analyze", path, "--metric", "accuracy"]) == 0  # as typed from the message


def test_a_score_the_log_places_on_the_training_batches_is_said_so(tmp_path, capsys):
    """A DPO run without evaluation: its preference accuracy is measured on the training
    batches, as its loss is (`train_beside.is_train_metric`)."""
    rows = [{"step": s, "loss": 0.7 - s / 1000, "rewards/accuracies": 0.5 + s / 1000,
             "rewards/margins": s / 500} for s in range(10, 400, 10)]
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"global_step": 390, "log_history": rows}))
    assert main(["analyze", str(path)]) == 0
    [note] = [line for line in capsys.readouterr().out.splitlines() if "no held-out" in line]
    assert note.endswith("series that may be one: rewards/accuracies, rewards/margins; pass "
                         "--metric rewards/accuracies to analyse the first, a score of the "
                         "training batches")
