"""A metric logged several times at one step (`step_rows`), read alike by `analyze`, `inspect`
and `watch`: the mean of k rows where every step has k (a per-group GRPO log, trial 39b's
grpo-drgrpo-aser-reward: the later row was one prompt group's k/4), the later row otherwise,
a run-average summary row left out (json-dpo-jsonextract-reward: HF's closing train_loss 0.213
replaced step 90's 0.0645), each said in a warning; and the counts the same everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_watch import run_cli, split_jsonl

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.online import PhaseMonitor
from phasewatch.resolver import Resolver

CORPUS = Path(__file__).resolve().parents[1] / "benchmarks" / "real_corpus" / "data"


def group_rows(n_steps: int = 60, k: int = 4, seed: int = 0) -> list[tuple[int, float]]:
    """(step, reward) rows: k prompt groups a step, each the mean of 4 completions (k/4
    values), the reward rising then falling."""
    rng = np.random.default_rng(seed)
    rows = []
    for step in range(n_steps):
        p = 0.2 + 0.6 * min(step, 35) / 35 - 0.5 * max(step - 45, 0) / 15
        rows += [(step, rng.binomial(4, p) / 4) for _ in range(k)]
    return rows


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps({"step": s, "reward": v}) + "\n" for s, v in rows))
    return path


def means(rows) -> dict[int, float]:
    by: dict[int, list[float]] = {}
    for step, value in rows:
        by.setdefault(step, []).append(value)
    return {s: sum(v) / len(v) for s, v in by.items()}


def test_a_per_group_log_reads_the_mean_of_each_steps_rows_everywhere(tmp_path, capsys):
    rows = group_rows()
    log = write_jsonl(tmp_path / "groups.jsonl", rows)
    want = means(rows)
    run = read_run(log)
    column = run.column("reward")
    assert dict(zip(column.steps.tolist(), column.values.tolist())) == pytest.approx(want)
    assert run.n_records == 240
    [warning] = [w for w in run.warnings if "reward" in w]
    assert "4 rows with different values at each of 60 steps" in warning
    assert "the mean of its 4 rows per step is read" in warning

    assert main(["inspect", str(log)]) == 0
    assert "240 records, 60 distinct steps" in capsys.readouterr().out
    # watch: the same values (its alerts are those of a log of the means alone), the same count
    only_means = write_jsonl(tmp_path / "means.jsonl", sorted(want.items()))
    code, out, err = run_cli(capsys, log, "--metric", "reward", "--format", "jsonl")
    alerts, summary = split_jsonl(out)
    code_m, out_m, _ = run_cli(capsys, only_means, "--metric", "reward", "--format",
                               "jsonl")
    want_alerts, want_summary = split_jsonl(out_m)
    assert (code, code_m) == (0, 0)
    assert alerts == want_alerts
    assert summary["records"] == 240 and want_summary["records"] == 60
    assert summary["best_step"] == want_summary["best_step"]
    assert summary["live_best_step"] == want_summary["live_best_step"]
    assert "the mean of its rows per step is read" in err


def test_rows_not_as_many_at_every_step_keep_the_later_row_and_say_so(tmp_path):
    rows = [r for i, r in enumerate(group_rows(k=2)) if not (r[0] % 5 == 1 and i % 2 == 0)]
    log = write_jsonl(tmp_path / "uneven.jsonl", rows)
    run = read_run(log)
    last = {s: v for s, v in rows}
    column = run.column("reward")
    assert dict(zip(column.steps.tolist(), column.values.tolist())) == last
    [warning] = [w for w in run.warnings if "reward" in w]
    assert "logged several times at one step with different values" in warning
    assert "the later row of each step is kept" in warning


def test_a_run_average_summary_row_is_left_out(tmp_path, capsys):
    """HF's closing `train_loss` (the mean of the run's losses) exported as a second `loss`
    row at the last step: left out, live and offline; the real last loss is read."""
    rng = np.random.default_rng(2)
    losses = 0.7 * np.exp(-np.arange(1, 91) / 30) + 0.05 + rng.normal(0, 0.01, 90)
    rows = [{"step": s, "loss": float(v)} for s, v in zip(range(1, 91), losses)]
    rows.append({"step": 90, "loss": float(losses.mean())})
    log = tmp_path / "history.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = read_run(log)
    assert run.column("loss").values[-1] == losses[-1]
    assert any("a second row at step 90 holds" in w and "left out" in w for w in run.warnings)
    code, out, err = run_cli(capsys, log, "--metric", "loss", "--format", "jsonl")
    _, summary = split_jsonl(out)
    assert code == 0 and "a run-average summary" in err and summary["records"] == 91
    assert main(["analyze", str(log), "--metric", "loss", "--format", "json"]) == 0
    offline = json.loads(capsys.readouterr().out)["runs"][0]
    assert summary["best_step"] == offline["recommended_stop_step"]


def feed(resolver: Resolver, rows) -> None:
    for step, value in rows:
        resolver.feed(step, {"reward": value})
    resolver.flush()


def test_live_means_become_later_rows_when_a_step_has_other_rows():
    """4 rows a step, then a step of 3: offline reads the later row at every step, so the
    monitor, fed means so far, is fed the later rows again (one rewind), and ends where a
    monitor fed the later rows ends."""
    rows = group_rows(n_steps=40)
    rows = [r for i, r in enumerate(rows) if i != 4 * 30]  # step 30 has 3 rows
    notes: list[str] = []
    monitor = PhaseMonitor("reward", direction="max", warmup=3)
    feed(Resolver(monitor, on_resume=lambda a, b: None, on_rows=notes.append), rows)
    replayed = PhaseMonitor("reward", direction="max", warmup=3)
    for step, value in sorted({s: v for s, v in rows}.items()):
        replayed.update(step, {"reward": value})
    assert monitor.state().trackers == replayed.state().trackers
    assert any("the later row of each step is read" in n for n in notes)


def test_a_last_step_cut_within_its_rows_still_reads_means(tmp_path):
    rows = group_rows(n_steps=30)[:-2]  # the log ends within step 29: 2 of its 4 rows
    log = write_jsonl(tmp_path / "cut.jsonl", rows)
    column = read_run(log).column("reward")
    assert dict(zip(column.steps.tolist(), column.values.tolist())) == pytest.approx(means(rows))
    monitor = PhaseMonitor("reward", direction="max", warmup=3)
    feed(Resolver(monitor, on_resume=lambda a, b: None), rows)
    replayed = PhaseMonitor("reward", direction="max", warmup=3)
    for step, value in sorted(means(rows).items()):
        replayed.update(step, {"reward": value})
    assert monitor.state().trackers == replayed.state().trackers


@pytest.mark.skipif(not (CORPUS / "grpo-drgrpo-aser-reward").is_dir(), reason="no corpus")
def test_the_aser_per_group_log_reads_its_four_groups():
    run = read_run(CORPUS / "grpo-drgrpo-aser-reward")
    column = run.column("mean_reward")
    at = dict(zip(column.steps.tolist(), column.values.tolist()))
    assert at[3] == 0.375 and at[199] == 0.625  # rows 0, 0, 0.5, 1 and 1, 1, 0.5, 0
    assert run.n_records == 800 and column.values.size == 200


@pytest.mark.skipif(not (CORPUS / "json-dpo-jsonextract-reward").is_dir(), reason="no corpus")
def test_the_dpo_export_keeps_the_last_loss_not_the_run_average():
    run = read_run(CORPUS / "json-dpo-jsonextract-reward")
    assert run.column("train_loss/loss").values[-1] == 0.0645


def test_a_metric_of_one_step_logged_twice_reads_the_later_row(tmp_path):
    """An evaluation run again at the end (the best checkpoint reloaded) logs its only step
    twice: no per-group log, the later row is read."""
    rows = [{"step": s, "loss": 1.0 - s / 100} for s in range(50)]
    rows += [{"step": 49, "eval_acc": 0.61}, {"step": 49, "eval_acc": 0.64}]
    log = tmp_path / "m.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_run(log).column("eval_acc").values.tolist() == [0.64]


def test_a_follow_of_a_per_group_log_gives_the_replay(tmp_path, capsys):
    """Written in pieces that end reads within steps: the follow feeds what a replay of the
    final file feeds, and says the same alerts and summary."""
    from test_watch import Watch
    from test_watch_relog import append_in_pieces

    text = "".join(json.dumps({"step": s, "reward": v}) + "\n" for s, v in group_rows())
    final = write_jsonl(tmp_path / "final.jsonl", group_rows())
    code, replayed, _ = run_cli(capsys, final, "--metric", "reward", "--format", "jsonl")
    assert code == 0
    log = tmp_path / "groups.jsonl"
    head = text.index('{"step": 2,')
    log.write_text(text[:head])
    watch = Watch(log, "--follow", "--metric", "reward", "--format", "jsonl", "--poll", "0.01",
                  "--idle-exit", "3")
    watch.wait_for_err("following")
    append_in_pieces(log, text[head:], size=97)
    code, followed, err = watch.end()
    assert code == 0, err
    assert followed == replayed


def test_rows_of_inf_and_minus_inf_at_a_step_read_as_nan_not_an_internal_error(tmp_path):
    """Two rows a step, one step's +inf and -inf (a diverged run): their mean is NaN, as their
    plain sum is; `math.fsum` raised, and `inspect` ended in an internal error (exit 70)."""
    rows = [(0, float("inf")), (0, -float("inf")), (1, 0.5), (1, 0.6), (2, 0.5), (2, 0.7)]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"step": s, "a": v}) + "\n" for s, v in rows))
    assert main(["inspect", str(log)]) == 0
    assert read_run(log).series("a").tolist() == [0.55, 0.6]


def test_a_clock_logged_on_each_row_of_a_step_is_read_without_a_warning(tmp_path, capsys):
    """A CSV whose every row has its `timestamp` (a train row and, every 5th step, an eval row
    a second later), and a Trainer's final evaluation logged again at its step with the same
    scores and a new `eval_runtime`: clocks differ between any two rows, and said so at every
    step ('timestamp: logged several times at one step with different values') of a log read
    right. A score logged twice with different values is still said."""
    lines = ["step,timestamp,train/loss,eval/loss,eval_runtime"]
    for s in range(40):
        lines.append(f"{s},{1000 + 2 * s},{1.0 - s / 80},,")
        if s % 5 == 4:
            lines.append(f"{s},{1001 + 2 * s},,{1.2 - s / 100},{3.0 + s / 50}")
    lines.append(f"39,1100,,{1.2 - 0.39},9.5")  # the final evaluation again: equal score
    lines.append("39,1101,0.45,,")  # a train loss logged again with another value
    log = tmp_path / "metrics.csv"
    log.write_text("\n".join(lines) + "\n")
    run = read_run(log)
    assert run.column("timestamp").values[-1] == 1101  # read as before: the later row
    [warning] = [w for w in run.warnings if "several times" in w]
    assert warning.startswith("train/loss: logged several times at one step")
    assert main(["analyze", str(log), "--metric", "eval/loss"]) == 0
    out = capsys.readouterr().out
    assert "timestamp" not in out and "eval_runtime" not in out


def test_a_score_whose_name_holds_time_inside_a_word_is_no_timing(tmp_path):
    """`eval/sentiment_accuracy` holds "time" inside "sentiment": read as a timing, its second
    row at a step with another value was taken without a word, as a clock's is. Timings are
    told by whole words (`timestamp`, `eval_runtime`, `profiling/Time taken`, `train_time_ms`)."""
    from phasewatch.timing_names import is_timing

    assert not any(is_timing(name) for name in ("eval/sentiment_accuracy", "sentiment_f1"))
    assert all(is_timing(name) for name in (
        "timestamp", "timing_s/save_checkpoint", "eval_runtime", "eval_samples_per_second", "profiling/Time taken: x",
        "train_time_ms", "step_avg_ms", "_runtime", "perf/throughput", "gpu_mem_gb",
        "max_memory_allocated", "time/fps", "eval_steps_per_second"))
    lines = ["step,eval/sentiment_accuracy"]
    for s in range(1, 21):
        lines.append(f"{10 * s},{0.5 + 0.01 * s:.3f}")
        if s % 4 == 0:
            lines.append(f"{10 * s},{0.3 + 0.01 * s:.3f}")
    log = tmp_path / "metrics.csv"
    log.write_text("\n".join(lines) + "\n")
    [warning] = [w for w in read_run(log).warnings if "several times" in w]
    assert warning.startswith("eval/sentiment_accuracy: logged several times at one step")
