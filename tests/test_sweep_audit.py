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


def test_seed_groups_tolerate_a_setting_one_run_does_not_record():
    """sample_logs' SFT seed 0 was written before the trainer recorded `rl_lr`; seeds 1-2
    record `rl_lr: 0.0`: one configuration. A setting both record with other values is not."""
    from phasewatch.sweep.row import config_without_seed, seed_groups_of

    def key(**hp):
        return ("sft", "eval/accuracy", config_without_seed(hp))

    keys = [key(lr=1e-3, seed=0), key(lr=1e-3, rl_lr=0.0, seed=1), key(lr=1e-3, rl_lr=0.0, seed=2),
            key(lr=3e-3, seed=3), key(lr=1e-3, rl_lr=float("nan"), seed=4)]
    assert seed_groups_of(keys, [0, 1, 2, 3, 4]) == [[0, 1, 2, 4]]
    assert seed_groups_of(keys[:2], [0, None]) == []


def test_the_three_sample_sft_seeds_are_one_group_without_labels(tmp_path, capsys):
    root = Path(__file__).resolve().parents[1] / "sample_logs"
    out = tmp_path / "seeds.png"
    data = tmp_path / "seeds.csv"
    code = main(["plot", str(root / "sft"), str(root / "seeds" / "sft_s1"),
                 str(root / "seeds" / "sft_s2"), "-o", str(out), "--data", str(data)])
    assert code == 0, capsys.readouterr().err
    rows = [line.split(",") for line in data.read_text().splitlines()[1:]]
    # one curve, the seeds' mean with its band: no run drawn on its own
    assert {r[1] for r in rows} == {"SFT"}
    assert {r[3] for r in rows} == {"mean", "ci_low", "ci_high", "stop", "seed_stop"}
