"""A last line without its newline, in a format whose cut line still parses (trial 28,
finding 8): a CSV writer killed mid-line turned '2000,0.6534' into '2000,0', read as 0 with
only a warning, and the overfit's decline printed was 0.4359 against the whole file's 0.1092.
Such a line is now left out offline where it shows the cut (here '0' where every value before
it has decimals: `cut_line.cut_reason`), a whole one read (Flair's rows:
test_last_line_without_newline.py):
`analyze`, `inspect`, the replay and the follower read the same 40 records, a warning names
the file, the line, its text and how to keep it, and the skipped count includes it. A cut
JSONL line does not parse and stays skipped as before."""

from __future__ import annotations

import json
import random

import pytest

from phasewatch.cli import main
from phasewatch.io import read_run


def rows():
    """The trial's series: a dip to step 150, a climb to 900, a slow decline to 2000."""
    rng = random.Random(28)
    out = []
    for i in range(41):
        s = 50 * i
        m = (0.55 - 0.30 * s / 150 if s <= 150 else
             0.25 + 0.50 * (s - 150) / 750 if s <= 900 else 0.75 - 0.10 * (s - 900) / 1100)
        out.append((s, round(m + rng.gauss(0, 0.01), 4)))
    return out


def write_csv(path, cut=5, sep=","):
    """The CSV, its last 5 characters cut off ('2000,0.6534' -> '2000,0'); cut=0: whole."""
    text = "\n".join([f"step{sep}val_accuracy", *(f"{s}{sep}{v}" for s, v in rows())])
    path.write_text(text[:-cut] if cut else text + "\n")
    return path


def analysed(capsys, path):
    assert main(["analyze", str(path), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["runs"][0]


def test_a_csv_cut_mid_value_leaves_out_its_last_line(tmp_path, capsys):
    cut = write_csv(tmp_path / "cut.csv")
    assert cut.read_text().endswith("\n1950,0.658\n2000,0")
    run = read_run(cut)
    series = run.series("val_accuracy")
    assert series.index[-1] == 1950 and 0 not in series.tolist()
    assert run.n_records == 40
    (warning,) = [w for w in run.warnings if "newline" in w]
    assert warning.startswith("line 42: cut.csv does not end with a newline")
    assert "'2000,0'" in warning and "left out" in warning
    assert "add its line end" in warning and f"echo >> {cut}" in warning
    # the decline is the data's (0.7649 -> 0.658 at 1950), not 0.7649 -> 0.329 (0 read)
    doc = analysed(capsys, cut)
    overfit = next(p for p in doc["phases"] if p["name"] == "overfit")
    whole = next(p for p in analysed(capsys, write_csv(tmp_path / "whole.csv", cut=0))["phases"]
                 if p["name"] == "overfit")
    assert overfit["end_step"] == 1950
    assert abs(overfit["end_value"] - whole["end_value"]) < 0.01, (overfit, whole)
    assert any("line 42" in w and "left out" in w for w in doc["warnings"])


def test_a_whole_last_line_without_its_newline_is_read(tmp_path):
    path = write_csv(tmp_path / "m.csv", cut=0)
    path.write_text(path.read_text().rstrip("\n"))  # a whole last line, only its \n missing
    run = read_run(path)
    assert run.series("val_accuracy").index[-1] == 2000
    assert not [w for w in run.warnings if "newline" in w]


def test_a_tsv_is_read_the_same_way(tmp_path):
    run = read_run(write_csv(tmp_path / "cut.tsv", sep="\t"))
    assert run.series("val_accuracy").index[-1] == 1950
    assert any("cut.tsv does not end with a newline" in w for w in run.warnings)


def test_inspect_counts_what_was_read_and_the_skipped_lines(tmp_path, capsys):
    path = write_csv(tmp_path / "cut.csv")
    lines = path.read_text().split("\n")
    lines[9] = "garbage,,x"
    path.write_text("\n".join(lines))
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "39 records, 39 distinct steps" in out
    assert "skipped 2 of 42 lines that are not valid records (lines 10, 42;" in out
    assert "line 42: cut.csv does not end with a newline" in out


def test_a_file_whose_only_row_has_no_newline_reads_it(tmp_path, capsys):
    # no row before it to compare with: only a value cut at its point or sign would tell
    path = tmp_path / "one.csv"
    path.write_text("step,acc\n100,0.5")
    assert main(["inspect", str(path)]) == 0
    assert "1 record, 1 distinct step" in capsys.readouterr().out
    path.write_text("step,acc\n100,0.")
    assert main(["inspect", str(path)]) == 3
    err = capsys.readouterr().err
    assert "no valid record in the file" in err and "add its line end" in err


def test_a_cut_jsonl_line_is_still_skipped_as_before(tmp_path):
    path = tmp_path / "m.jsonl"
    text = "\n".join(json.dumps({"step": s, "val_accuracy": v}) for s, v in rows())
    path.write_text(text[:-5])
    run = read_run(path)
    assert run.series("val_accuracy").index[-1] == 1950
    assert any(w.startswith("line 41: skipped the last line, which is incomplete")
               for w in run.warnings), run.warnings


@pytest.mark.parametrize("name,text,last", [
    ("v.log", "".join(f"step:{i} - acc:0.5{i} - loss:1.0\n" for i in range(1, 20))
     + "step:20 - acc:0.5", 19),
    ("monitor.csv", '#{"t_start": 1700000000.0, "env_id": "CartPole-v1"}\nr,l,t\n'
     + "".join(f"{10 + i}.0,{10 + i},{i + 1}.5\n" for i in range(20)) + "30.0,30,21", None),
])
def test_other_line_formats_whose_cut_line_parses(tmp_path, name, text, last):
    path = tmp_path / name
    path.write_text(text)
    run = read_run(path)
    assert run.n_records == 19 if last else run.n_records == 20
    assert any(f"{name} does not end with a newline" in w for w in run.warnings), run.warnings


def test_a_last_line_of_text_without_a_newline_is_no_loss(tmp_path):
    # a console line that holds no record is not said to be left out
    path = tmp_path / "v.log"
    path.write_text("".join(f"step:{i} - acc:0.5{i} - loss:1.0\n" for i in range(1, 20))
                    + "Training finished")
    run = read_run(path)
    assert run.n_records == 19
    assert not [w for w in run.warnings if "newline" in w]


def test_an_mlflow_line_cut_in_its_step_is_left_out(tmp_path):
    # '1700000000900 0.95 1' of '... 0.95 12': MLflow ends every line, so it was cut
    run_dir = tmp_path / "mlruns" / "0" / "abc123"
    (run_dir / "metrics" / "eval").mkdir(parents=True)
    (run_dir / "meta.yaml").write_text("run_id: abc123\nstatus: 3\n")
    lines = [f"{1700000000000 + 100 * i} {0.5 + i / 100} {10 * (i + 1)}" for i in range(9)]
    (run_dir / "metrics" / "eval" / "accuracy").write_text("\n".join([*lines, "1700000000900 0.95 1"]))
    run = read_run(run_dir)
    assert run.series("eval/accuracy").index.tolist() == [10 * (i + 1) for i in range(9)]
    assert any("skipped 1 metric lines" in w for w in run.warnings), run.warnings


def test_replay_and_follow_read_what_analyze_reads(tmp_path, capsys):
    path = write_csv(tmp_path / "cut.csv")
    doc = analysed(capsys, path)
    outs = []
    for follow in ([], ["--follow", "--idle-exit", "0.3", "--poll", "0.02"]):
        assert main(["watch", str(path), "--format", "jsonl", *follow]) == 0
        out, err = capsys.readouterr()
        outs.append([json.loads(line) for line in out.splitlines()])
        assert "line 42: cut.csv does not end with a newline" in err
    replay, followed = outs
    assert replay == followed
    summary = replay[-1]
    assert summary["event"] == "summary" and summary["records"] == 40 and summary["step"] == 1950
    assert summary["phases"] == [p["name"] for p in doc["phases"]]
    assert summary["best_step"] == doc["recommended_stop_step"]
