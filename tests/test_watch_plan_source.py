"""`watch` says which planned length its monitor judges "early" against, and where it came from
(trial 32, finding 2: a W&B / Trackio config's `steps` changed the live alerts of values that
a JSONL copy of the same run alerted on differently, and nothing said why): once on stderr when
the monitor starts, and in the summary (the stderr line and the JSONL `planned` object)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phasewatch.cli import main

PLAN_SAID = "planned length: "


def _rows(n: int = 21, every: int = 10, epoch_steps: int | None = None) -> list[dict]:
    """A held-out loss that rises from its first evaluation (the plan decides what is early)."""
    rows = []
    for k in range(n):
        row = {"step": every * k, "val/loss": round(0.42 + 0.01 * k + 0.002 * (-1) ** k, 4)}
        if epoch_steps:
            row["epoch"] = round(every * k / epoch_steps, 4)
        rows.append(row)
    return rows


def _log(path: Path, rows: list[dict], settings: dict | None = None) -> str:
    lines = ([settings] if settings is not None else []) + rows  # a first record without a
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))  # step: the run's settings
    return str(path)


def _watch(capsys, path: str, *options: str) -> tuple[dict, str]:
    assert main(["watch", path, "--format", "jsonl", *options]) in (0, 1)
    out, err = capsys.readouterr()
    return json.loads(out.splitlines()[-1]), err


def _summary_line(err: str) -> str:
    return next(line for line in err.splitlines() if line.startswith("phasewatch: watched"))


def test_a_plan_from_the_config_is_said_at_the_start_and_in_the_summary(capsys, tmp_path):
    path = _log(tmp_path / "run.jsonl", _rows(), {"max_steps": 200, "lr": 3e-4})
    summary, err = _watch(capsys, path)
    said = [line for line in err.splitlines() if PLAN_SAID in line]
    assert said == [("phasewatch: planned length: 200 steps, from the run's config `max_steps`; "
                     "the monitor judges what is early against it (--planned-steps overrides)")]
    assert err.index(PLAN_SAID) < err.index("phasewatch: watched")
    assert summary["planned"] == {"steps": 200, "from": "config", "key": "max_steps"}
    assert "; planned length 200 steps (from the run's config `max_steps`)" in _summary_line(err)


def test_the_option_and_a_script_argument_are_named(capsys, tmp_path):
    path = _log(tmp_path / "run.jsonl", _rows(), {"args": {"max_steps": 400}})
    summary, err = _watch(capsys, path)
    assert summary["planned"] == {"steps": 400, "from": "config", "key": "args.max_steps"}
    assert "planned length: 400 steps, from the run's config `args.max_steps`" in err
    summary, err = _watch(capsys, path, "--planned-steps", "300")
    assert summary["planned"] == {"steps": 300, "from": "option", "key": None}
    assert "planned length: 300 steps, from --planned-steps; the monitor judges what is early " \
           "against it\n" in err
    assert "(from --planned-steps)" in _summary_line(err)


def test_no_plan_says_nothing_and_the_summary_says_null(capsys, tmp_path):
    summary, err = _watch(capsys, _log(tmp_path / "run.jsonl", _rows()))
    assert summary["planned"] is None and PLAN_SAID not in err
    assert "planned length" not in _summary_line(err)


def test_the_same_values_with_and_without_a_plan_say_why_they_differ(capsys, tmp_path):
    """The trial's case: the same values, one copy with a plan in its config."""
    plain = _log(tmp_path / "plain.jsonl", _rows())
    planned = _log(tmp_path / "planned.jsonl", _rows(), {"max_steps": 200})
    without, err_without = _watch(capsys, plain)
    with_plan, err_with = _watch(capsys, planned)
    assert without["planned"] is None and with_plan["planned"]["steps"] == 200
    assert PLAN_SAID not in err_without and PLAN_SAID in err_with


def test_a_plan_in_epochs_is_said_once_when_the_first_epoch_gives_it(capsys, tmp_path):
    """HF set by epochs (`max_steps` -1): `num_train_epochs` x the steps an epoch takes, from
    the logged `epoch`; said once (it is refined as the run goes on), its last value in the
    summary."""
    path = _log(tmp_path / "run.jsonl", _rows(epoch_steps=50),
                {"max_steps": -1, "num_train_epochs": 4})
    summary, err = _watch(capsys, path)
    said = [line for line in err.splitlines() if PLAN_SAID in line]
    assert said == [("phasewatch: planned length: 200 steps, from the run's config "
                     "`num_train_epochs` 4 x the 50 steps an epoch takes, as the `epoch` it logs "
                     "says, refined as the run goes on; the monitor judges what is early against "
                     "it (--planned-steps overrides)")]
    assert summary["planned"] == {"steps": 200, "from": "epochs", "key": "num_train_epochs"}


def test_a_plan_stated_by_a_console_log_is_said_as_the_log_states_it(capsys, tmp_path):
    prefix = "2025-12-27 22:12:56.867\tnode-03:0\tolmo.train:990\tINFO\t"
    lines = []
    for k, row in enumerate(_rows(n=21, every=10)[1:], start=1):
        lines += [prefix + f"[step={row['step']}/300,epoch=0]",
                  f"    eval/val/CrossEntropyLoss={row['val/loss']}"]
    path = tmp_path / "train.log"
    path.write_text("\n".join(lines) + "\n")
    summary, err = _watch(capsys, str(path))
    assert "planned length: 300 steps, stated by the log: the console's `[step=N/MAX]`" in err
    assert summary["planned"] == {"steps": 300, "from": "log", "key": "max_steps"}


@pytest.mark.parametrize("settings", [{"max_steps": 200},
                                      {"max_steps": -1, "num_train_epochs": 4}])
def test_a_follow_says_what_a_replay_says(capsys, tmp_path, settings):
    path = _log(tmp_path / "run.jsonl", _rows(epoch_steps=50), settings)
    replayed, err_replayed = _watch(capsys, path)
    followed, err_followed = _watch(capsys, path, "--follow", "--idle-exit", "0.5")
    assert followed == replayed
    said = [[line for line in err.splitlines() if PLAN_SAID in line]
            for err in (err_replayed, err_followed)]
    assert said[0] == said[1] and len(said[0]) == 1


def test_a_native_run_config_steps_is_named(capsys, tmp_path):
    """The key the trial's W&B and Trackio runs carried (`config={"steps": 200}`), here in a
    native run folder's run.json."""
    folder = tmp_path / "run"
    folder.mkdir()
    _log(folder / "metrics.jsonl", _rows())
    (folder / "run.json").write_text(json.dumps({"schema_version": 1, "name": "t",
                                                 "config": {"steps": 200}}))
    summary, err = _watch(capsys, str(folder))
    assert "planned length: 200 steps, from the run's config `steps`;" in err
    assert summary["planned"] == {"steps": 200, "from": "config", "key": "steps"}
