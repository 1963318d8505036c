"""`watch --aggregate mean` and `watch --x` do what `analyze` does with the same options."""

import json
import random
import subprocess
import sys


def _write(path):
    rng = random.Random(0)
    rows = []
    for i in range(60):
        s = i * 10
        a = 0.10 + 0.002 * min(i, 30) - 0.003 * max(0, i - 30) + rng.gauss(0, 0.004)
        b = 0.50 + 0.004 * min(i, 30) - 0.006 * max(0, i - 30) + rng.gauss(0, 0.004)
        rows.append({"step": s, "epoch": s / 200, "train/loss": 1.0 / (1 + i)})
        # verl logs one row per validation set
        rows.append({"step": s, "val-core/aime24/acc/mean@16": round(a, 4)})
        rows.append({"step": s, "val-core/math500/acc/mean@16": round(b, 4)})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _cli(*args):
    proc = subprocess.run([sys.executable, "-m", "phasewatch", *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def test_watch_names_the_sets_and_watches_their_mean_like_analyze(tmp_path):
    log = _write(tmp_path / "sets.jsonl")
    code, out, err = _cli("watch", log)
    assert code == 0 and "2 validation sets hold eval/accuracy" in err

    code, out, err = _cli("watch", log, "--aggregate", "mean", "--format", "jsonl")
    *alerts, summary = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and summary["metric"] == "eval/accuracy (mean of 2 sets)"
    assert all(a["metric"] == summary["metric"] for a in alerts)
    code, out, _ = _cli("analyze", log, "--aggregate", "mean", "--format", "json")
    [offline] = json.loads(out)["runs"]
    assert summary["phases"] == [p["name"] for p in offline["phases"]]
    assert summary["best_step"] == offline["recommended_stop_step"]
    # the overfit is seen live, with the monitor's best so far near the peak the offline answer
    # keeps (its best at that moment: within 3 evaluations; at the end, the same step, above)
    overfit = [a for a in alerts if a["event"] == "overfit"]
    assert overfit and abs(overfit[0]["best_step"] - offline["recommended_stop_step"]) <= 30


def test_watch_x_says_where_each_alert_happened_in_epochs(tmp_path):
    log = _write(tmp_path / "sets.jsonl")
    code, out, _ = _cli("watch", log, "--aggregate", "mean", "--x", "epoch", "--format", "jsonl")
    *alerts, summary = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and alerts
    for alert in alerts:
        assert alert["x"]["unit"] == "epoch"
        assert abs(alert["x"]["step"] - alert["step"] / 200) < 1e-9  # epoch = step / 200 here
    assert summary["x"]["best"] == summary["best_step"] / 200
    code, out, _ = _cli("watch", log, "--x", "epoch")
    assert "(at epoch " in out


def test_the_logs_own_total_over_the_sets_is_the_one_watched_and_analysed(tmp_path):
    """verl splits validation by difficulty and logs the total beside it
    (`val-core/total/all/acc/mean@8`): the run is judged by the total, not by the first set by
    name ("easy", which saturates early here while the total keeps rising), live and offline."""
    rng = random.Random(1)
    rows = []
    for i in range(40):
        easy = min(0.6 + 0.03 * i, 0.95) + rng.gauss(0, 0.005)
        hard = 0.05 + 0.006 * i + rng.gauss(0, 0.005)
        rows.append({"step": i * 5, "val-core/difficulty/easy/acc/mean@8": round(easy, 4),
                     "val-core/difficulty/hard/acc/mean@8": round(hard, 4),
                     "val-core/total/all/acc/mean@8": round((easy + hard) / 2, 4)})
    log = tmp_path / "verl.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, out, _ = _cli("analyze", log, "--format", "json")
    [offline] = json.loads(out)["runs"]
    assert code == 0 and offline["metric"] == "val-core/total/all/acc/mean@8"
    assert any("(the log's total over the sets)" in w for w in offline["warnings"])
    code, out, err = _cli("watch", log, "--format", "jsonl")
    summary = json.loads(out.splitlines()[-1])
    assert code == 0 and summary["metric"] == offline["metric"] and "total over the sets" in err
    assert summary["best_step"] == offline["recommended_stop_step"]
    # and `inspect` names the one analyze takes (trial 36b: it named the "easy" set)
    code, out, _ = _cli("inspect", log, "--format", "json")
    performance = json.loads(out)["performance"]
    assert (performance["metric"], performance["sets"]) == (offline["metric"], 3)
    assert not performance["train_fallback"]
    code, out, _ = _cli("inspect", log)
    assert ("performance metric: val-core/total/all/acc/mean@8 (higher is better; 1 of 3 "
            "validation sets, as analyze takes it)") in out


def test_sets_without_a_total_keep_the_first_by_name():
    from phasewatch.metric_sets import overall_set

    assert overall_set(["val-core/aime24/acc/mean@16", "val-core/math500/acc/mean@16"]) is None
    assert overall_set(["val/a/acc", "val/all/acc", "val/total/acc"]) is None  # two: no choice
    assert overall_set(["eval/easy/acc", "eval/overall/acc", "eval/x/y/acc"]) is None
    assert overall_set(["eval/easy/acc", "eval/Overall/acc"]) == "eval/Overall/acc"


def test_watch_x_on_a_counter_that_falls_says_so_as_analyze_refuses_it(tmp_path):
    """A joined SFT-then-RL run: RL's epoch starts again at the switch (trial 37). `analyze --x
    epoch` refuses the axis; `watch --x epoch` says why once, when it falls, and its alerts from
    there say no epoch."""
    rows = [{"step": 10 * i, "epoch": 0.25 * i, "eval/accuracy": 0.3 + 0.01 * i}
            for i in range(30)]
    rows += [{"step": 300 + 10 * i, "epoch": 0.5 * i,
              "eval/accuracy": 0.59 + 0.01 * min(i, 10) - 0.02 * max(0, i - 10)}
             for i in range(1, 40)]
    log = tmp_path / "joined.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    code, _, err = _cli("analyze", log, "--x", "epoch")
    assert code == 2 and "epoch falls from 7.25 at step 290 to 0.5 at step 310" in err
    code, out, err = _cli("watch", log, "--x", "epoch", "--format", "jsonl")
    assert code == 0
    assert err.count("epoch falls from 7.25 at step 290 to 0.5 at step 310") == 1
    *alerts, summary = [json.loads(line) for line in out.splitlines()]
    assert [a["step"] < 310 for a in alerts] == [True, False], alerts  # a rise, then a fall
    assert summary["x"]["step"] is None
    assert alerts[0]["x"]["step"] == alerts[0]["step"] / 40 and "x" not in alerts[1]
