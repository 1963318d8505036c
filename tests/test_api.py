"""The public API a notebook uses: the same answers as the commands, lazily imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import phasewatch
from phasewatch.cli import main

ROOT = Path(__file__).resolve().parents[1]
SFT = ROOT / "sample_logs" / "sft"


def cli_json(capsys, *argv):
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_all_names_resolve():
    for name in phasewatch.__all__:
        assert getattr(phasewatch, name) is not None, name
    assert {"analyze", "watch", "changepoints", "read_run"} <= set(phasewatch.__all__)


def test_analyze_takes_a_path_or_a_run_and_the_cli_options(capsys):
    doc = json.loads(cli_json(capsys, "analyze", str(SFT), "--format", "json",
                              "--baseline", "mean-of-first:3", "--keep-outliers"))
    from_path = phasewatch.analyze(SFT, baseline="mean-of-first:3", keep_outliers=True)
    from_run = phasewatch.analyze(phasewatch.read_run(SFT), baseline="mean-of-first:3",
                                  keep_outliers=True)
    assert json.loads(json.dumps(from_path.to_dict())) == doc["runs"][0]
    assert from_run.to_dict() == from_path.to_dict()
    with pytest.raises(TypeError, match="unknown option"):
        phasewatch.analyze(SFT, baselin="first")


def test_changepoints_equals_the_command(capsys):
    doc = json.loads(cli_json(capsys, "changepoints", str(SFT), "--metric", "eval/accuracy",
                              "--metric", "expert/nll_heldout", "--format", "json"))
    doc.pop("schema_version")
    got = phasewatch.changepoints(SFT, ["eval/accuracy", "expert/nll_heldout"])
    assert json.loads(json.dumps(got)) == doc


def test_watch_yields_the_alerts_the_command_prints(capsys):
    lines = cli_json(capsys, "watch", str(SFT), "--format", "jsonl").splitlines()
    alerts = list(phasewatch.watch(SFT, stop_on=()))
    assert [a.to_dict() for a in alerts] == [json.loads(x) for x in lines[:-1]]
    assert len(alerts) >= 2
    assert [a.event for a in phasewatch.watch(SFT)][-1] == "overfit"  # stops there by default


def test_import_stays_light():
    code = ("import sys, phasewatch; print(sorted(m for m in ('pandas', 'numpy', 'scipy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout
    assert out.strip() == "[]"


def test_a_notebook_finds_and_uses_the_names_as_documented():
    """Tab completion lists the lazily loaded names; a LiveWatch iterates like `watch`; a bad
    option says which ones there are (a new-user trial hit each of these)."""
    assert {"analyze", "watch", "changepoints", "LiveWatch", "read_run"} <= set(dir(phasewatch))
    quiet = {"notice": lambda m: None, "info": lambda m: None}
    assert [a.to_dict() for a in phasewatch.LiveWatch(SFT, stop_on=(), **quiet)] == \
        [a.to_dict() for a in phasewatch.watch(SFT, stop_on=())]
    with pytest.raises(phasewatch.UsageError, match="options are .*window"):
        phasewatch.watch(SFT, windw=5)
    with pytest.raises(phasewatch.UsageError, match="not one of linear, mean, normal, kernel"):
        phasewatch.changepoints(SFT, "eval/accuracy", model="xx")


def test_api_errors_name_the_keyword_arguments_not_the_flags(capsys):
    from phasewatch.errors import UsageError

    with pytest.raises(UsageError, match=r"^baseline 'bogus' not understood"):
        phasewatch.analyze(SFT, baseline="bogus")
    with pytest.raises(UsageError, match=r"^noise_sd -1"):
        phasewatch.analyze(SFT, noise_sd=-1)
    with pytest.raises(UsageError, match=r"^min_size must be at least 2"):
        phasewatch.changepoints(SFT, "eval/accuracy", min_size=1)
    # the command line keeps its flags
    assert main(["changepoints", str(SFT), "--metric", "eval/accuracy", "--min-size", "1"]) == 2
    assert "--min-size must be at least 2" in capsys.readouterr().err


@pytest.mark.parametrize("call", [lambda: phasewatch.analyze(123),
                                  lambda: phasewatch.changepoints(None, "eval/accuracy"),
                                  lambda: phasewatch.read_run(1.5),
                                  lambda: phasewatch.watch(123)])
def test_a_path_that_is_not_a_path_is_a_usage_error(call):
    from phasewatch.errors import UsageError

    with pytest.raises(UsageError, match=r"expected a log path \(str or pathlib.Path\)"):
        call()


def test_stop_on_takes_one_event_as_a_string():
    alerts = list(phasewatch.watch(SFT, stop_on="overfit"))
    assert alerts[-1].event == "overfit"
    assert [a.to_dict() for a in alerts] == \
        [a.to_dict() for a in phasewatch.watch(SFT, stop_on=("overfit",))]
