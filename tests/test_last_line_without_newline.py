"""A finished file's last line without its newline is a row where it looks whole.

Flair (up to 0.12) writes `loss.tsv`'s header without a line end and each epoch's row after a
line break (`f.write(f"\\n{epoch}\\t...")`), so the file never ends with a newline, and every
run's last epoch was left out as a line that may be cut. Flair cannot be installed beside the
project's pins (it needs transformers < 5), so `write_flair_loss_tsv` writes the file as its
trainer's code does. A line cut by a writer killed mid-line is still left out where it shows it
(`cut_line.cut_reason`); `watch --follow` waits for a line's end until the run ends, then reads
it once.
"""

from __future__ import annotations

import json
import threading
import time

from watch_follower import Follower, replay

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.io.csv import Source

# (dev loss, dev F1) of 20 epochs: F1 rises to epoch 12, then falls; Flair rounds scores to 4
# places (`round(..., 4)`: 0.73, not 0.7300) and writes losses as Python prints a float
DEV = [(0.9 - 0.04 * e if e <= 12 else 0.42 + 0.03 * (e - 12),
        round(0.55 + 0.02 * e if e <= 12 else 0.79 - 0.012 * (e - 12), 4) + 0.0001 * (e % 3))
       for e in range(1, 21)]


def flair_rows(dev=DEV):
    """The rows Flair 0.12's trainer writes for each epoch, as it writes them: the text after
    each epoch's leading line break (`trainer.py`: `f"\\n{epoch}\\t{now:%H:%M:%S}"
    f"{bad_epoch_info}\\t{lr_info}\\t{train_loss}"`, then `result_line`, `f"\\t{loss}\\t{log_line}"`,
    the log line `f"{precision}\\t{recall}\\t{f1}\\t{accuracy}"`)."""
    rows = []
    for epoch, (loss, f1) in enumerate(dev, start=1):
        score = round(f1, 4)
        rows.append(f"{epoch}\t12:{epoch:02d}:07\t{epoch % 4}\t{0.1:.4f}\t{1.2 / epoch}"
                    f"\t{loss}\t{score}\t{score}\t{score}\t{score}")
    return rows


HEADER = ("EPOCH\tTIMESTAMP\tBAD_EPOCHS\tLEARNING_RATE\tTRAIN_LOSS"
          "\tDEV_LOSS\tDEV_PRECISION\tDEV_RECALL\tDEV_F1\tDEV_ACCURACY")


def write_flair_loss_tsv(path, rows=None):
    """`loss.tsv` as Flair writes it: the header without its line end, a line break before
    each row, none after the last."""
    rows = flair_rows() if rows is None else rows
    path.write_text(HEADER + "".join("\n" + row for row in rows))
    return path


def test_flair_loss_tsv_reads_its_last_epoch(tmp_path, capsys):
    path = write_flair_loss_tsv(tmp_path / "loss.tsv")
    assert not path.read_text().endswith("\n")
    run = read_run(path)
    f1 = run.series("DEV_F1")
    assert f1.index.tolist() == list(range(1, 21))
    assert f1.iloc[-1] == round(DEV[-1][1], 4)
    assert not [w for w in run.warnings if "newline" in w], run.warnings
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "20 records, 20 distinct steps" in out and "newline" not in out
    assert main(["analyze", str(path), "--metric", "DEV_F1", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)["runs"][0]
    assert doc["phases"][-1]["end_step"] == 20
    assert not [w for w in doc["warnings"] if "newline" in w]


def test_a_replay_reads_the_last_epoch_as_analyze_does(tmp_path):
    path = write_flair_loss_tsv(tmp_path / "loss.tsv")
    _, result = replay(path, stop_on=(), metric="DEV_F1")
    assert result.n_records == 20 and result.last_step == 20


def test_a_row_cut_inside_its_last_value_is_still_left_out(tmp_path):
    rows = flair_rows()
    whole = rows[-1]
    assert whole.endswith("\t0.6942")
    for cut in (whole[:-4], whole[:-5]):  # '0.', and '0' where every F1 before has decimals
        path = write_flair_loss_tsv(tmp_path / "loss.tsv", rows[:-1] + [cut])
        run = read_run(path)
        assert run.series("DEV_F1").index[-1] == 19, cut
        (warning,) = [w for w in run.warnings if "newline" in w]
        assert warning.startswith("line 21: loss.tsv does not end with a newline")
        assert "left out" in warning and "add its line end" in warning


def test_a_row_cut_before_its_last_cell_is_skipped(tmp_path):
    rows = flair_rows()
    cut = rows[-1].rsplit("\t", 2)[0]  # two cells short
    run = read_run(write_flair_loss_tsv(tmp_path / "loss.tsv", rows[:-1] + [cut]))
    assert run.series("DEV_F1").index[-1] == 19
    assert any(w.startswith("line 21:") for w in run.warnings), run.warnings


def test_a_console_line_without_its_newline_is_read_where_whole(tmp_path):
    lines = [f"step:{i} - val/acc:0.5{i:02d} - loss:1.{i:02d}" for i in range(1, 21)]
    path = tmp_path / "v.log"
    path.write_text("\n".join(lines))  # the last line whole, only its newline missing
    run = read_run(path)
    assert run.n_records == 20 and not [w for w in run.warnings if "newline" in w]
    path.write_text("\n".join(lines)[:-3])  # 'loss:1.20' -> 'loss:1': cut
    run = read_run(path)
    assert run.n_records == 19
    assert any("v.log does not end with a newline" in w for w in run.warnings), run.warnings


def test_a_follow_waits_for_the_line_end_and_reads_the_last_line_once_at_the_end(tmp_path):
    path = tmp_path / "loss.tsv"
    path.write_text(HEADER)
    source = Source(path, follow=True, notice=lambda message: None)
    rows = flair_rows()
    got = []
    try:
        for row in rows[:3]:
            with open(path, "a") as fh:
                fh.write("\n" + row)
            got += [r.step for r in source.read(final=False)]
        assert got == [1, 2]  # the third waits for its line end
        with open(path, "a") as fh:
            fh.write("\n" + rows[3][:-3])  # a row half written: not read
        got += [r.step for r in source.read(final=False)]
        assert got == [1, 2, 3]
        with open(path, "a") as fh:
            fh.write(rows[3][-3:])  # its end: still no line end
        got += [r.step for r in source.read(final=False)]
        assert got == [1, 2, 3]
        last = list(source.read(final=True))  # the run is over: read, once
        assert [r.step for r in last] == [4]
        assert float(last[0].values["DEV_F1"]) == round(DEV[3][1], 4)
        assert list(source.read(final=True)) == []
    finally:
        source.close()
    assert not [w for w in source.warnings if "newline" in w]


def test_watch_follow_reads_flair_rows_as_they_are_written_and_the_last_at_the_end(tmp_path):
    path = tmp_path / "loss.tsv"
    follower = Follower(path, stop_on=(), idle_exit=1.0, metric="DEV_F1")
    follower.wait_for_message("does not exist yet")

    def write():
        with open(path, "w") as fh:  # Flair opens the file for each epoch; one handle here
            fh.write(HEADER)
            for row in flair_rows():
                for piece in ("\n" + row[:7], row[7:]):  # a row in two writes
                    fh.write(piece)
                    fh.flush()
                    time.sleep(0.01)

    writer = threading.Thread(target=write)
    writer.start()
    writer.join()
    followed = follower.ends_by_itself()
    replayed, result = replay(path, stop_on=(), metric="DEV_F1")
    assert followed == replayed
    assert follower.watch.result.n_records == result.n_records == 20
    assert follower.watch.result.last_step == 20
    assert not [m for m in follower.messages if "newline" in m]
