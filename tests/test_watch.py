"""`phasewatch watch`: replay, follow (identical alerts), exit codes, stop file, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import phasewatch
from phasewatch.cli import main

KEYS = ["event", "step", "onset_step", "best_step", "metric", "value", "message"]
ROOT = Path(__file__).resolve().parents[1]


def curve_records(n=300, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=float)
    acc = 0.5 - 0.15 * np.exp(-(((t - 40) / 15) ** 2)) + 0.25 / (1 + np.exp(-(t - 100) / 10))
    acc = acc - np.where(t > 180, 0.15 * (t - 180) / (n - 180), 0.0) + rng.normal(0, 0.01, n)
    records = []
    for i in range(n):
        records.append({"step": i * 10, "train/loss": round(2.0 / (i + 1), 6)})
        records.append({"step": i * 10, "eval/accuracy": round(float(acc[i]), 6)})
    return records


def write_run(folder: Path, records, meta=True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "metrics.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(record) + "\n" for record in records)
    if meta:
        (folder / "run.json").write_text(json.dumps({
            "schema_version": 1, "name": "t", "performance_metric": "eval/accuracy",
            "direction": "max"}), encoding="utf-8")
    return folder


def split_jsonl(out):
    """(alerts, summary): `--format jsonl` ends with one summary object."""
    objects = [json.loads(line) for line in out.splitlines()]
    assert objects and objects[-1]["event"] == "summary", objects[-1:]
    return objects[:-1], objects[-1]


def run_cli(capsys, *argv):
    code = main(["watch", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_replay_jsonl_contract(tmp_path, capsys):
    run = write_run(tmp_path / "run", curve_records())
    code, out, err = run_cli(capsys, run, "--format", "jsonl")
    assert code == 0
    alerts, summary = split_jsonl(out)
    assert [list(a) for a in alerts] == [KEYS] * len(alerts)
    events = [a["event"] for a in alerts]
    assert events[:2] == ["disruption", "readaptation"] and "overfit" in events
    assert all(a["metric"] == "eval/accuracy" for a in alerts)
    assert "watched 600 records" in err
    assert summary["phase"] == "overfit" and summary["metric"] == "eval/accuracy"
    assert summary["live_best_step"] == alerts[-1]["best_step"] and summary["records"] == 600
    # at the end, one answer with `analyze`: its phases and its checkpoint
    from phasewatch import analyze

    offline = analyze(run)
    assert summary["best_step"] == offline.recommended_stop_step
    assert summary["phases"] == [p.name for p in offline.phases]


def test_text_output_and_metric_and_direction_options(tmp_path, capsys):
    records = [{"step": r["step"], "eval/error": round(1 - r["eval/accuracy"], 6)}
               for r in curve_records() if "eval/accuracy" in r]
    run = write_run(tmp_path / "run", records, meta=False)
    code, out, _ = run_cli(capsys, run / "metrics.jsonl", "--metric", "eval/error")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("step ") and "disruption" in lines[0] and "eval/error=" in lines[0]
    # the name says nothing about direction: forcing the wrong one mirrors the phases
    code, out_max, _ = run_cli(capsys, run / "metrics.jsonl", "--metric", "eval/error",
                               "--direction", "max", "--format", "jsonl")
    assert split_jsonl(out_max)[0][0]["event"] == "improvement"


def test_stop_on_exits_1_and_creates_the_stop_file(tmp_path, capsys):
    run = write_run(tmp_path / "run", curve_records())
    stop_file = tmp_path / "flags" / "STOP"
    code, out, _ = run_cli(capsys, run, "--format", "jsonl", "--stop-on", "overfit",
                           "--stop-file", stop_file)
    assert code == 1
    alerts, _ = split_jsonl(out)
    assert alerts[-1]["event"] == "overfit"  # watching ends at the stop condition
    assert json.loads(stop_file.read_text()) == alerts[-1]
    assert [p.name for p in stop_file.parent.iterdir()] == ["STOP"]  # no temp file left
    code, _, _ = run_cli(capsys, run, "--stop-on", "improvement")
    assert code == 0  # never entered: exit 0


def test_bad_lines_mid_stream_are_skipped_with_file_and_line(tmp_path, capsys):
    records = curve_records()
    run = write_run(tmp_path / "run", records)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    lines.insert(100, '{"step": 500, "eval/accuracy": 0.5')  # line 101: cut JSON
    lines.insert(200, "garbage")  # line 201
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    code, out, err = run_cli(capsys, run, "--format", "jsonl")
    assert code == 0
    assert f"{run / 'metrics.jsonl'}:101: skipped" in err
    assert f"{run / 'metrics.jsonl'}:201: skipped" in err
    clean = write_run(tmp_path / "clean", records)
    _, out_clean, _ = run_cli(capsys, clean, "--format", "jsonl")
    assert out == out_clean


def test_a_metric_that_never_appears_is_reported_once(tmp_path, capsys):
    run = write_run(tmp_path / "run", curve_records())
    code, out, err = run_cli(capsys, run, "--metric", "eval/acc_typo")
    assert code == 2 and out == ""  # the whole log is read: a usage error, as analyze gives
    assert err.count("no metric 'eval/acc_typo'") == 1
    assert "eval/accuracy" in err and "train/loss" in err


def test_nan_values_are_missing_or_stop_with_check_finite(tmp_path, capsys):
    records = curve_records()
    records[21]["eval/accuracy"] = float("nan")  # step 100
    run = write_run(tmp_path / "run", records)
    code, out, _ = run_cli(capsys, run, "--format", "jsonl")
    assert code == 0 and "non_finite" not in out
    code, out, _ = run_cli(capsys, run, "--format", "jsonl", "--check-finite")
    assert code == 1
    last = split_jsonl(out)[0][-1]
    assert last["event"] == "non_finite" and last["step"] == 100 and last["value"] is None


def test_missing_file_is_exit_3_and_trainer_state_is_followed(tmp_path, capsys):
    code, _, err = run_cli(capsys, tmp_path / "nope.jsonl")
    assert code == 3 and "nope.jsonl" in err and "no such file" in err
    state = tmp_path / "trainer_state.json"
    state.write_text(json.dumps({"log_history": [
        {"step": i, "eval_accuracy": 0.5} for i in range(1, 30)], "global_step": 29}))
    code, _, err = run_cli(capsys, state, "--follow", "--idle-exit", "0.2", "--poll", "0.02")
    assert code == 0 and "watched 29 records" in err and "idle" in err
    code, _, err = run_cli(capsys, state)  # replayed
    assert code == 0 and "watched 29 records" in err


def test_csv_log_is_streamed(tmp_path, capsys):
    rows = [r for r in curve_records() if "eval/accuracy" in r]
    path = tmp_path / "log.csv"
    path.write_text("step,eval_accuracy\n" + "".join(
        f"{r['step']},{r['eval/accuracy']}\n" for r in rows))
    code, out, _ = run_cli(capsys, path, "--format", "jsonl")
    events = [a["event"] for a in split_jsonl(out)[0]]
    assert code == 0 and events[:2] == ["disruption", "readaptation"]


# ------------------------------------------------------------------ follow (subprocesses)
class Watch:
    """`phasewatch watch ...` in a subprocess, its stdout and stderr lines collected as they
    come, so a test can wait for what it prints instead of guessing with sleeps."""

    def __init__(self, *argv):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "phasewatch", "watch", *map(str, argv)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.out: list[str] = []
        self.err: list[str] = []
        self.readers = [threading.Thread(target=lambda s=s, b=b: b.extend(iter(s.readline, "")))
                        for s, b in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self.readers:
            reader.start()

    def wait_for_err(self, text, timeout=60.0):
        assert _wait_for(lambda: any(text in line for line in self.err), timeout), self.err

    def wait_for_out_lines(self, n, timeout=60.0):
        assert _wait_for(lambda: len(self.out) >= n, timeout), self.out

    def end(self, sig=None, timeout=30):
        if sig is not None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=timeout)
        for reader in self.readers:
            reader.join(timeout=timeout)
        return self.proc.returncode, "".join(self.out), "".join(self.err)


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_follow_gives_exactly_the_replay_alerts_and_ends_on_sigint(tmp_path, capsys):
    records = curve_records()
    whole = write_run(tmp_path / "whole", records)
    _, replayed, _ = run_cli(capsys, whole, "--format", "jsonl")
    live = write_run(tmp_path / "live", [])
    watch = Watch(live, "--follow", "--format", "jsonl", "--poll", "0.02")
    watch.wait_for_err("following")  # up and caught up with the empty file
    text = "".join(json.dumps(r) + "\n" for r in records)
    with open(live / "metrics.jsonl", "a", encoding="utf-8") as fh:
        for start in range(0, len(text), 997):  # pieces that cut lines anywhere
            fh.write(text[start:start + 997])
            fh.flush()
            time.sleep(0.002)
    watch.wait_for_out_lines(len(replayed.splitlines()) - 1)  # the summary comes at the end
    time.sleep(0.5)  # nothing more may come
    code, out, err = watch.end(signal.SIGINT)
    assert code == 0, err
    assert out == replayed
    assert "watched 600 records" in err


def test_follow_ends_with_exit_1_on_the_stop_condition_and_sigterm_is_clean(tmp_path):
    run = write_run(tmp_path / "run", curve_records())
    code, out, _ = Watch(run, "--follow", "--stop-on", "overfit", "--poll", "0.02").end()
    assert code == 1 and "overfit" in out

    idle = write_run(tmp_path / "idle", curve_records()[:50])
    watch = Watch(idle, "--follow", "--poll", "0.02")
    watch.wait_for_err("following")
    code, _, err = watch.end(signal.SIGTERM)
    assert code == 0 and "Traceback" not in err


def test_follow_warns_about_a_missing_metric_when_caught_up(tmp_path):
    run = write_run(tmp_path / "run", curve_records()[:40])
    watch = Watch(run, "--follow", "--metric", "eval/nope", "--poll", "0.02")
    watch.wait_for_err("no metric 'eval/nope'")
    code, _, err = watch.end(signal.SIGINT)
    assert code == 0 and err.count("no metric 'eval/nope'") == 1


def test_run_json_events_are_known_boundaries(tmp_path, capsys):
    rng = np.random.default_rng(11)
    t = np.arange(300)
    acc = np.where(t < 100, 0.3 + 0.3 * t / 100, 0.6)
    after = 0.6 - 0.2 * np.exp(-(t - 150) / 10) + 0.15 * (t - 150) / 150
    acc = np.where(t >= 150, after, acc) + rng.normal(0, 0.01, t.size)
    records = [{"step": int(i), "eval/accuracy": round(float(v), 6)} for i, v in zip(t, acc)]
    plain = write_run(tmp_path / "plain", records)
    _, out, _ = run_cli(capsys, plain, "--format", "jsonl")
    assert "overfit" in [a["event"] for a in split_jsonl(out)[0]]
    switched = write_run(tmp_path / "switched", records)
    meta = json.loads((switched / "run.json").read_text())
    meta["events"] = [{"step": 149, "name": "sft_to_rl"}]  # the last SFT step (contracts.md)
    (switched / "run.json").write_text(json.dumps(meta))
    _, out, _ = run_cli(capsys, switched, "--format", "jsonl")
    events = [a["event"] for a in split_jsonl(out)[0]]
    assert "overfit" not in events and "disruption" in events
    # only a change of training stage restarts the phases, as in analyze
    meta["events"] = [{"step": 149, "name": "epoch_boundary"}]
    (switched / "run.json").write_text(json.dumps(meta))
    _, out_epoch, _ = run_cli(capsys, switched, "--format", "jsonl")
    _, out_plain, _ = run_cli(capsys, plain, "--format", "jsonl")
    assert split_jsonl(out_epoch)[0] == split_jsonl(out_plain)[0]


def test_verl_console_log_is_followed_like_it_is_replayed(tmp_path, capsys):
    """A verl console log: Ray prefixes, colour codes, config dumps and tqdm lines in between."""
    rows = [r for r in curve_records() if "eval/accuracy" in r]
    lines = ["config: {'trainer': {'total_epochs': 1}}"]
    for r in rows:
        lines.append(f"\x1b[36m(TaskRunner pid=42)\x1b[0m step:{r['step']} - "
                     f"val-core/gsm8k/acc/mean@1:{r['eval/accuracy']} - actor/entropy:0.5")
        lines.append("Training Progress:  10%|#         | 1/10 [00:01<00:09]")
    path = tmp_path / "train.log"
    path.write_text("\n".join(lines) + "\n")
    code, out, err = run_cli(capsys, path, "--format", "jsonl")
    events, _ = split_jsonl(out)
    assert code == 0 and [e["event"] for e in events][:2] == ["disruption", "readaptation"]
    # found through the presets, named as the log names it (issue #13)
    assert events[0]["metric"] == "val-core/gsm8k/acc/mean@1"
    live = tmp_path / "live.log"
    live.write_text("")
    watch = Watch(live, "--follow", "--format", "jsonl", "--poll", "0.02",
                  "--metric", "val-core/gsm8k/acc/mean@1")
    watch.wait_for_err("no recognisable records yet")
    text = path.read_text()
    with open(live, "a", encoding="utf-8") as fh:
        for start in range(0, len(text), 4001):
            fh.write(text[start:start + 4001])
            fh.flush()
            time.sleep(0.01)
    watch.wait_for_out_lines(len(events))
    time.sleep(0.5)
    code, followed, err = watch.end(signal.SIGINT)
    assert code == 0, err
    replayed, _ = split_jsonl(followed)
    assert [(e["event"], e["step"]) for e in replayed] == [(e["event"], e["step"]) for e in events]


def test_bad_stop_on_is_a_usage_error(tmp_path, capsys):
    run = write_run(tmp_path / "run", curve_records()[:10])
    with pytest.raises(SystemExit) as info:
        main(["watch", str(run), "--stop-on", "overfitting"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_library_options_are_checked_before_reading(tmp_path, capsys):
    """LiveWatch rejects bad options itself (a notebook gets the same errors as the command),
    before touching the path; the command names its flag."""
    from phasewatch.errors import UsageError
    from phasewatch.live import LiveWatch

    missing = tmp_path / "not-there"
    for options in ({"idle_exit": -1}, {"warmup": -3}, {"stop_on": ["overfitting"]}):
        with pytest.raises(UsageError):
            LiveWatch(missing, follow=True, **options)
    assert main(["watch", str(missing), "--follow", "--idle-exit", "-1"]) == 2
    assert "--idle-exit must be >= 0" in capsys.readouterr().err


def test_importing_the_live_watch_stays_light():
    code = ("import sys, phasewatch.live; "
            "print(sorted(m for m in ('pandas', 'numpy', 'phasewatch.run') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout
    assert out.strip() == "[]"


def test_the_core_does_not_import_the_frameworks():
    code = ("import sys, phasewatch.online, phasewatch.alerts, phasewatch.follow, "
            "phasewatch.commands.watch, phasewatch.callbacks; "
            "print(sorted(m for m in ('torch', 'transformers', 'lightning') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout
    assert out.strip() == "[]"


def test_follow_waits_for_an_empty_file_to_get_records(tmp_path):
    live = tmp_path / "train.jsonl"
    live.write_text("")
    watch = Watch(live, "--follow", "--format", "jsonl", "--poll", "0.02",
                  "--metric", "eval/accuracy")
    # said as the replay would say it at the end (not "the first line is not complete yet")
    watch.wait_for_err("no recognisable records yet (the file is empty)")
    rows = [r for r in curve_records() if "eval/accuracy" in r]
    live.write_text("".join(json.dumps(r) + "\n" for r in rows))
    watch.wait_for_err("following")
    code, out, err = watch.end(signal.SIGINT)
    assert code == 0, err
    assert [a["event"] for a in split_jsonl(out)[0]][:2] == ["disruption", "readaptation"]


def test_the_summary_counts_the_watched_metrics_values_the_same_in_any_layout(tmp_path, capsys):
    """Rows are counted as the format stores them (trial 29: 100, 150 and 151 records for the
    same data); the values of the watched metric are the same count whatever the layout."""
    records = curve_records(60)
    merged = {}
    for r in records:
        merged.setdefault(r["step"], {}).update(r)
    counts = {}
    for name, rows in (("apart", records), ("merged", list(merged.values()))):
        path = write_run(tmp_path / name, rows, meta=False) / "metrics.jsonl"
        assert main(["watch", str(path), "--format", "jsonl"]) == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        counts[name] = (summary["records"], summary["values"])
    assert counts == {"apart": (120, 60), "merged": (60, 60)}


def test_a_stopped_replay_summarises_the_log_up_to_the_stop(tmp_path, capsys):
    # trial 33: a replay stopped by --stop-on gave the whole file's phases and checkpoint in its
    # summary, one past the stop (and, on a resumed log, the other branch's)
    run = write_run(tmp_path / "run", curve_records())
    code, out, err = run_cli(capsys, run, "--format", "jsonl", "--stop-on", "disruption")
    assert code == 1
    summary = split_jsonl(out)[1]
    stop = summary["step"]
    assert summary["to_stop"] is True and stop < 1000
    assert summary["best_step"] <= stop and "readaptation" not in summary["phases"]
    assert "the log up to the stop: " in err and "whole run" not in err
    # analyze of the same records gives the same answer
    cut = tmp_path / "cut.jsonl"
    lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    cut.write_text("".join(line for line in lines if json.loads(line)["step"] <= stop))
    offline = phasewatch.analyze(cut)
    assert [p.name for p in offline.phases] == summary["phases"]
    assert offline.recommended_stop_step == summary["best_step"]
    # run to the end: the whole run, as before
    code, out, err = run_cli(capsys, run, "--format", "jsonl")
    summary = split_jsonl(out)[1]
    assert code == 0 and "to_stop" not in summary and "readaptation" in summary["phases"]


def test_a_log_rewritten_while_followed_says_the_whole_run_answer_is_of_what_is_left(tmp_path):
    # trial 34: a logger reopened with "w" after a resume left the second half in the file;
    # the follow's closing "whole run" answer was of it alone, without a word
    log = tmp_path / "m.jsonl"
    records = curve_records(120)
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    watch = Watch(log, "--follow", "--idle-exit", "3", "--poll", "0.05")
    watch.wait_for_err("following")
    log.write_text("".join(json.dumps(r) + "\n" for r in records[160:]))  # steps 800 on only
    code, _, err = watch.end()
    assert code == 0 and "was truncated or rewritten while watched" in err, err
    assert "the whole-run answer is of the 40 values of eval/accuracy the log holds now, " \
           "where the watch read 120" in err, err


def test_a_run_shorter_than_the_warm_up_says_it_was_not_judged(tmp_path, capsys):
    """Trial 36b: 7 evaluations of an eval loss falling 28 sds ended "live phase no significant
    change yet" beside "whole run: improvement (high confidence)": the monitor judges from its
    8th evaluation, and says so."""
    log = tmp_path / "short.jsonl"
    log.write_text("".join(json.dumps({"step": 100 * i, "eval_loss": round(0.31 - 0.013 * i, 4)})
                           + "\n" for i in range(7)))
    code, out, err = run_cli(capsys, log)
    assert code == 0
    assert "live phase none said (7 evaluations, within its warm-up of 8)" in err
    assert "whole run: improvement" in err
    code, out, err = run_cli(capsys, log, "--format", "jsonl")
    summary = json.loads(out.splitlines()[-1])
    assert summary["phase"] is None and "within its warm-up of 8" in summary["message"]


def test_the_live_phase_of_a_train_series_counts_readings_as_the_whole_run_does(tmp_path, capsys):
    """A train loss logged 4 times: the summary's live part said "none said (4 evaluations"
    beside the whole run's "4 readings, noise unknown" of the same values."""
    log = tmp_path / "train.jsonl"
    log.write_text("".join(json.dumps({"step": s, "train/loss": v}) + "\n"
                           for s, v in ((1, 2.0), (2, 1.5), (3, 1.2), (4, 1.1))))
    code, _, err = run_cli(capsys, log)
    assert code == 0
    assert "live phase none said (4 readings, within its warm-up of 8)" in err, err



@pytest.mark.parametrize("name, word", [("train/loss", "readings"), ("eval/loss", "evaluations")])
def test_the_live_alerts_count_a_train_series_in_readings(tmp_path, capsys, name, word):
    """A train loss flat for 12 readings, then falling: its improvement alert quoted "the
    starting level 1.989 (mean of the first 2 evaluations)" where `analyze` and the watch
    summary count readings (`MonitorConfig.train_metrics`, set by `watch` from the log as
    `train_beside.is_train_metric` places the series); a held-out loss keeps evaluations, and
    a monitor resumed from its state keeps the word."""
    rng = np.random.default_rng(5)
    values = np.r_[2.0 + rng.normal(0, 0.01, 12), np.linspace(1.98, 1.2, 40) + rng.normal(0, 0.01, 40)]
    log = tmp_path / "run.jsonl"
    log.write_text("".join(json.dumps({"step": 10 * i, name: float(v)}) + "\n"
                           for i, v in enumerate(values)))
    code, out, _ = run_cli(capsys, log)
    assert code == 0
    alert = next(line for line in out.splitlines() if "starting level" in line)
    assert f"(mean of the first 2 {word})" in alert, alert
    monitor = phasewatch.PhaseMonitor(metric=name, train_metrics=[name] if word == "readings" else ())
    monitor.load_state_dict(json.loads(json.dumps(monitor.state_dict())))
    assert monitor.trackers_[0].series.value_word == word[:-1]

@pytest.mark.parametrize("n, planned, said", [
    (4, 500, ("live phase none said (4 evaluations: a run planned to 5 evaluations is judged by "
              "the refit from its 5th)")),
    (3, 300, ("live phase none said (3 evaluations: a run planned to 3 evaluations is judged by "
              "the refit from its 5th, which it does not reach)")),
    (5, 500, ("live phase none said (5 evaluations: a run planned to 5 evaluations is judged "
              "by the refit from its 5th for an overfit or a dip, its other phases after the "
              "warm-up of 8)")),
])
def test_a_run_planned_to_be_sparse_says_the_refit_s_rule_not_the_warm_up(tmp_path, capsys, n,
                                                                          planned, said):
    """Trial 40b: wandb-cause-span-5ev cut at its 4th of 5 planned evaluations (the eval loss
    0.1511, 0.1481, 0.2018, 0.2106) ended "live phase none said (4 evaluations, within its
    warm-up of 8)"; a run planned to be sparse is judged by the refit from its 5th evaluation
    (monitoring.md), which is what the summary says."""
    log = tmp_path / "sparse.jsonl"
    log.write_text("".join(json.dumps({"step": 100 * i, "eval_loss": round(0.31 - 0.013 * i, 4)})
                           + "\n" for i in range(1, n + 1)))
    code, out, err = run_cli(capsys, log, "--planned-steps", str(planned))
    assert code == 0 and said in err, err
    code, out, err = run_cli(capsys, log, "--format", "jsonl", "--planned-steps", str(planned))
    assert said.removeprefix("live phase ") in json.loads(out.splitlines()[-1])["message"]
    code, out, err = run_cli(capsys, log)  # without the plan: the warm-up, as before
    assert f"none said ({n} evaluations, within its warm-up of 8)" in err, err
    log.write_text(log.read_text().replace("eval_loss", "train_loss"))  # a train series
    code, out, err = run_cli(capsys, log, "--planned-steps", str(planned))
    assert code == 0 and said.replace("evaluations", "readings") in err, err


def test_a_sparse_overfit_the_refit_leaves_is_not_said_to_be_none(tmp_path, capsys):
    """wandb-klue-topic-6ev: a held-out loss worse from its first evaluation, holding at its
    last two (0.599 -> 0.732, 0.730), planned to 6 evaluations: the refit does not stop it, and
    the summary said "live phase no overfit or dip" beside "whole run: overfit (high
    confidence)". The monitor said nothing; it says so, not that there was no overfit."""
    log = tmp_path / "klue.jsonl"
    values = [0.599, 0.673, 0.684, 0.728, 0.732, 0.730]
    log.write_text("".join(json.dumps({"step": 400 * (i + 1), "eval_loss": v}) + "\n"
                           for i, v in enumerate(values)))
    code, out, err = run_cli(capsys, log, "--planned-steps", "2450", "--format", "jsonl")
    summary = json.loads(out.splitlines()[-1])
    assert code == 0 and summary["phases"] == ["overfit"] and summary["phase"] is None
    assert "live phase none said (6 evaluations: " in summary["message"]
    assert "no overfit" not in summary["message"] and "no overfit" not in err


def test_a_sparse_run_past_the_warm_up_is_not_said_to_have_no_significant_change(tmp_path,
                                                                                 capsys):
    """wandb-naver-bert-10ep: a val accuracy of 10 epochs, 0.784 then 0.828-0.852 ("+5.0 sd"
    offline), planned to its 10 evaluations, ended "live phase no significant change yet"
    beside "whole run: improvement": the level tests that judge its other phases had its last
    3 values, with a noise its own rise inflates. The summary says what judged it."""
    log = tmp_path / "naver.jsonl"
    values = [0.784, 0.828, 0.832, 0.824, 0.808, 0.828, 0.852, 0.84, 0.844, 0.836]
    log.write_text("".join(json.dumps({"step": i, "val_acc": v}) + "\n"
                           for i, v in enumerate(values)))
    code, out, err = run_cli(capsys, log, "--planned-steps", "9", "--format", "jsonl")
    summary = json.loads(out.splitlines()[-1])
    assert code == 0 and summary["phases"] == ["improvement"] and summary["phase"] is None
    assert ("live phase none said (10 evaluations: a run planned to 10 evaluations is judged by "
            "the refit from its 5th for an overfit or a dip, its other phases after the warm-up "
            "of 8, which leaves them 3 evaluations)") in summary["message"]
    assert "no significant change" not in summary["message"] + err
