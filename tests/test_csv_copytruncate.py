"""A CSV log rotated by logrotate's copytruncate: the writer goes on appending rows to the
emptied file, with no header (trial 34: the follow read the first new row as a header, skipped
every later one and ended idle while the run went on; `analyze` of the file then failed with
"unknown log format")."""

from __future__ import annotations

from line_follower import copytruncate

import phasewatch
from phasewatch.io import open_source, read_run


def rows(start, stop):
    return "".join(f"{s},{0.5 + 0.0004 * s:.4f},{1 / (s + 1):.5f}\n"
                   for s in range(start, stop, 25))


def test_a_headerless_csv_after_copytruncate_is_read_with_the_copys_header(tmp_path):
    log = tmp_path / "train.csv"
    log.write_text("step,val_acc,loss\n" + rows(0, 1001))
    source = open_source(log, follow=True, notice=lambda message: None)
    followed = [(r.step, r.values["val_acc"]) for r in source.read(final=False)]
    copytruncate(log, tmp_path / "train.csv.1")
    with open(log, "a") as fh:
        fh.write(rows(1025, 2001))
    followed += [(r.step, r.values["val_acc"]) for r in source.read(final=True)]
    source.close()
    assert [s for s, _ in followed] == list(range(0, 2001, 25))  # nothing lost or read twice
    # the final files, read as analyze reads them: the same records, the header from the copy
    run = read_run(log)
    assert list(run.series("val_acc").index) == list(range(0, 2001, 25))
    assert any("read with the header of the file before it" in w for w in run.warnings)
    assert phasewatch.analyze(log).metric == "val_acc"


def test_a_new_header_after_the_truncation_is_still_a_header(tmp_path):
    log = tmp_path / "train.csv"
    log.write_text("step,val_acc,loss\n" + rows(0, 501))
    source = open_source(log, follow=True, notice=lambda message: None)
    first = list(source.read(final=False))
    copytruncate(log, tmp_path / "train.csv.1")
    with open(log, "a") as fh:  # a writer that writes its header again, with a new column
        fh.write("step,val_acc,loss,lr\n" + "".join(f"{s},0.7,0.1,0.001\n"
                                                     for s in range(525, 601, 25)))
    later = list(source.read(final=True))
    assert len(first) == 21 and [r.step for r in later] == [525, 550, 575, 600]
    assert later[0].values["lr"] == "0.001"


def test_a_replay_of_a_rotated_log_has_the_plan_its_first_part_states(tmp_path, capsys):
    # trial 34: the config line (max_steps) in metrics.jsonl.1: the follow judged against the
    # plan, a replay of the same files had none
    import json

    from phasewatch.cli import main

    log = tmp_path / "m.jsonl"
    (tmp_path / "m.jsonl.1").write_text(
        json.dumps({"type": "config", "args": {"max_steps": 2000}}) + "\n"
        + "".join(json.dumps({"step": s, "val/accuracy": 0.5 + 0.0001 * s}) + "\n"
                  for s in range(0, 1000, 25)))
    log.write_text("".join(json.dumps({"step": s, "val/accuracy": 0.6}) + "\n"
                           for s in range(1000, 2001, 25)))
    assert main(["watch", str(log), "--format", "jsonl"]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["planned"] == {"steps": 2000, "from": "config", "key": "args.max_steps"}
