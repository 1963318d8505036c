"""`inspect` on a log of one record (a W&B `wandb-summary.json`, a run stopped after its first
logging step): its counts in words that agree with them, and no first/last/best of one value."""

from __future__ import annotations

import json

from phasewatch.cli import main


def test_one_record_is_said_in_the_singular(tmp_path, capsys):
    log = tmp_path / "wandb-summary.json"
    log.write_text(json.dumps({"_step": 4, "_runtime": 23.2, "loss": 0.0707, "epoch": 0}) + "\n")
    assert main(["inspect", str(log)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "1 record, 1 distinct step"
    assert lines[2].endswith("1 value, at step 4: 0.0707"), lines[2]


def test_several_records_keep_the_plural_and_the_range(tmp_path, capsys):
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps({"step": s, "eval_loss": 1 / (s + 1)}) + "\n"
                           for s in (0, 10, 20)))
    assert main(["inspect", str(log)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "3 records, 3 distinct steps"
    assert "3 values over steps 0-20: first 1, last 0.04762, best 0.04762 at step 20" in lines[2]


def test_watch_counts_one_record_in_the_singular(tmp_path, capsys):
    from phasewatch.cli import main

    log = tmp_path / "one.jsonl"
    log.write_text('{"step": 1, "eval/accuracy": 0.5}\n')
    assert main(["watch", str(log)]) == 0
    err = capsys.readouterr().err
    assert "watched 1 record (1 value of eval/accuracy) up to step 1" in err
