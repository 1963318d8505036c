"""SpeechBrain's `train_log.txt` (`FileTrainLogger`), which was "unknown log format".

SpeechBrain cannot be installed beside the project's pins (its torchaudio needs another torch),
so `FileTrainLogger` below writes the lines as `speechbrain/utils/train_logger.py` (1.1) does:
`_item_to_string` prints a float between 1 and 100 with `precision` decimals, any other float
in exponent form, names a split's item `<split> <name>`; `log_stats` joins the items with ", "
and the meta and each split with " - ", and prints the line to the file.
"""

from __future__ import annotations

import json
import math

from watch_follower import Follower, replay, write_in_pieces

from phasewatch.cli import main
from phasewatch.io import read_run


class FileTrainLogger:
    """SpeechBrain's text logger, as its source writes a line."""

    def __init__(self, save_file, precision=2):
        self.save_file = save_file
        self.precision = precision

    def _item_to_string(self, key, value, dataset=None):
        if isinstance(value, float) and 1.0 < value < 100.0:
            value = f"{value:.{self.precision}f}"
        elif isinstance(value, float):
            value = f"{value:.{self.precision}e}"
        if dataset is not None:
            key = f"{dataset} {key}"
        return f"{key}: {value}"

    def _stats_to_string(self, stats, dataset=None):
        return ", ".join([self._item_to_string(k, v, dataset) for k, v in stats.items()])

    def log_stats(self, stats_meta, train_stats=None, valid_stats=None, test_stats=None):
        string_summary = self._stats_to_string(stats_meta)
        for dataset, stats in [("train", train_stats), ("valid", valid_stats),
                               ("test", test_stats)]:
            if stats is not None:
                string_summary += " - " + self._stats_to_string(stats, dataset)
        with open(self.save_file, "a", encoding="utf-8") as fout:
            print(string_summary, file=fout)


def wer(epoch):
    """A valid WER that falls to epoch 12, then rises (an overfit)."""
    return 60 * math.exp(-epoch / 3) + 12 + (0.4 * (epoch - 12) if epoch > 12 else 0)


def write_asr_log(path, epochs=20, tested=12):
    """An ASR recipe's train_log.txt: loss, CER and WER each epoch, the test of the best."""
    logger = FileTrainLogger(path)
    for epoch in range(1, epochs + 1):
        logger.log_stats({"epoch": epoch, "lr": 0.9 ** epoch},
                         train_stats={"loss": 3 * math.exp(-epoch / 4) + 0.2},
                         valid_stats={"loss": 2.5 * math.exp(-epoch / 4) + 0.5,
                                      "CER": wer(epoch) / 3, "WER": wer(epoch)})
    if tested is not None:
        logger.log_stats({"Epoch loaded": tested},
                         test_stats={"loss": 0.81, "CER": 4.1, "WER": 12.3})
    return path


def test_the_lines_are_the_loggers(tmp_path):
    path = write_asr_log(tmp_path / "train_log.txt", epochs=2, tested=2)
    assert path.read_text().splitlines() == [
        ("epoch: 1, lr: 9.00e-01 - train loss: 2.54 - valid loss: 2.45, valid CER: 18.33, "
         "valid WER: 54.99"),
        ("epoch: 2, lr: 8.10e-01 - train loss: 2.02 - valid loss: 2.02, valid CER: 14.27, "
         "valid WER: 42.81"),
        "Epoch loaded: 2 - test loss: 8.10e-01, test CER: 4.10, test WER: 12.30",
    ]


def test_an_asr_log_is_read_at_its_epochs(tmp_path, capsys):
    run = read_run(write_asr_log(tmp_path / "train_log.txt"))
    assert run.format == "speechbrain_console" and run.step_unit == "epoch"
    assert run.series("valid/WER").index.tolist() == list(range(1, 21))
    assert run.series("valid/WER").iloc[0] == 54.99
    assert run.series("train/loss").iloc[-1] == 0.22
    assert run.series("lr").iloc[0] == 0.9
    assert run.series("test/WER").to_dict() == {12: 12.3}  # at the checkpoint tested
    assert run.finished
    assert main(["analyze", str(tmp_path / "train_log.txt"), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)["runs"][0]
    assert (doc["metric"], doc["direction"]) == ("valid/WER", "min")
    assert [p["name"] for p in doc["phases"]][-1] == "overfit"
    assert doc["recommended_stop_step"] == 12


def test_error_rates_are_lower_better_and_accuracy_higher(tmp_path, capsys):
    logger = FileTrainLogger(tmp_path / "train_log.txt")
    for epoch in range(1, 9):
        logger.log_stats({"epoch": epoch, "lr": 1.0, "steps": 100 * epoch, "optimizer": "Adam"},
                         train_stats={"loss": 1.0 / epoch},
                         valid_stats={"loss": 1.2 / epoch, "error_rate": 0.5 / epoch,
                                      "ACC": 1 - 0.5 / epoch})
    run = read_run(tmp_path / "train_log.txt")
    assert "steps" not in run.metrics and "optimizer" not in run.metrics
    assert run.series("valid/error_rate").iloc[1] == 0.25
    for metric, direction in (("valid/error_rate", "min"), ("valid/ACC", "max"),
                              ("valid/loss", "min")):
        assert main(["analyze", str(tmp_path / "train_log.txt"), "--metric", metric,
                     "--format", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["runs"][0]["direction"] == direction


def test_the_loggers_lines_in_log_txt_behind_their_prefix(tmp_path):
    lines = write_asr_log(tmp_path / "train_log.txt", epochs=6, tested=None).read_text()
    log = tmp_path / "log.txt"
    log.write_text("2024-03-01 10:00:00,001 - speechbrain.core - INFO - Beginning experiment!\n"
                   + "".join(f"2024-03-01 10:{i:02d}:00,000 - speechbrain.utils.train_logger - "
                             f"INFO - {line}\n" for i, line in enumerate(lines.splitlines())))
    run = read_run(log)
    assert run.format == "speechbrain_console"
    assert run.series("valid/WER").index.tolist() == list(range(1, 7))


def five_epochs_and(tmp_path, line: str):
    """The run of a 5-epoch log (no test line) with `line` written after it."""
    path = write_asr_log(tmp_path / "train_log.txt", epochs=5, tested=None)
    with open(path, "a") as fh:
        fh.write(line + "\n")
    return read_run(path)


def test_an_item_that_is_no_number_is_said_and_the_rest_read(tmp_path):
    run = five_epochs_and(tmp_path, "epoch: 6, lr: 5.31e-01 - train loss: 1.20 - valid loss: "
                                    "1.10, valid WER: tensor(25.1000)")
    assert run.series("valid/loss").index[-1] == 6 and run.series("valid/WER").index[-1] == 5
    assert any("line 6: valid/WER" in w for w in run.warnings), run.warnings


def test_an_epoch_that_is_no_integer_is_a_line_skipped_not_truncated(tmp_path):
    # `epoch: 5.5` (a damaged line) was read as epoch 5, over the real epoch 5's values
    run = five_epochs_and(tmp_path, "epoch: 5.5, lr: 5.31e-01 - train loss: 9.99 - valid loss: "
                                    "9.99, valid WER: 99.99")
    assert run.series("valid/WER").index.tolist() == [1, 2, 3, 4, 5]
    assert 99.99 not in run.series("valid/WER").tolist()
    assert any("line 6" in w and "not an integer" in w for w in run.warnings), run.warnings


def test_watch_follow_reads_it_as_the_replay_and_ends_at_the_test_line(tmp_path):
    text = write_asr_log(tmp_path / "written.txt").read_text()
    path = tmp_path / "train_log.txt"
    follower = Follower(path, stop_on=())
    follower.wait_for_message("does not exist yet")
    write_in_pieces(path, text, size=97)
    followed = follower.ends_by_itself()
    replayed, result = replay(path, stop_on=())
    assert followed == replayed and any(a.event == "overfit" for a in followed)
    assert follower.watch.result.reason == "finished"
    assert follower.watch.result.n_records == result.n_records == 21
