"""A line log rotated while its run went on (`log.1`, `log.2`, `log-YYYYMMDD`) is read from its
oldest part on, by analyze, inspect, a replay and the end of a follow alike (io.rotated)."""

import json
import os
import time

from watch_follower import Follower

from phasewatch.analysis import analyze_run
from phasewatch.io import read_run
from phasewatch.io.rotated import rotated_parts
from phasewatch.live import LiveWatch


def accuracy(step):
    """Rises to 0.80 at step 150, then falls to 0.50 at 400 (the best is in the first half)."""
    return round(0.5 + 0.3 * min(step, 150) / 150 - 0.0012 * max(step - 150, 0)
                 + 0.004 * ((step * 7919) % 11 - 5) / 5, 4)


def lines(steps):
    return "".join(json.dumps({"step": s, "eval/accuracy": accuracy(s)}) + "\n" for s in steps)


def test_a_rotated_log_is_read_from_its_oldest_part_and_says_so(tmp_path):
    log = tmp_path / "metrics.jsonl"
    (tmp_path / "metrics.jsonl.2").write_text(lines(range(10, 110, 10)))
    (tmp_path / "metrics.jsonl.1").write_text(lines(range(110, 210, 10)))
    log.write_text(lines(range(210, 410, 10)))
    run = read_run(log)
    steps = run.series("eval/accuracy").index.tolist()
    assert steps == list(range(10, 410, 10))
    assert any("metrics.jsonl.2, metrics.jsonl.1" in w for w in run.warnings)
    a = analyze_run(run)
    assert a.recommended_stop_step == 150  # alone, the file started at its decline: 210
    assert analyze_run(read_run(tmp_path)).recommended_stop_step == 150  # the folder too


def test_parts_of_a_run_folder_and_a_csv_with_its_header_in_every_part(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"name": "run"}))
    (folder / "metrics.jsonl.1").write_text(lines(range(10, 210, 10)))
    (folder / "metrics.jsonl").write_text(lines(range(210, 410, 10)))
    assert read_run(folder).n_records == 40
    csv = tmp_path / "log.csv"
    rows = lambda steps: "step,eval/accuracy\n" + "".join(f"{s},{accuracy(s)}\n" for s in steps)
    (tmp_path / "log.csv.1").write_text(rows(range(10, 210, 10)))
    csv.write_text(rows(range(210, 410, 10)))
    assert read_run(csv).series("eval/accuracy").index.tolist() == list(range(10, 410, 10))


def test_a_log_just_rotated_without_a_record_yet_is_read_from_its_parts(tmp_path):
    csv = tmp_path / "log.csv"
    (tmp_path / "log.csv.1").write_text(
        "step,eval/accuracy\n" + "".join(f"{s},{accuracy(s)}\n" for s in range(10, 210, 10)))
    csv.write_text("step,eval/accuracy\n")  # the writer's header, no row yet
    run = read_run(csv)
    assert run.n_records == 20 and run.series("eval/accuracy").index[-1] == 200


def test_which_siblings_are_parts(tmp_path):
    log = tmp_path / "train.log"
    for name in ("train.log.1", "train.log.2", "train.log.4", "train.log.3.gz", "train.log_old"):
        (tmp_path / name).write_text("x\n")
    assert [p.name for p in rotated_parts(log)] == ["train.log.2", "train.log.1"]
    dated = tmp_path / "eval.log"
    for name in ("eval.log-20240102", "eval.log-20240101", "eval.log-2024"):
        (tmp_path / name).write_text("x\n")
    assert [p.name for p in rotated_parts(dated)] == ["eval.log-20240101", "eval.log-20240102"]


def test_a_follow_across_a_rotation_ends_on_the_whole_run_as_analyze_reads_it(tmp_path):
    """The follow saw all 40 records; its whole-run answer came from the file at the path
    alone (steps 210-400): 'checkpoint to keep: step 210', 0.08 below the best at 150."""
    log = tmp_path / "metrics.jsonl"
    follower = Follower(log, idle_exit=1.0, stop_on=())
    log.write_text(lines(range(10, 210, 10)))
    time.sleep(0.5)
    os.rename(log, tmp_path / "metrics.jsonl.1")
    with open(log, "w") as fh:
        for s in range(210, 410, 10):
            fh.write(lines([s]))
            fh.flush()
            time.sleep(0.01)
    follower.ends_by_itself(timeout=30)
    result = follower.watch.result
    assert result.n_records == 40
    assert result.best_step == analyze_run(read_run(log)).recommended_stop_step == 150
    replay = LiveWatch(log, stop_on=())
    replayed = list(replay.alerts())
    assert [(a.event, a.step) for a in replayed] == [(a.event, a.step) for a in follower.alerts]
    assert replay.result.best_step == 150


def test_an_empty_part_is_left_out_and_said(tmp_path):
    log = tmp_path / "metrics.jsonl"
    (tmp_path / "metrics.jsonl.2").write_text(lines(range(10, 110, 10)))
    (tmp_path / "metrics.jsonl.1").write_text("")
    log.write_text(lines(range(110, 210, 10)))
    run = read_run(log)
    assert run.n_records == 20
    assert any("metrics.jsonl.1 beside it looks like a rotated part" in w for w in run.warnings)


def test_a_folder_of_a_rotated_log_holds_one_run(tmp_path):
    """A folder of `train.jsonl` and its `train.jsonl.1`: the file is read with its part, so the
    folder holds one run (it held two, the part also analysed alone as a run of its own)."""
    from phasewatch.folders import find_runs

    (tmp_path / "train.jsonl.1").write_text(lines(range(10, 210, 10)))
    (tmp_path / "train.jsonl").write_text(lines(range(210, 410, 10)))
    assert [found.path.name for found in find_runs(tmp_path)] == ["train.jsonl"]
    assert analyze_run(read_run(tmp_path)).recommended_stop_step == 150


def test_every_warning_of_a_joined_log_that_names_a_line_names_its_file(tmp_path):
    """A warning of a log joined from its rotated parts said 'line 4: step counter went back'
    without the file (the joined log has three line 4s), and a bad line of the current file was
    reported without it: each names its file and the line in it."""
    import re

    log = tmp_path / "metrics.jsonl"
    # the oldest part is resumed at its line 8 (back to step 50), the current file at its line 4
    (tmp_path / "metrics.jsonl.2").write_text(lines([10, 20, 30, 40, 50, 60, 70, 50, 60, 70]))
    (tmp_path / "metrics.jsonl.1").write_text(lines(range(80, 110, 10)) + "{not json\n"
                                              + lines(range(110, 210, 10)))
    log.write_text(lines([210, 220, 230, 200, 210, 220]) + "{not json\n" + lines(range(230, 300, 10)))
    run = read_run(log)
    assert run.series("eval/accuracy").index.tolist() == list(range(10, 300, 10))
    went_back = [w for w in run.warnings if "counter went back" in w]
    assert [w.split(": step")[0] for w in went_back] == ["metrics.jsonl.2 line 8",
                                                          "metrics.jsonl line 4"], went_back
    skipped = [w for w in run.warnings if "skipped" in w]
    assert [w.split(": skipped")[0] for w in skipped] == ["metrics.jsonl.1", "metrics.jsonl"]
    assert "(line 4;" in skipped[0] and "(line 7;" in skipped[1], skipped
    for warning in run.warnings:
        if re.search(r"\blines? \d", warning):
            assert warning.startswith(("metrics.jsonl.2", "metrics.jsonl.1", "metrics.jsonl")), warning
