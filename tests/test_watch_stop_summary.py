"""`watch --stop-on`: the summary is of exactly the records the monitor saw up to the stop, in
every format, also when the records were held for the metric's choice (trial 38b: a GRPO
trainer_state.json without a held-out metric, stopped at step 80, said 'the log up to the stop:
improvement, checkpoint to keep: step 85', a step the stopped run never reached)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import phasewatch
from phasewatch.cli import main

ROOT = Path(__file__).resolve().parents[1]
GLAIVE = ROOT / "benchmarks" / "real_corpus" / "data" / "trl-sft-grpo-glaive-reward-20"


def reward_rows(seed=0):
    """A GRPO-like log with a train reward only (no held-out metric: the watch holds every
    record until the log ends to choose it): flat, a rise, a fall that stops the watch, then a
    rise past the first peak, which the summary of the stop must not see."""
    rng = np.random.default_rng(seed)
    rows = []
    for step in range(5, 205, 5):
        if step <= 60:
            level = 0.1
        elif step <= 100:
            level = 0.1 + 0.7 * (step - 60) / 40
        elif step <= 150:
            level = 0.8 - 0.5 * (step - 100) / 50
        else:
            level = 0.3 + 0.65 * (step - 150) / 50
        rows.append({"loss": 0.01, "reward": round(level + rng.normal(0, 0.02), 4),
                     "learning_rate": 1e-6, "epoch": step / 200, "step": step})
    return rows


def trainer_state(folder: Path, rows) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trainer_state.json").write_text(json.dumps(
        {"log_history": rows, "global_step": rows[-1]["step"], "max_steps": 200}))
    return folder


def jsonl(path: Path, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def tensorboard(folder: Path, rows) -> Path:
    pytest.importorskip("tensorboard")
    from tfrecord_events import event_file, scalar_event

    events = [scalar_event(row["step"], row[tag], tag) for row in rows for tag in ("loss", "reward")]
    event_file(folder / "events.out.tfevents.1.host", events)
    return folder


WRITERS = {"trainer_state": lambda tmp, rows: trainer_state(tmp / "run", rows),
           "jsonl": lambda tmp, rows: jsonl(tmp / "metrics.jsonl", rows),
           "tensorboard": lambda tmp, rows: tensorboard(tmp / "tb", rows)}


def watched(capsys, path, *options):
    """(exit code, summary object, stderr) of a replay with the default metric: no --metric,
    so the records are held until the choice (the log's end here), then fed."""
    code = main(["watch", str(path), "--format", "jsonl", *options])
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["metric"] == "reward"
    return code, summary, err


@pytest.mark.parametrize("fmt", WRITERS)
def test_a_stop_among_held_records_summarises_the_records_up_to_it(tmp_path, capsys, fmt):
    rows = reward_rows()
    code, summary, err = watched(capsys, WRITERS[fmt](tmp_path, rows), "--stop-on", "overfit")
    stop = summary["step"]
    assert code == 1 and summary["to_stop"] is True and stop < rows[-1]["step"]
    # what analyze says of the same log cut at the stop (failed before: the whole file's
    # 'plateau > improvement > overfit > improvement', checkpoint at step 195)
    cut = WRITERS[fmt](tmp_path / "cut", [row for row in rows if row["step"] <= stop])
    offline = phasewatch.analyze(cut, metric="reward")
    assert summary["phases"] == [p.name for p in offline.phases]
    assert summary["best_step"] == offline.recommended_stop_step <= stop
    assert summary["values"] == stop // 5  # one every 5 steps from step 5
    said = f"the log up to the stop: {' > '.join(summary['phases'])}, checkpoint to keep: " \
           f"step {summary['best_step']}"
    assert said in summary["message"] and said in err and f"up to step {stop};" in err


@pytest.mark.parametrize("fmt", ["trainer_state", "jsonl"])
def test_a_watch_without_a_stop_still_summarises_the_whole_run(tmp_path, capsys, fmt):
    rows = reward_rows()
    path = WRITERS[fmt](tmp_path, rows)
    code, summary, err = watched(capsys, path)
    offline = phasewatch.analyze(path, metric="reward")
    assert code == 0 and "to_stop" not in summary and summary["step"] == rows[-1]["step"]
    assert summary["phases"] == [p.name for p in offline.phases] and len(summary["phases"]) == 4
    assert summary["best_step"] == offline.recommended_stop_step
    assert "; whole run: " in err


@pytest.mark.skipif(not GLAIVE.is_dir(), reason="the real corpus is not built here")
def test_the_glaive_grpo_log_stopped_at_step_80_keeps_step_70(capsys):
    # trial 38b's log: 20 records, the monitor fed 16; steps 85-95 entered the summary
    code, summary, err = watched(capsys, GLAIVE, "--stop-on", "overfit")
    assert code == 1 and summary["step"] == 80 and summary["records"] == 16
    assert summary["finished"] is False  # the file's end is after the stop (true before)
    assert summary["best_step"] == 70 and summary["best_step"] <= summary["step"]
    assert summary["phases"][-1] == "overfit"
    assert "checkpoint to keep: step 85" not in err
