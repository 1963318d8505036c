"""`watch` as a new user runs it: a mistyped --metric, a log its writer rewrites whole, a
store its writer holds locked. Each test here reproduces a defect found by using the command
(session 16 audit) and fails without its fix."""

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
