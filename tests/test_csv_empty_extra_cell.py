"""A CSV / TSV row with one empty cell more than its header is that row, whole
(`csv_cells.without_empty_extra`): a trailing separator (`1,0.5,`), or a doubled one, the row's
only empty cell. Old Flair versions wrote every row of `loss.tsv` with a doubled tab (their
result's log line starts with a tab; the placeholders of an unevaluated train split too), so no
row was read ("8 cells where the header has 7"). Flair cannot be installed beside the project's
pins: the files are written here as those versions wrote them (the header, then a line break
before each row, none after the last). A row whose extra cell holds a value is still refused.
"""

from __future__ import annotations

from cli_json import analyzed

from phasewatch.cli import main
from phasewatch.io import read_run

# dev accuracy of 16 epochs: rises to epoch 8, then falls
ACCURACY = [round(0.6 + 0.04 * e if e <= 8 else 0.92 - 0.025 * (e - 8), 4) for e in range(1, 17)]


def old_flair_loss_tsv(path, train_placeholders: bool):
    """`loss.tsv` as old Flair trainers wrote it: `EPOCH ... TRAIN_LOSS`, then (with
    `train_placeholders`) the train split's four unevaluated scores, written as `\\t\\t_\\t_\\t_\\t_`,
    then `\\t{dev_loss}\\t{log_line}` with a log line that starts with a tab."""
    header = "EPOCH\tTIMESTAMP\tBAD_EPOCHS\tLEARNING_RATE\tTRAIN_LOSS"
    if train_placeholders:
        header += "\tTRAIN_PRECISION\tTRAIN_RECALL\tTRAIN_ACCURACY\tTRAIN_F-SCORE"
    header += "\tDEV_LOSS\tDEV_ACCURACY"
    rows = []
    for epoch, accuracy in enumerate(ACCURACY, start=1):
        row = f"{epoch}\t10:{epoch:02d}:31\t0\t{0.1:.4f}\t{1.5 / epoch}"
        if train_placeholders:
            row += f"\t\t_\t_\t_\t_\t{1.1 - accuracy}\t{accuracy}"
        else:
            row += f"\t{1.1 - accuracy}\t\t{accuracy}"
        rows.append(row)
    path.write_text(header + "".join("\n" + row for row in rows))
    return path


def test_old_flair_rows_with_a_doubled_tab_are_read_whole(tmp_path, capsys):
    for placeholders, after in ((False, "DEV_LOSS"), (True, "TRAIN_LOSS")):
        path = old_flair_loss_tsv(tmp_path / f"loss{int(placeholders)}.tsv", placeholders)
        lines = path.read_text().split("\n")
        assert all(len(line.split("\t")) == len(lines[0].split("\t")) + 1 for line in lines[1:])
        run = read_run(path)
        assert run.series("DEV_ACCURACY").tolist() == ACCURACY  # every epoch, the last too
        assert run.series("DEV_ACCURACY").index.tolist() == list(range(1, 17))
        assert run.series("DEV_LOSS").tolist() == [1.1 - a for a in ACCURACY]
        assert run.series("TRAIN_LOSS").iloc[0] == 1.5
        [warning] = run.warnings
        assert warning == (f"line 2: one empty cell more than the header, after {after} (a "
                           "doubled separator): rows like it are read without that cell")
        assert main(["inspect", str(path)]) == 0
        out = capsys.readouterr().out
        assert "16 records, 16 distinct steps" in out and "skipped" not in out
        result = analyzed(capsys, path)
        assert result["metric"] == "DEV_ACCURACY" and result["phases"][-1]["name"] == "overfit"
        assert result["recommended_stop_step"] == 8


def test_a_trailing_separator_is_read_and_a_real_extra_value_refused(tmp_path):
    """`1,,0.5,`: the only extra cell is the last, empty: read. `4,0.1,0.5,7` holds a value
    more than the header names; `5,,0.5,0.7`, in a file whose first row has no doubled
    separator, is an absent loss beside an unnamed value as much as a doubled comma: both
    refused, said by line."""
    path = tmp_path / "log.csv"
    path.write_text("step,loss,acc\n1,,0.5,\n2,0.3,0.6,\n3,0.2,0.7\n4,0.1,0.5,7\n"
                    "5,,0.5,0.7\n6,0.1,,\n")
    run = read_run(path)
    assert run.series("acc").index.tolist() == [1, 2, 3]
    assert run.series("loss").index.tolist() == [2, 3, 6]
    [warning] = run.warnings
    assert warning == ("skipped 2 of 7 lines that are not valid records (lines 5, 6; first: 4 "
                       "cells where the header has 3)")


def test_a_doubled_separator_is_taken_only_at_the_place_the_first_row_has_it(tmp_path):
    path = old_flair_loss_tsv(tmp_path / "loss.tsv", train_placeholders=False)
    lines = path.read_text().split("\n")
    cells = lines[5].split("\t")
    lines[5] = "\t".join(cells[:2] + [""] + cells[2:6] + cells[7:])  # its empty cell moved
    path.write_text("\n".join(lines))
    run = read_run(path)
    assert run.series("DEV_ACCURACY").index.tolist() == [e for e in range(1, 17) if e != 5]
    assert any(w.startswith("skipped 1 of 17 lines that are not valid records (line 6; first: "
                            "8 cells where the header has 7)") for w in run.warnings), run.warnings
