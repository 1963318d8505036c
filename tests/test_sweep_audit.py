"""`sweep` and `report` as a new user runs them: mistakes in the command line are usage errors
said before any run is read, in the words of what went wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from phasewatch.cli import main

ROOT = Path(__file__).resolve().parents[1]
SFT = str(ROOT / "sample_logs" / "sft")


@pytest.mark.parametrize("command,name", [("sweep", "table.csv"), ("report", "report.html")])
def test_an_output_in_a_folder_that_does_not_exist_is_a_usage_error(tmp_path, capsys, command,
                                                                    name):
    # Was: every run was analysed first, then "error: .../table.csv: cannot read: No such file
    # or directory", exit 3 (an input error, and a write called a read).
    target = tmp_path / "missing" / name
    assert main([command, SFT, "-o", str(target), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {target}: the folder {target.parent} does not exist" in err
    assert "cannot read" not in err


@pytest.mark.parametrize("command,suffix", [("sweep", ".csv"), ("report", ".html")])
def test_an_output_that_is_a_folder_is_a_usage_error(tmp_path, capsys, command, suffix):
    # Was: sweep said "cannot read: Is a directory" (exit 3) after the whole sweep
    target = tmp_path / f"out{suffix}"
    target.mkdir()
    assert main([command, SFT, "-o", str(target), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {target}: it is a folder" in err
    assert "runs" not in err  # said before the runs are read, not after


def test_plot_says_its_data_file_cannot_be_written_before_it_draws(tmp_path, capsys):
    # Was: the figure was drawn and written, then `--data` into a missing folder failed
    figure, data = tmp_path / "fig.png", tmp_path / "missing" / "fig.csv"
    assert main(["plot", SFT, "-o", str(figure), "--data", str(data)]) == 2
    assert f"cannot write {data}: the folder {data.parent} does not exist" in \
        capsys.readouterr().err
    assert not figure.exists()
