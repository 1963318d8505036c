"""A compact JSON document (`json.dump` without indent: one line) bigger than the 64 KiB the
sniffer reads: its first line runs past the head, so it is one document, not JSON lines. It was
taken for a JSON-lines file of one record (no metrics, or names that carry the steps)."""

from __future__ import annotations

import json

from phasewatch.cli import main
from phasewatch.io import read_run


def test_a_compact_history_document_past_the_head_is_read_as_records(tmp_path, capsys):
    log = tmp_path / "history.json"
    rows = [{"epoch": i, "loss": round(2.0 / (1 + i), 5), "val_loss": round(2.2 / (1 + i) + 0.0004 * i, 5)}
            for i in range(1500)]
    log.write_text(json.dumps({"history": rows}))
    assert log.stat().st_size > 64 * 1024 and "\n" not in log.read_text()
    run = read_run(log)
    assert run.format == "generic_json"
    assert len(run.series("val_loss")) == 1500
    assert main(["analyze", "--format", "json", str(log)]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["metric"] == "val_loss"


def test_a_compact_step_map_document_past_the_head_is_read_as_maps(tmp_path):
    log = tmp_path / "train_log.json"
    log.write_text(json.dumps({"train": {"loss": {str(i): 1.0 / (1 + i) for i in range(6000)}}}))
    assert log.stat().st_size > 64 * 1024
    run = read_run(log)
    assert run.format == "generic_json" and len(run.series("train/loss")) == 6000


def test_json_lines_with_a_long_first_record_stay_json_lines(tmp_path):
    """Only a first line longer than the head makes a document of it: ordinary JSON lines keep
    their reader."""
    log = tmp_path / "metrics.jsonl"
    log.write_text("".join(json.dumps({"step": i, "loss": 1.0 / (1 + i), "history": [{"step": 0}]}) + "\n"
                           for i in range(3000)))
    assert log.stat().st_size > 64 * 1024
    assert read_run(log).format == "jsonl"


def test_a_document_past_the_head_is_sniffed_by_every_step_key(tmp_path):
    """A list of records is read whatever its size: the sniffer of a document bigger than its
    head matched a short list of step names of its own, without `episode`, so a Q-learner's
    `[{"episode": 0, "avg_reward": ...}, ...]` (800 indented records, 101 KB) was an unknown
    format where the same list cut to 100 records was read (traffic-rl-openenv)."""
    rows = [{"episode": i, "avg_reward": round(0.02 + 0.0001 * i, 5), "epsilon": round(0.995 ** i, 4),
             "q_table_size": 13 + i} for i in range(800)]
    small, large = tmp_path / "small.json", tmp_path / "training_log.json"
    small.write_text(json.dumps(rows[:100], indent=2))
    large.write_text(json.dumps(rows, indent=2))
    assert small.stat().st_size < 64 * 1024 < large.stat().st_size
    assert read_run(small).format == read_run(large).format == "generic_json"
    assert len(read_run(large).series("avg_reward")) == 800
    # ... and a step key written with another case or a space, as `find_step_key` folds them
    spaced = tmp_path / "spaced.json"
    spaced.write_text(json.dumps([{"Total Timesteps": 10 * i, "reward": 0.1 * i} for i in range(3000)], indent=2))
    assert spaced.stat().st_size > 64 * 1024
    assert read_run(spaced).series("reward").index.tolist()[:3] == [0, 10, 20]
