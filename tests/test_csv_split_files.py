"""A CSV file named for its split (`valid.csv`, `val.csv`, `validation.csv`, `test.csv`,
`eval*.csv`, `dev_metrics.csv`, `val_log.csv`; `train.csv`) reads its bare columns under that split: a brain-age LSTM's
`valid.csv` (`step,loss,loss/std,lr,momentum`) had its validation loss taken for the train loss,
and its final climb called "the train loss getting worse ... an instability of training"."""

import json

import pytest

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.presets import aliases_for

LOSSES = [137.4, 162.9, 150.2, 141.8, 133.1, 158.0, 149.5, 160.3, 196.8, 359.5]


def write(path, header, rows):
    path.write_text(header + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize("name,split", [("valid.csv", "valid"), ("val.csv", "val"),
                                        ("validation.csv", "validation"), ("test.csv", "test"),
                                        ("eval.csv", "eval"), ("evaluation_log.csv", "eval"),
                                        ("dev_metrics.csv", "dev"), ("val_log.csv", "val"),
                                        ("test_results.csv", "test"), ("dev.csv", "dev")])
def test_a_held_out_file_reads_its_bare_loss_as_that_splits(tmp_path, name, split):
    path = write(tmp_path / name, "step,loss,loss/std,lr,momentum",
                 [(s, v, 0.0, 0.001, 0.9) for s, v in enumerate(LOSSES, 1)])
    run = read_run(path)
    assert run.metrics == sorted([f"{split}_loss", f"{split}_loss/std", "lr", "momentum"])
    assert aliases_for(run.metrics)["eval/loss"] == f"{split}_loss"
    assert run.resolve_metric("loss") == f"{split}_loss"  # the printed name still names it
    assert any(w.startswith(f"{name} is named for its split: its columns loss, loss/std are "
                            f"read as {split}_loss, {split}_loss/std") for w in run.warnings)


def test_the_analysis_of_a_valid_csv_is_no_train_loss(tmp_path, capsys):
    path = write(tmp_path / "valid.csv", "step,loss,loss/std,lr,momentum",
                 [(s, v, 0.0, 0.001, 0.9) for s, v in enumerate(LOSSES, 1)])
    assert main(["analyze", str(path), "--format", "json"]) == 0
    [run] = json.loads(capsys.readouterr().out)["runs"]
    assert run["metric"] == "valid_loss" and run["direction"] == "min"
    assert not [w for w in run["warnings"] if "train loss" in w], run["warnings"]


def test_a_dev_metrics_csvs_overfit_is_no_train_loss_instability(tmp_path, capsys):
    """An ELMo classifier's `dev_metrics.csv` (`Epoch,Loss,Accuracy,F1 (micro)`, development rows
    only): its plain `Loss` was the train loss, and its climb after epoch 2 "the train loss
    getting worse ... an instability of training"."""
    losses = [1.32, 0.86, 1.0, 1.12, 1.16, 1.13, 1.32, 1.52, 1.66, 1.83]
    path = write(tmp_path / "dev_metrics.csv", "Epoch,Loss,Accuracy,F1 (micro)",
                 [(e, v, 0.95 - v / 10, 0.95 - v / 10) for e, v in enumerate(losses, 1)])
    assert main(["analyze", str(path), "--metric", "Loss", "--format", "json"]) == 0
    [run] = json.loads(capsys.readouterr().out)["runs"]
    assert run["metric"] == "dev_Loss" and run["direction"] == "min"
    assert [p["name"] for p in run["phases"]][-1] == "overfit"
    assert not [w for w in run["warnings"] if "train loss" in w], run["warnings"]


@pytest.mark.parametrize("name", ["train_log.csv", "train_history.csv", "devices.csv",
                                  "testing_notes.csv", "metrics.csv"])
def test_other_names_keep_their_columns(tmp_path, name):
    """`train_*` tables hold both splits (Keras' `loss`, `val_loss`); a stem whose first word is
    no split's is no split file."""
    path = write(tmp_path / name, "epoch,loss,val_loss", [(e, 1.0 / e, 1.1) for e in range(1, 6)])
    assert read_run(path).metrics == ["loss", "val_loss"]


def test_names_that_say_a_split_and_settings_are_read_as_written(tmp_path):
    path = write(tmp_path / "train.csv", "epoch,loss,accuracy,val_loss,loss_val,learning_rate",
                 [(e, 1.0 / e, 0.5, 1.1, 1.2, 0.01) for e in range(1, 6)])
    run = read_run(path)
    assert run.metrics == ["learning_rate", "loss_val", "train_accuracy", "train_loss",
                           "val_loss"]


def test_a_name_whose_role_its_split_name_loses_is_read_as_written(tmp_path):
    """`avg_reward` is a reward (analysed without --metric); `eval_avg_reward` the presets know
    no role for: a DQN's `eval_rewards.csv` keeps its name."""
    path = write(tmp_path / "eval_rewards.csv", "episode,avg_reward",
                 [(100 * e, 0.01 * e) for e in range(1, 8)])
    assert read_run(path).metrics == ["avg_reward"]


@pytest.mark.parametrize("name", ["metrics.csv", "progress.csv", "valid_set.csv", "retrain.csv",
                                  "test_data.csv"])
def test_other_file_names_keep_their_columns(tmp_path, name):
    path = write(tmp_path / name, "step,loss", [(s, v) for s, v in enumerate(LOSSES, 1)])
    run = read_run(path)
    assert run.metrics == ["loss"] and aliases_for(run.metrics)["train/loss"] == "loss"


def test_one_column_renamed_is_said_in_the_singular(tmp_path):
    path = write(tmp_path / "eval.csv", "step,accuracy", [(s, 0.1 * s) for s in range(1, 8)])
    run = read_run(path)
    assert aliases_for(run.metrics)["eval/accuracy"] == "eval_accuracy"
    assert "eval.csv is named for its split: its column accuracy is read as eval_accuracy, " \
        "that split's metric" in run.warnings


def test_counters_and_timings_are_read_as_written(tmp_path):
    """A split file's token and sample counters (`--x tokens`) and its wall clock count the
    run, not the split: `tokens` stays `tokens`, and the note names only the loss."""
    path = write(tmp_path / "valid.csv", "step,tokens,num_samples,time,loss",
                 [(100 * s, 4096 * s, 8 * s, 12.5 * s, v) for s, v in enumerate(LOSSES, 1)])
    run = read_run(path)
    assert run.metrics == ["num_samples", "time", "tokens", "valid_loss"]
    assert "valid.csv is named for its split: its column loss is read as valid_loss, that " \
        "split's metric" in run.warnings


# a FADNet-style table (one row an epoch, no epoch column): the train loss and EPE, and the
# held-out EPE bare beside them
EPE_ROWS = [(14.7 - 0.15 * e, 27.5 - 0.3 * e, 21.6 - 0.18 * e + 0.05 * (e % 3)) for e in range(12)]


@pytest.mark.parametrize("name,sep", [("train.log", "\t"), ("train.csv", ",")])
def test_a_header_that_names_the_files_split_is_read_as_written(tmp_path, capsys, name, sep):
    """`train_loss train_EPE EPE` in train.log: the name's split was applied to the bare `EPE`,
    which became `train_EPE` beside the header's own `train_EPE`, and one of them was lost."""
    path = tmp_path / name
    path.write_text(sep.join(["train_loss", "train_EPE", "EPE"]) + "\r\n"
                    + "".join(sep.join(map(str, row)) + "\r\n" for row in EPE_ROWS))
    run = read_run(path)
    assert run.metrics == ["EPE", "train_EPE", "train_loss"]
    assert run.resolve_metric("EPE") == "EPE"
    assert [v for _, v in sorted(run.series("EPE").items())] == [r[2] for r in EPE_ROWS]
    assert [v for _, v in sorted(run.series("train_EPE").items())] == [r[1] for r in EPE_ROWS]
    assert not [w for w in run.warnings if "more than once" in w or "named for its split" in w]
    assert main(["analyze", str(path), "--metric", "EPE", "--direction", "min",
                 "--format", "json"]) == 0
    [result] = json.loads(capsys.readouterr().out)["runs"]
    assert result["metric"] == "EPE" and result["baseline"] == pytest.approx(EPE_ROWS[0][2])


def test_a_held_out_file_naming_its_split_keeps_its_bare_names(tmp_path):
    """valid.csv's `valid_loss` beside a bare `loss`: the writer named the split's columns, so
    `loss` is not read as a second `valid_loss`."""
    path = write(tmp_path / "valid.csv", "step,valid_loss,loss",
                 [(s, v, v / 2) for s, v in enumerate(LOSSES, 1)])
    run = read_run(path)
    assert run.metrics == ["loss", "valid_loss"]
    assert [v for _, v in sorted(run.series("valid_loss").items())] == LOSSES
