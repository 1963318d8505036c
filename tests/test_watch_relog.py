"""`watch` on logs that print the followed metric several times at one step (GRPO console
scripts print their loss once per prompt group): each step reaches the monitor once, with the
value `analyze` reads (the mean of its rows where every step has as many, else the step's
last: `step_rows`), followed or replayed; a value re-logged after its step was fed (the read
ended in between) still supersedes it, by a rewind."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from test_watch import Watch, run_cli, split_jsonl

from phasewatch.cli import main
from phasewatch.online import PhaseMonitor
from phasewatch.resolver import Resolver

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_watch_relog import grpo_console_lines  # benchmarks/ is not a package


def test_a_follow_of_a_relogging_console_log_gives_the_replay_alerts(tmp_path, capsys):
    """Written in pieces that end reads in the middle of steps, with the real CLI: each step
    is held across reads until the next begins, so the follow feeds the monitor what a replay
    of the final file feeds it, and says the same alerts and summary."""
    lines = grpo_console_lines(60, seed=3)
    final = tmp_path / "final.log"
    final.write_text("\n".join(lines) + "\n")
    code, replayed, _ = run_cli(capsys, final, "--metric", "loss", "--format", "jsonl")
    alerts, summary = split_jsonl(replayed)
    assert code == 0 and len(alerts) >= 2 and summary["records"] >= 60

    log = tmp_path / "grpo.log"
    head = next(i for i, line in enumerate(lines) if line.startswith("Iter 3 "))
    log.write_text("\n".join(lines[:head]) + "\n")  # two steps: enough to know the format
    watch = Watch(log, "--follow", "--metric", "loss", "--format", "jsonl", "--poll", "0.01",
                  "--idle-exit", "3")
    watch.wait_for_err("following")
    append_in_pieces(log, "\n".join(lines[head:]) + "\n")
    code, followed, err = watch.end()
    assert code == 0, err
    assert followed == replayed


def append_in_pieces(path: Path, text: str, size: int = 401) -> None:
    """Append `text` in pieces that cut lines anywhere (and steps: a read of the follower ends
    in the middle of one), as a trainer's buffered writes do."""
    with open(path, "a", encoding="utf-8") as fh:
        for start in range(0, len(text), size):
            fh.write(text[start:start + size])
            fh.flush()
            time.sleep(0.003)


def relogged_jsonl(path: Path, first, last, seed: int = 0) -> None:
    """Each step's loss logged `first`, a row of another metric, then `last` (kept offline);
    step 0 logs `last` only."""
    rows = []
    for step, (a, b) in enumerate(zip(first, last)):
        rows += [{"step": step, "loss": float(a)}] if step else []
        rows += [{"step": step, "skipped": step % 3}, {"step": step, "loss": float(b)}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_changed_value_at_the_latest_step_supersedes_and_is_what_analyze_uses(tmp_path, capsys):
    """The first value of each step falls steadily (an improvement), the last one falls then
    rises (an overfit); step 0 is logged once, so the steps do not all have as many rows and
    the later row is read: watch's alerts are those of a log of the last values alone, and
    its checkpoint is analyze's."""
    rng = np.random.default_rng(0)
    steps = np.arange(80)
    falls = 2.0 - steps / 60 + rng.normal(0, 0.02, steps.size)
    turns = 2.0 - np.minimum(steps, 40) / 30 + np.maximum(steps - 40, 0) / 30 \
        + rng.normal(0, 0.02, steps.size)
    relogged, lasts, firsts = (tmp_path / f"{name}.jsonl" for name in ("relog", "last", "first"))
    relogged_jsonl(relogged, falls, turns)
    relogged_jsonl(lasts, turns, turns)
    relogged_jsonl(firsts, falls, falls)
    outs = {}
    for path in (relogged, lasts, firsts):
        code, out, _ = run_cli(capsys, path, "--format", "jsonl")
        assert code in (0, 1)
        outs[path] = split_jsonl(out)
    alerts, summary = outs[relogged]
    assert alerts == outs[lasts][0] != outs[firsts][0]
    assert "overfit" in [a["event"] for a in alerts]
    assert main(["analyze", str(relogged), "--format", "json"]) == 0
    offline = json.loads(capsys.readouterr().out)["runs"][0]
    assert summary["best_step"] == offline["recommended_stop_step"]
    assert abs(summary["live_best_step"] - offline["recommended_stop_step"]) <= 1
    assert summary["records"] == outs[lasts][1]["records"] == 3 * steps.size - 1


def counting_rewinds(monitor: PhaseMonitor) -> list[int]:
    rewinds: list[int] = []
    real = monitor.rewind

    def rewind(step):
        rewinds.append(step)
        real(step)

    monitor.rewind = rewind
    return rewinds


def feed_rising(resolver: Resolver, steps) -> None:
    for step in steps:
        resolver.feed(step, {"eval/accuracy": 0.5 + 0.01 * step})


def test_a_value_relogged_after_its_step_was_fed_rewinds_once_then_steps_are_held():
    """A read ends after a step: its value is fed (a follow says its alerts at once). A re-log
    of that value in the next read supersedes it by a rewind; from then on the log is known to
    re-log, and a step is held across reads until the next step begins."""
    monitor = PhaseMonitor("eval/accuracy", warmup=3)
    rewinds = counting_rewinds(monitor)
    resolver = Resolver(monitor, on_resume=lambda previous, step: None)
    feed_rising(resolver, range(10))
    resolver.flush(read_over=True)  # the read is over: step 9 is fed
    assert monitor.last_step_ == 9 and monitor.trackers_[0].series.values[-1] == 0.59
    resolver.feed(9, {"loss": 1.0})  # another metric at the fed step: no rewind
    resolver.feed(9, {"eval/accuracy": 0.2})  # the followed value re-logged: a rewind
    assert rewinds == [9] and resolver.relogs_followed
    resolver.feed(9, {"eval/accuracy": 0.3})  # merged into the held step, no second rewind
    assert resolver.flush(read_over=True) == [] and rewinds == [9]
    assert monitor.last_step_ == 8  # step 9 is held across the read
    resolver.feed(10, {"eval/accuracy": 0.6})
    assert monitor.last_step_ == 9 and monitor.trackers_[0].series.values[-1] == 0.3
    resolver.flush()  # the watch ends: the held step is fed
    assert monitor.last_step_ == 10 and rewinds == [9]
    assert resolver.records == 14  # every row, as `inspect` counts the log's records

    replayed = PhaseMonitor("eval/accuracy", warmup=3)
    for step in range(9):
        replayed.update(step, {"eval/accuracy": 0.5 + 0.01 * step})
    replayed.update(9, {"eval/accuracy": 0.3, "loss": 1.0})
    replayed.update(10, {"eval/accuracy": 0.6})
    assert monitor.state().trackers == replayed.state().trackers


def test_a_resume_below_the_held_step_feeds_it_then_rewinds():
    monitor = PhaseMonitor("eval/accuracy", warmup=3)
    rewinds = counting_rewinds(monitor)
    resumes: list[tuple[int, int]] = []
    resolver = Resolver(monitor, on_resume=lambda previous, step: resumes.append((previous, step)))
    feed_rising(resolver, range(10))
    feed_rising(resolver, range(6, 12))  # resumed from step 6
    resolver.flush()
    assert resumes == [(9, 6)] and rewinds == [6] and monitor.last_step_ == 11
    assert list(monitor.trackers_[0].series.steps)[-6:] == list(range(6, 12))


def test_a_relog_note_of_a_console_log_without_steps_names_its_epoch(tmp_path, capsys):
    """An HF console log states no step (its reader numbers rows by epoch x 10,000) and prints
    its epoch rounded, so two loss rows can share one: watch said "loss: logged again at step
    300", a step the log never states, where the alerts and analyze say "epoch 0.03"."""
    rows = [(0.01, 2.4), (0.02, 2.2), (0.03, 1.9), (0.03, 1.8)] \
        + [(round(0.04 + 0.01 * i, 2), 1.7 - 0.01 * i) for i in range(20)]
    log = tmp_path / "train.log"
    log.write_text("".join(f"{{'loss': {loss}, 'grad_norm': 0.5, 'learning_rate': 1e-05, "
                           f"'epoch': {epoch}}}\n" for epoch, loss in rows))
    code, _, err = run_cli(capsys, log, "--metric", "loss")
    assert code == 0
    assert "loss: logged again at epoch 0.03 with another value" in err
    assert "at step 300" not in err


def test_a_replay_reads_its_log_once(tmp_path, monkeypatch):
    """A replay's whole-run summary is of the records the replay fed its monitor
    (`RunCollector`), not of a second read of the file: on a log that re-logs its metric, that
    read cost as much as the whole `analyze` (`bench_watch_relog.py`). Run to the end, its
    answer is `analyze`'s; stopped at its overfit (the default `stop_on`), it is the answer of
    the records up to the stop, as a second read of them gave it."""
    import phasewatch.io
    from phasewatch import analyze
    from phasewatch.live import LiveWatch

    log = tmp_path / "grpo.log"
    log.write_text("\n".join(grpo_console_lines(60, seed=3)) + "\n")
    quiet = {"notice": lambda message: None, "info": lambda message: None}

    def watched(**options):
        reads = []
        read_run = phasewatch.io.read_run
        with monkeypatch.context() as patch:
            patch.setattr(phasewatch.io, "read_run",
                          lambda *a: reads.append(a) or read_run(*a))
            watch = LiveWatch(log, metric="loss", **quiet, **options)
            list(watch.alerts())
        return watch, reads

    whole, reads = watched(stop_on=())
    offline = analyze(log, metric="loss")
    assert reads == [] and not whole.stopped
    assert whole.result.phases == [p.name for p in offline.phases] == ["improvement", "overfit"]
    assert whole.result.best_step == offline.recommended_stop_step

    stopped, reads = watched()
    assert reads == [] and stopped.stopped and stopped.result.to_stop
    upto = analyze(phasewatch.io.read_run(log, stopped._taken), metric="loss")
    assert stopped.result.phases == [p.name for p in upto.phases] != whole.result.phases
    assert stopped.result.best_step == upto.recommended_stop_step
