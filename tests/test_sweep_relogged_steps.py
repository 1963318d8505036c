"""`watch` on a log that prints several values of its metric at one step (CleanRL-style RL
scripts: `global step=N, episodic return=X` once per episode ending at that step).

Offline the mean of a step's rows is read where every step has as many (`step_rows`), else
the last; live, each re-logged value used to make the monitor rewind and refit, which took
minutes on a few thousand lines (a real W&B `output.log` of 28k lines timed out) and repeated
alerts with each superseded value."""

from __future__ import annotations

import math

import numpy as np
from watch_follower import replay

from phasewatch import analyze
from phasewatch.online import PhaseMonitor


def episodes_log(path, episodes_per_step: int, seed: int = 0) -> None:
    """A rising then falling return, several episodes ending at each global step."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(120):
        step = 2048 * (i + 1)
        level = 10 + 40 * min(i, 60) / 60 - 25 * max(i - 80, 0) / 40
        for _ in range(episodes_per_step):
            lines.append(f"global step={step}, episodic return={level + rng.normal(0, 2):.4f}")
    path.write_text("\n".join(lines) + "\n")


def mean_per_step(source, path) -> None:
    """The same log with one line a step, the mean of its episodes (summed exactly, as
    `step_rows.exact_mean`): what `RecordCollector` reads of 6 episodes at every step."""
    rows: dict[str, list[float]] = {}
    for line in source.read_text().splitlines():
        head, value = line.split(", episodic return=")
        rows.setdefault(head, []).append(float(value))
    path.write_text("".join(f"{head}, episodic return={math.fsum(v) / len(v)!r}\n"
                            for head, v in rows.items()))


def test_relogged_values_of_a_step_are_resolved_before_the_monitor(tmp_path, monkeypatch):
    log, last = tmp_path / "output.log", tmp_path / "last.log"
    episodes_log(log, episodes_per_step=6)
    mean_per_step(log, last)
    rewinds: list[int] = []
    real_rewind = PhaseMonitor.rewind

    def counted_rewind(self, step):
        rewinds.append(step)
        return real_rewind(self, step)

    monkeypatch.setattr(PhaseMonitor, "rewind", counted_rewind)
    alerts, result = replay(log, stop_on=())
    assert rewinds == []  # each step reaches the monitor once, with the mean of its rows
    want_alerts, want = replay(last, stop_on=())
    assert alerts == want_alerts and len(alerts) >= 2
    assert (result.metric, result.phase, result.best_step) == \
        (want.metric, want.phase, want.best_step) == ("episodic return", want.phase, want.best_step)
    assert (result.n_records, want.n_records) == (720, 120)  # the rows, as inspect counts
    assert result.best_step == analyze(log).recommended_stop_step


def test_a_step_of_separate_metrics_still_reaches_the_monitor_row_by_row(tmp_path):
    """Rows of one step with different metrics (a train row, then an eval row) are not
    re-logged values: they are fed as before (the record count is the rows')."""
    log = tmp_path / "metrics.jsonl"
    rng = np.random.default_rng(1)
    rows = []
    for i in range(60):
        rows.append(f'{{"step": {10 * i}, "loss": {2 - i / 40 + rng.normal(0, 0.01):.4f}}}')
        rows.append(f'{{"step": {10 * i}, "eval_loss": {2.1 - i / 50 + rng.normal(0, 0.01):.4f}}}')
    log.write_text("\n".join(rows) + "\n")
    _, result = replay(log, stop_on=())
    assert result.metric == "eval_loss" and result.n_records == 120


def test_a_metric_relogged_between_other_rows_of_its_step_is_refitted_once_a_step(tmp_path,
                                                                                 monkeypatch):
    """Rows of other metrics between the re-logged values (a GRPO script printing the loss and
    its batch counters at one step): the rows of a step are merged before the monitor sees the
    step, so nothing is rewound and each step is refitted once, with the mean of its 4 rows
    (it made one rewind and refit per re-logged value), and no alert is said twice."""
    import json

    import phasewatch.analysis
    from phasewatch.online import offline_fit

    rng = np.random.default_rng(0)
    rows = [row for step in range(40) for k in range(4)
            for row in ({"step": step, "loss": 1 / (1 + step) + 0.05 * rng.standard_normal()},
                        {"step": step, "skipped": k})]
    log = tmp_path / "relogged.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    calls = []
    original = phasewatch.analysis.analyze_run

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    rewinds: list[int] = []
    real_rewind = PhaseMonitor.rewind
    monkeypatch.setattr(PhaseMonitor, "rewind",
                        lambda self, step: (rewinds.append(step), real_rewind(self, step))[1])
    offline_fit._offline_phases.cache_clear()
    monkeypatch.setattr(phasewatch.analysis, "analyze_run", counting)
    alerts, result = replay(log, stop_on=())
    info = offline_fit._offline_phases.cache_info()
    # computed at most once a step (a hit is the dip test's refit of all but the latest value,
    # computed at the step before, served from the cache)
    assert rewinds == [] and 0 < info.misses <= 40
    assert len(calls) == info.misses + 1  # and the whole-run answer at the end
    keys = [(a.event, a.step, a.onset_step, a.best_step) for a in alerts]
    assert len(keys) == len(set(keys)) and keys, keys
    assert result.n_records == 320  # 4 loss rows and 4 rows of counters a step
