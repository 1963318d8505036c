"""`watch` on the issue #13 cases: resumes (later records supersede), double logging, the
log's own metric names, a held-out metric waited for, and a follow started before the trainer
that ends on its end marker."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
from test_watch import ROOT, Watch, split_jsonl
from watch_follower import Follower, assert_same, eval_curve, follows_a_held_choice, replay

REAL_LOGS = ROOT.parent / "shared" / "real_logs"

# ------------------------------------------------------------------ resumes and events
def resumed_and_clean(tmp_path, first, resumed):
    """A JSONL log of `first`'s (step, accuracy) then `resumed`'s (the counter going back to
    resumed's first step), and the log of what should survive: first's records before that
    step, then resumed's."""
    def write(name, rows):
        path = tmp_path / name
        path.write_text("".join(json.dumps({"step": s, "eval/accuracy": a}) + "\n" for s, a in rows))
        return path

    back_to = resumed[0][0]
    return (write("resumed.jsonl", first + resumed),
            write("clean.jsonl", [p for p in first if p[0] < back_to] + resumed))


def test_a_resumed_run_rewinds_the_monitor_like_later_records_win_offline(tmp_path):
    """Issue #13: resumed from step 500 after logging up to 930, the later records supersede:
    the watch ends where a watch of the surviving records ends."""
    rng = np.random.default_rng(3)
    # the abandoned branch climbs high; the resumed one (from step 500) peaks lower and declines
    first = [(s, round(0.5 + 0.4 * s / 930 + rng.normal(0, 0.01), 6)) for s in range(0, 940, 10)]
    resumed = [(s, round(0.715 + 0.1 * min(s - 500, 700) / 700 - 0.15 * max(s - 1200, 0) / 800
                         + rng.normal(0, 0.01), 6)) for s in range(500, 2000, 10)]
    log, clean = resumed_and_clean(tmp_path, first, resumed)
    _, got = replay(log, stop_on=())
    _, want = replay(clean, stop_on=())
    assert got.resumes == [(930, 500)]
    assert (got.phase, got.best_step, got.last_step) == (want.phase, want.best_step, want.last_step)
    assert 1000 < got.best_step < 1400  # on the resumed branch, not the abandoned one
    from phasewatch import analyze

    assert analyze(log).recommended_stop_step == analyze(clean).recommended_stop_step


# a class accuracy flat for four validations, then collapsed (csv-lightning-yolov3-valacc-35)
FLAT_THEN_COLLAPSED = [32.405518, 32.326004, 32.797844, 32.274284] + [3.665713] * 12


def test_a_disruption_dated_at_its_cliff_is_said_once_after_a_resume_before_the_cliff(tmp_path):
    """The onset a disruption's alert says is the evaluation before its cliff, read from the
    values in the monitor's buffer (`start_level.held_until_cliff`). A run resumed from before
    the cliff that falls at the same evaluation again (re-logged values that differ a little,
    as a re-run evaluation does) makes the rewound monitor decide the same disruption again, its
    level and se in other words: the watch says it once, with the same onset, followed as
    replayed."""
    steps = [930 + 931 * i for i in range(len(FLAT_THEN_COLLAPSED))]
    path = tmp_path / "metrics.jsonl"

    def append(rows):
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("".join(json.dumps({"step": s, "val_Class_Accuracy": v}) + "\n" for s, v in rows))

    append(zip(steps, FLAT_THEN_COLLAPSED))
    follower = Follower(path, stop_on=(), idle_exit=1.0, metric="val_Class_Accuracy")
    follower.wait_for_message("caught up after 16 records")
    append((s, v + (0.05 if k % 2 else -0.05)) for k, (s, v) in enumerate(zip(steps[2:], FLAT_THEN_COLLAPSED[2:])))
    followed = follower.ends_by_itself()
    replayed, result = replay(path, stop_on=(), metric="val_Class_Accuracy")
    assert result.resumes == [(steps[-1], steps[2])]
    assert [(a.event, a.step, a.onset_step) for a in followed] == [("disruption", 7447, 3723)]
    assert followed == replayed


# a held-out accuracy that held at its start for four evaluations, then fell over three
HELD_THEN_FELL = [0.5013, 0.5087, 0.5064, 0.491, 0.4146, 0.3336, 0.313, 0.3195, 0.333, 0.3673,
                  0.4138, 0.4604, 0.4667, 0.5178, 0.5375]


def test_a_disruption_dated_where_its_start_held_is_said_once_after_a_resume(tmp_path):
    """Re-logged values a little apart (+-0.003, as a re-run evaluation gives) from the fourth
    on: the rewound monitor decides the same disruption at the same step from the same measured
    onset, but the onset its words give moves (`start_level.held_until_fast_fall`: 'onset ~200'
    on the first branch, '~50' with the hint on the resumed one), and the watch said it twice,
    once each way."""
    steps = [50 * (i + 1) for i in range(len(HELD_THEN_FELL))]
    relogged = [(s, v + (0.003 if k % 2 else -0.003))
                for k, (s, v) in enumerate(zip(steps[3:], HELD_THEN_FELL[3:]))]
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "eval/accuracy": v}) + "\n"
                            for s, v in [*zip(steps, HELD_THEN_FELL), *relogged]))
    alerts, result = replay(path, stop_on=())
    assert result.resumes == [(steps[-1], steps[3])]
    assert [(a.event, a.step, a.onset_step) for a in alerts] == [("disruption", 400, 200)]


def test_a_resume_that_stops_short_drops_the_abandoned_branch_offline_as_live(tmp_path):
    """Resumed from step 500 after logging up to 930, with evaluations at other steps (every
    20 from 505) and ending at 805: the abandoned branch's values from 505 on (810-930 among
    them) are dropped offline, as the live monitor, rewound to 505, forgets them; they made
    analyze's best step 930, on the abandoned branch."""
    rng = np.random.default_rng(4)
    first = [(s, round(0.5 + 0.4 * s / 930 + rng.normal(0, 0.01), 6)) for s in range(0, 940, 10)]
    resumed = [(s, round(0.7 - 0.1 * (s - 505) / 300 + rng.normal(0, 0.01), 6))
               for s in range(505, 806, 20)]
    log, clean = resumed_and_clean(tmp_path, first, resumed)
    from phasewatch import analyze, read_run

    run = read_run(log)
    assert run.series("eval/accuracy").to_dict() == read_run(clean).series("eval/accuracy").to_dict()
    assert any("went back from 930 to 505" in w and "dropped" in w for w in run.warnings)
    offline = analyze(log)
    assert offline.recommended_stop_step == analyze(clean).recommended_stop_step <= 805
    _, got = replay(log, stop_on=())
    _, want = replay(clean, stop_on=())
    assert (got.phase, got.best_step, got.last_step) == (want.phase, want.best_step, want.last_step)
    assert got.to_dict()["best_step"] == offline.recommended_stop_step


def test_exact_double_logging_collapses_and_a_relogged_value_supersedes(tmp_path):
    curve = eval_curve()
    doubled = tmp_path / "doubled.jsonl"
    doubled.write_text("".join(2 * (json.dumps({"step": s, "eval/accuracy": a}) + "\n")
                               for s, a in curve))
    single = tmp_path / "single.jsonl"
    single.write_text("".join(json.dumps({"step": s, "eval/accuracy": a}) + "\n"
                              for s, a in curve))
    assert replay(doubled, stop_on=())[0] == replay(single, stop_on=())[0]
    # the rows of the file, as `inspect` counts its records
    assert replay(doubled, stop_on=())[1].n_records == 2 * len(curve)


@pytest.mark.skipif(not (REAL_LOGS / "verl_ppo_qwen05b").is_dir(), reason="no real logs here")
def test_verl_real_log_watch_names_the_metric_analyze_analyses(capsys):
    from phasewatch import analyze
    from phasewatch.cli import main

    [log] = list((REAL_LOGS / "verl_ppo_qwen05b").glob("*.log"))
    code = main(["watch", str(log), "--format", "jsonl"])
    out, err = capsys.readouterr()
    alerts, summary = split_jsonl(out)
    assert code == 0
    assert summary["metric"] == analyze(log).metric == "val/test_score/openai/gsm8k"
    assert all(a["metric"] == summary["metric"] for a in alerts)
    assert "eval/accuracy" not in err


def test_held_out_metric_is_waited_for_before_choosing(tmp_path):
    """Train rows come first in HF logs: following must not pick train reward and replay
    eval accuracy."""
    lines = [json.dumps({"step": s, "reward": 0.1}) for s in range(0, 200, 10)]
    lines += [json.dumps({"step": s, "eval_accuracy": a, "reward": 0.2})
              for s, a in eval_curve() if s >= 200]
    followed, replayed, result = follows_a_held_choice(tmp_path / "log.jsonl", lines, 1)
    assert result.metric == "eval_accuracy"
    assert_same(followed, replayed)


def test_follow_started_before_the_trainer_waits_and_ends_on_its_end_marker(tmp_path, capsys):
    """The reference trainer's folder: created later, run.json rewritten with the sft_to_rl
    event before that step is logged, status 'finished' at the end."""
    from phasewatch.cli import main

    run = tmp_path / "run"
    watch = Watch(run, "--follow", "--format", "jsonl", "--poll", "0.02")
    watch.wait_for_err("does not exist yet")
    run.mkdir()
    meta = {"schema_version": 1, "name": "r", "performance_metric": "eval/accuracy",
            "direction": "max", "events": [], "config": {}}
    (run / "run.json").write_text(json.dumps(meta))
    with open(run / "metrics.jsonl", "w", encoding="utf-8") as fh:
        for step, acc in eval_curve():
            if step == 1500:
                meta["events"].append({"step": step, "name": "sft_to_rl"})
                (run / "run.json.tmp").write_text(json.dumps(meta))
                os.replace(run / "run.json.tmp", run / "run.json")
            fh.write(json.dumps({"step": step, "eval/accuracy": acc}) + "\n")
            fh.flush()
            if step % 500 == 0:
                time.sleep(0.05)
    meta["status"] = "finished"
    (run / "run.json").write_text(json.dumps(meta))
    code, out, err = watch.end(timeout=30)  # no signal: it ends by itself
    assert code == 0, err
    assert "the log says the run finished" in err
    main(["watch", str(run), "--format", "jsonl"])
    replayed, _ = capsys.readouterr()
    assert split_jsonl(out) == split_jsonl(replayed)
    assert split_jsonl(out)[1]["finished"] is True


def test_a_held_out_metric_written_as_null_between_evaluations_is_waited_for(tmp_path):
    """A GRPO script's JSONL writes `"val_accuracy": null` at every step and a value every 10:
    the watch counted the nulls, chose before any value and ended "no performance metric
    found", where `analyze` reads val_accuracy (a corpus log, jsonl-cs336-grpo-val-20)."""
    from phasewatch import analyze

    rows = [{"step": s, "rollout_reward_mean": 0.1 + s / 400,
             "val_accuracy": (round(a, 4) if s % 10 == 0 else None)}
            for s, a in [(s, 0.3 + 0.2 * s / 200) for s in range(1, 201)]]
    log = tmp_path / "grpo_metrics.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _, result = replay(log, stop_on=())
    assert analyze(log).metric == "val_accuracy" == result.metric


def test_two_interleaved_writers_do_not_make_the_watch_say_a_phase_twice(tmp_path):
    """Two ranks appending to one LLaMA-Factory trainer_log.jsonl, one a record behind the
    other (steps 20, 10, 30, 20, 40, 30, ...): every step back rewinds the monitor, which
    decides again what it had said. A loss's plateau, since one onset with one best checkpoint,
    was said at step 2390 and again at step 2380 (llamafactory-sft-rameyjm7-loss: 2840, then
    2830): one decision, said once, as the log of one writer says it."""
    rng = np.random.default_rng(0)
    steps = np.arange(10, 3010, 10)
    loss = 0.5 + 0.4 * np.exp(-steps / 300) + rng.normal(0, 0.01, steps.size)

    def row(k: int, nudge: float = 0.0) -> str:
        return json.dumps({"current_steps": int(steps[k]), "total_steps": 3000,
                           "loss": round(float(loss[k]) + nudge, 4)}) + "\n"

    interleaved = tmp_path / "two" / "trainer_log.jsonl"
    interleaved.parent.mkdir()
    interleaved.write_text("".join(row(k) + (row(k - 1, 1e-4) if k else "")
                                   for k in range(steps.size)))
    alerts, _ = replay(interleaved, stop_on=())
    said = [(a.event, a.onset_step, a.best_step) for a in alerts]
    assert "plateau" in [event for event, _, _ in said]
    assert len(said) == len(set(said)), [(a.event, a.step, a.onset_step) for a in alerts]
    assert [a.step for a in alerts] == sorted(a.step for a in alerts)
