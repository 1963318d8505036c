"""The commands and readers as a new user meets them: a mistyped `watch --metric`, a log its
writer rewrites whole, an SQLite store locked or cut short, TensorBoard's float32, UTF-16 logs,
a last line cut mid-value, reader warnings in `analyze` / `changepoints`, `plot` with
analyze's options, an unlistable folder, a CSV column named twice, the two bests at the end of
a watch. Each test reproduces a defect found by using the commands and fails without its fix."""

from __future__ import annotations

import json

import pytest
from test_watch import ROOT

from phasewatch.cli import main
from phasewatch.errors import UsageError
from phasewatch.live import LiveWatch

DEMO = ROOT / "sample_logs" / "demo"


def small_run(tmp_path, n=60):
    """A JSONL run with held-out accuracy and the expert NLL pair (which the monitor also
    follows, so a watch on a metric that does not exist still has something to alert on)."""
    path = tmp_path / "metrics.jsonl"
    rows = [json.loads(line) for line in (DEMO / "metrics.jsonl").read_text().splitlines()]
    with path.open("w") as fh:
        for row in rows[: n * 10 : 10]:
            fh.write(json.dumps(row) + "\n")
    return path


def test_replay_with_a_metric_the_log_does_not_have_is_a_usage_error_not_other_alerts(tmp_path):
    # Was: exit 0, "nope: phase overfit" from the expert-NLL signal, only a warning that the
    # metric does not exist; analyze refuses the same --metric with exit 2.
    watch = LiveWatch(DEMO, metric="eval/acuracy", notice=lambda m: None, info=lambda m: None)
    with pytest.raises(UsageError, match="no metric 'eval/acuracy'.*eval/accuracy"):
        list(watch.alerts())


def test_cli_watch_mistyped_metric_exits_2_naming_the_metrics_that_exist(capsys):
    code = main(["watch", str(DEMO), "--metric", "eval/acuracy"])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert out == ""  # no alert on another metric
    assert "no metric 'eval/acuracy'" in err and "eval/accuracy" in err
    assert err.count("no metric 'eval/acuracy'") == 1  # the error, not a warning and an error


def test_replay_with_a_metric_under_its_alias_still_runs(tmp_path):
    path = small_run(tmp_path)
    watch = LiveWatch(path, metric="eval/accuracy", notice=lambda m: None, info=lambda m: None)
    list(watch.alerts())
    assert watch.result.metric == "eval/accuracy" and watch.result.n_records == 60


def test_csv_rewritten_whole_with_a_new_column_alerts_once_as_its_replay(tmp_path):
    # Lightning's CSVLogger rewrites the whole file (new header) when a new metric appears.
    # Was: the follower re-read it from the top, the monitor rewound to step 0 and printed the
    # disruption and readaptation alerts a second time (follow 5 alerts, replay 3).
    from watch_follower import Follower, eval_curve, replay

    curve = eval_curve()
    half = len(curve) // 2
    path = tmp_path / "metrics.csv"
    follower = Follower(path, stop_on=(), idle_exit=1.0)
    follower.wait_for_message("does not exist yet")
    path.write_text("step,eval_accuracy\n" + "".join(f"{s},{a}\n" for s, a in curve[:half]))
    follower.wait_for_message("caught up")
    assert len(follower.alerts) >= 2  # the first half has phases already
    path.write_text("step,eval_accuracy,train_loss\n"
                    + "".join(f"{s},{a},{1 / (s + 1):.5f}\n" for s, a in curve))
    followed = follower.ends_by_itself()
    replayed, _ = replay(path, stop_on=())
    assert len(replayed) >= 3
    assert followed == replayed


def test_a_file_rewritten_while_its_lines_are_being_used_is_read_again_from_the_top(tmp_path):
    # Was: lines of the rewritten file read on from the old position under the old CSV header
    # ("3 cells where the header has 2" for 115 lines) when the rewrite came while the monitor
    # was busy with the lines of the first 64 KiB.
    from phasewatch.follow import CHUNK, NEW_FILE, LineTail

    path = tmp_path / "log.csv"
    old = [f"old,{i:08d}," + "x" * 30 for i in range(3 * CHUNK // 40)]
    new = [f"new,{i:08d},yy," + "x" * 30 for i in range(4 * CHUNK // 40)]
    path.write_text("\n".join(old) + "\n")
    tail = LineTail(path, follow=True)
    lines = tail.read()
    got = [next(lines)]
    path.write_text("\n".join(new) + "\n")  # the same inode, rewritten whole and longer
    got += list(lines) + list(tail.read())
    restart = got.index(NEW_FILE)
    assert all(text.startswith("old,") for _, text in got[:restart])
    assert [text for _, text in got[restart + 1:]] == new
    tail.close()


def mlflow_shaped_store(path, rows=2000):
    import sqlite3

    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE runs (run_uuid TEXT, name TEXT, status TEXT)")
        conn.execute("CREATE TABLE metrics (key TEXT, value REAL, timestamp INT, step INT, "
                     "run_uuid TEXT)")
        conn.execute("INSERT INTO runs VALUES ('a' || hex(randomblob(15)), 'sft', 'FINISHED')")
        conn.executemany("INSERT INTO metrics VALUES ('eval/accuracy', ?, 0, ?, "
                         "(SELECT run_uuid FROM runs))", [(i / rows, i) for i in range(rows)])
    return path


def test_a_half_written_sqlite_store_is_called_damaged_not_an_unknown_binary(tmp_path, capsys):
    # Was: "binary content that is not a known log format", which sends a user looking for a
    # format problem in a file that is an MLflow store cut short.
    db = mlflow_shaped_store(tmp_path / "mlflow.db")
    assert main(["inspect", str(db)]) == 0
    cut = tmp_path / "cut.db"
    cut.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    capsys.readouterr()
    assert main(["analyze", str(cut)]) == 3
    err = capsys.readouterr().err
    assert str(cut) in err and "damaged or cut short" in err and "Traceback" not in err


def test_a_locked_sqlite_store_is_waited_for_once_and_called_locked(tmp_path, capsys, monkeypatch):
    # Was: each store reader's sniff waited out the lock (4 x 10 s), then "binary content that
    # is not a known log format".
    import sqlite3
    import time

    from phasewatch.io import sqlite_ro

    monkeypatch.setattr(sqlite_ro, "BUSY_SECONDS", 0.5)
    db = mlflow_shaped_store(tmp_path / "mlflow.db")
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        start = time.monotonic()
        code = main(["analyze", str(db)])
        took = time.monotonic() - start
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    err = capsys.readouterr().err
    assert code == 3 and str(db) in err and "locked" in err and "committed" in err, err
    assert took < 4 * 0.5, took


def test_tensorboard_gives_the_numbers_the_jsonl_of_the_same_run_gives(tmp_path, capsys):
    # Was: TensorBoard's float32 read as its exact value, so `inspect` / `analyze --format
    # json` said first 0.5460000038146973 and baseline 0.5460000038146973 where the JSONL of
    # the same run says 0.546.
    pytest.importorskip("tensorboard")
    from tfrecord_events import event_file, scalar_event

    from phasewatch.io import read_run

    values = [0.546, 0.53, 0.022, 0.1, 0.35, 0.671999, 0.796, 0.7, 0.65, 0.6, 0.61, 0.59]
    jsonl = tmp_path / "run.jsonl"
    jsonl.write_text("".join(json.dumps({"step": 10 * i, "eval/accuracy": v}) + "\n"
                             for i, v in enumerate(values)))
    event_file(tmp_path / "tb" / "events.out.tfevents.1.host",
               [scalar_event(10 * i, v, "eval/accuracy") for i, v in enumerate(values)])
    from tensorboard.summary import Writer  # TF2 scalars: a float32 tensor

    writer = Writer(str(tmp_path / "tb2"))
    for i, v in enumerate(values):
        writer.add_scalar("eval/accuracy", v, step=10 * i)
    writer.close()
    expected = read_run(jsonl).series("eval/accuracy").tolist()
    assert read_run(tmp_path / "tb").series("eval/accuracy").tolist() == expected
    assert read_run(tmp_path / "tb2").series("eval/accuracy").tolist() == expected
    docs = []
    for path in (jsonl, tmp_path / "tb"):
        assert main(["inspect", str(path), "--format", "json"]) == 0
        docs.append(json.loads(capsys.readouterr().out)["metrics"])
    assert docs[0] == docs[1]


def test_a_followed_store_locked_longer_than_the_busy_wait_is_read_on_after(tmp_path, monkeypatch):
    # Was: the watch ended with exit 3 ("the database stayed locked by its writer") the first
    # time a commit held the store longer than the busy wait.
    import sqlite3
    import threading
    import time

    from phasewatch.io import sqlite_ro

    monkeypatch.setattr(sqlite_ro, "BUSY_SECONDS", 0.2)
    db = mlflow_shaped_store(tmp_path / "mlflow.db", rows=50)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET status = 'RUNNING'")
    messages: list[str] = []
    watch = LiveWatch(db, follow=True, poll=0.02, idle_exit=3.0, notice=messages.append,
                      info=messages.append)
    failed: list[BaseException] = []

    def follow():
        try:
            list(watch.alerts())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            failed.append(exc)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not any("caught up" in m for m in messages) and time.monotonic() < deadline:
        time.sleep(0.02)
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    writer.executemany("INSERT INTO metrics VALUES ('eval/accuracy', ?, 0, ?, "
                       "(SELECT run_uuid FROM runs))", [(0.5, 50 + i) for i in range(10)])
    time.sleep(1.0)  # five busy waits
    writer.execute("COMMIT")
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET status = 'FINISHED'")
    thread.join(20)
    assert not failed, failed
    assert not thread.is_alive()
    assert watch.result.reason == "finished" and watch.result.n_records == 60
    assert sum("stayed locked" in m for m in messages) == 1, messages


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_log_says_so_and_how_to_convert_it(tmp_path, capsys, encoding):
    # Was: "binary content that is not a known log format" for a log redirected to a file by
    # Windows PowerShell (UTF-16, with or without a byte-order mark).
    path = tmp_path / "train.log"
    path.write_text("".join(json.dumps({"step": i, "eval/accuracy": 0.5}) + "\n"
                            for i in range(20)), encoding=encoding)
    for command in ("inspect", "analyze", "watch"):
        assert main([command, str(path)]) == 3
        err = capsys.readouterr().err
        assert str(path) in err and "UTF-16" in err and "iconv" in err, err


def accuracy_rows(n=120):
    """(step, accuracy) of a run that rises and saturates near 0.95."""
    return [(10 * i, round(0.55 + 0.4 * (1 - 0.97 ** i) + 0.004 * ((-1) ** i), 4))
            for i in range(n)]


def test_a_csv_cut_mid_number_is_not_read_as_a_collapse_to_zero(tmp_path, capsys):
    # Was: '1190,0.' (cut from 0.95) read as 0 with a warning: analyze called the run
    # "overfit 0.956 -> 0 (-152 sd)". A cut JSONL line was already left out.
    rows = accuracy_rows()
    path = tmp_path / "metrics.csv"
    path.write_text("step,eval/accuracy\n" + "".join(f"{s},{v}\n" for s, v in rows[:-1])
                    + f"{rows[-1][0]},0.")
    assert main(["analyze", str(path), "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert [p["name"] for p in run["phases"]] != [] and "overfit" not in [
        p["name"] for p in run["phases"]]
    assert run["phases"][-1]["end_step"] == rows[-2][0]
    assert any("line 121" in w and "ends mid-value" in w for w in run["warnings"]), run


def test_a_last_line_without_newline_is_read_when_whole_and_left_out_when_cut(tmp_path):
    # Was read with a warning, then left out even whole, as '2000,0' cut from '2000,0.6534'
    # looks whole too (trial 28); now read where it looks whole (a writer that puts the newline
    # before each row, as Flair does), left out where it shows the cut: '190,0' in a column of
    # 0.xxxx (`cut_line.cut_reason`), and read once its line end is added.
    from phasewatch.io import read_run

    rows = accuracy_rows(20)
    path = tmp_path / "metrics.csv"
    text = "step,eval/accuracy\n" + "\n".join(f"{s},{v}" for s, v in rows)
    path.write_text(text)
    run = read_run(path)
    assert run.series("eval/accuracy").tolist() == [v for _, v in rows]
    assert not [w for w in run.warnings if "newline" in w], run.warnings
    path.write_text(text[:-len(str(rows[-1][1])) + 1])
    run = read_run(path)
    assert run.series("eval/accuracy").tolist() == [v for _, v in rows[:-1]]
    assert any("left out" in w and "add its line end" in w for w in run.warnings), run.warnings
    with open(path, "a") as fh:
        fh.write("\n")
    assert read_run(path).series("eval/accuracy").tolist() == [v for _, v in rows[:-1]] + [0]


def test_analyze_reports_what_the_reader_skipped(tmp_path, capsys):
    # Was: a garbage line, a cut last line or a resume was said by `inspect` and `plot` but
    # not by `analyze` (text, JSON) nor `phasewatch.analyze`: the analysis looked complete.
    import phasewatch

    rows = accuracy_rows(60)
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": s, "eval/accuracy": v}) for s, v in rows]
    lines.insert(30, "{garbage")
    path.write_text("\n".join(lines) + "\n")
    assert main(["analyze", str(path)]) == 0
    assert "line 31" in capsys.readouterr().out
    assert main(["analyze", str(path), "--format", "json"]) == 0
    warnings = json.loads(capsys.readouterr().out)["runs"][0]["warnings"]
    assert any("line 31" in w and "skipped" in w for w in warnings), warnings
    assert any("line 31" in w for w in phasewatch.analyze(path).warnings)


def figure_phases(data_csv):
    import csv

    with open(data_csv, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["kind"].startswith("phase:")]
    return [(r["kind"].split(":", 1)[1], int(r["step"]), int(r["end_step"])) for r in rows]


@pytest.mark.slow
def test_plot_takes_the_options_analyze_finds_its_phases_with(tmp_path, capsys):
    # Was: `plot` had no --keep-outliers / --penalty / --baseline, so a figure could not show
    # the phases `analyze --keep-outliers --penalty P` found (and marked as an outlier the
    # value the analysis kept).
    rl = ROOT / "sample_logs" / "rl"
    options = ["--keep-outliers", "--penalty", "50"]
    assert main(["analyze", str(rl), *options, "--format", "json"]) == 0
    phases = [(p["name"], p["start_step"], p["end_step"])
              for p in json.loads(capsys.readouterr().out)["runs"][0]["phases"]]
    data = tmp_path / "fig.csv"
    assert main(["plot", str(rl), *options, "-o", str(tmp_path / "fig.png"),
                 "--data", str(data)]) == 0
    assert figure_phases(data) == phases
    assert "outlier" not in data.read_text()
    assert main(["plot", str(rl), "-o", str(tmp_path / "plain.png"),
                 "--data", str(tmp_path / "plain.csv")]) == 0
    assert "outlier" in (tmp_path / "plain.csv").read_text()  # step 210, left out by default


def test_changepoints_reports_what_the_reader_skipped_in_both_front_ends(tmp_path, capsys):
    # Was: the reader's warnings were left out, and the command and phasewatch.changepoints
    # were two implementations of the same alignment (numpy / pandas).
    import phasewatch

    rows = accuracy_rows(60)
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps({"step": s, "eval/accuracy": v, "train/loss": 1 / (s + 1)})
             for s, v in rows]
    lines.insert(30, "{garbage")
    path.write_text("\n".join(lines) + "\n")
    assert main(["changepoints", str(path), "--metric", "eval/accuracy", "--metric",
                 "train/loss", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert any("line 31" in w for w in doc["warnings"]), doc["warnings"]
    api = phasewatch.changepoints(path, ["eval/accuracy", "train/loss"])
    assert {**api, "schema_version": 1} == doc


def test_an_unlistable_folder_is_named_not_a_file_looked_for_inside_it():
    # Was: "run/metrics.jsonl: cannot read: Permission denied" for a folder holding
    # train_log.jsonl: the error named a file that does not exist.
    import shutil
    import tempfile
    from pathlib import Path

    from hostile_inputs import as_unprivileged

    root = Path(tempfile.mkdtemp(prefix="pw-perm-"))
    try:
        root.chmod(0o755)
        folder = root / "run"
        folder.mkdir()
        (folder / "train_log.jsonl").write_text('{"step": 1, "loss": 1.0}\n')
        folder.chmod(0)
        for command in ("inspect", "watch"):  # (analyze and plot find runs the same way)
            result = as_unprivileged([command, str(folder)])
            assert result.returncode == 3, result.stderr
            assert f"{folder}: cannot list this folder: Permission denied" in result.stderr
            assert "metrics.jsonl" not in result.stderr and "Traceback" not in result.stderr
    finally:
        root.joinpath("run").chmod(0o755)
        shutil.rmtree(root)


def test_a_csv_header_naming_a_column_twice_says_which_one_is_read(tmp_path):
    # Was: the first 'acc' column silently lost (0.5, 0.55 never read).
    from phasewatch.io import read_run

    path = tmp_path / "m.csv"
    path.write_text("step,acc,acc\n1,0.5,0.6\n2,0.55,0.65\n")
    run = read_run(path)
    assert run.series("acc").tolist() == [0.6, 0.65]
    assert any("acc more than once" in w and "last" in w for w in run.warnings), run.warnings


def test_an_mlflow_file_store_line_cut_mid_write_is_not_a_value_at_step_0(tmp_path):
    # Was: '1700000000900 0.95' (cut from '... 0.95 90') read as a value at step 0 (old
    # stores omit the step), '1700000000900 0.' as 0.0 at step 0.
    from phasewatch.io import read_run

    for cut in ("1700000000900 0.95", "1700000000900 0."):
        run_dir = tmp_path / cut.replace(" ", "_") / "0" / "abc123"
        (run_dir / "metrics" / "eval").mkdir(parents=True)
        (run_dir / "meta.yaml").write_text("run_id: abc123\nstatus: 3\n")
        lines = [f"{1700000000000 + 100 * i} {0.5 + i / 100} {10 * i}" for i in range(9)]
        (run_dir / "metrics" / "eval" / "accuracy").write_text("\n".join([*lines, cut]))
        run = read_run(run_dir)
        series = run.series("eval/accuracy")
        assert series.index.tolist() == [10 * i for i in range(9)], cut
        assert any("skipped 1 metric lines" in w for w in run.warnings), run.warnings


def test_a_semicolon_csv_with_decimal_commas_is_read(tmp_path):
    # Was: "unknown log format" for a spreadsheet saved where the decimal mark is a comma.
    from phasewatch.io import read_run

    path = tmp_path / "export.csv"
    path.write_text("step;eval/accuracy;note\n0;0,546;a,b\n10;0,5;\n20;1,5e-1;x\n")
    run = read_run(path)
    assert run.format == "csv"
    assert run.series("eval/accuracy").tolist() == [0.546, 0.5, 0.15]


def test_the_end_of_a_watch_names_the_live_best_apart_from_the_checkpoint_to_keep(tmp_path, capsys):
    # A 6-point train loss falling to its last value. The line said "best step 2500; ...
    # checkpoint to keep: step 3000", two bests for one run: the monitor's best was its smoothed
    # level's centre. It is now the best evaluation in that level's window, the last one, and
    # the line says which best is the monitor's (without hindsight) and which the whole run's.
    path = tmp_path / "loss.jsonl"
    losses = [0.474, 0.21, 0.09, 0.041, 0.019, 0.0081]
    path.write_text("".join(json.dumps({"step": 500 * (k + 1), "train/loss": v}) + "\n"
                            for k, v in enumerate(losses)))
    assert main(["watch", str(path), "--metric", "train/loss"]) == 0
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "checkpoint to keep: step 3000" in last
    assert "live best at step 3000" in last and "best step" not in last
    assert "without hindsight" not in last  # the two agree: nothing to tell apart


def test_a_live_best_other_than_the_checkpoint_to_keep_is_said_to_be_the_monitors(tmp_path, capsys):
    """Trials 38b, 38c: "live best at step 70" beside "checkpoint to keep: step 85" read as two
    rival answers; the monitor's (decided without hindsight) says so where they differ."""
    from phasewatch.live_result import WatchResult

    result = WatchResult(metric="reward", last_step=100, best_step=85, live_best_step=70,
                         phases=["improvement"])
    assert "live best at step 70 (the monitor's, without hindsight); " in result.to_dict()["message"]
