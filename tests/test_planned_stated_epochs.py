"""Planned lengths from a logged epoch, read as exact as it is printed, and from a config's
`epochs` where a run's steps are its epochs.

Was (trial 39c): wandb-mistral-qlora-trainloss-409 logs `train/epoch` rounded to 0.01 (0.00
for steps 10-2500, 0.01 from 2510; its epoch takes ~500,000 steps), and its plan read 4090 /
0.01: inspect said "planned to end at step 409000", watch "251000 ... refined"; analyze gave no
"the log ends before its plan" warning, as the W&B exit record (exit code 255) counted as the
run finishing. wandb-naver-bert-10ep holds `epochs: 10` and one row per epoch at steps 0-9,
yet took no plan: watch called its held-out loss's rise from epoch 1 a disruption at 7 with
best checkpoint 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.planned import epoch_plan
from phasewatch.whole_plan import run_plan

DATA = Path(__file__).resolve().parents[1] / "benchmarks/real_corpus/data"


def _log(path: Path, settings: dict, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in [settings, *rows]))
    return str(path)


def _watch(capsys, path: str, *options: str) -> tuple[dict, str]:
    assert main(["watch", path, "--format", "jsonl", *options]) in (0, 1)
    out, err = capsys.readouterr()
    return json.loads(out.splitlines()[-1]), err


def test_a_rounded_epoch_gives_only_the_plan_its_digits_fix():
    assert epoch_plan(1.0, 2510, {"train/epoch": 0.01}, rounded=True) is None
    assert epoch_plan(1.0, 4090, {"train/epoch": 0.01}, rounded=True, least=True) == 272_666
    assert epoch_plan(2.0, 50, {"train/epoch": 0.25}) == 400  # nothing says it is rounded
    assert epoch_plan(1.0, 400_000, {"train/epoch": 0.8}, rounded=True) == 500_000


def _mistral_like(tmp_path) -> str:
    rows = [{"step": s, "train/loss": round(1.5 - s / 40_000, 4),
             "train/epoch": round(s / 500_000, 2)} for s in range(10, 4091, 10)]
    return _log(tmp_path / "run.jsonl", {"num_train_epochs": 1, "max_steps": -1}, rows)


def test_a_rounded_epoch_column_plans_nothing_live_or_after(tmp_path, capsys):
    path = _mistral_like(tmp_path)
    summary, err = _watch(capsys, path)
    assert summary["planned"] is None and "planned length" not in err
    assert run_plan(read_run(path)) is None
    assert main(["analyze", path]) in (0, 1)
    out = capsys.readouterr().out
    assert "the log ends at step 4090, before the step 272666 or a later one its run plans" in out


def _per_epoch(n: int) -> list[dict]:
    losses = [0.437, 0.385, 0.393, 0.45, 0.5, 0.546, 0.6, 0.606, 0.755, 0.657, 0.7, 0.71]
    return [{"step": k, "train_loss": round(0.6 / (k + 1), 4), "val_loss": losses[k % 12],
             "val_acc": 0.8} for k in range(n)]


def test_a_config_epochs_is_the_plan_of_a_run_whose_steps_are_its_epochs(tmp_path, capsys):
    path = _log(tmp_path / "run.jsonl", {"batch_size": 2, "epochs": 10}, _per_epoch(10))
    summary, err = _watch(capsys, path, "--metric", "val_loss")
    assert summary["planned"] == {"steps": 9, "from": "epoch_count", "key": "epochs"}
    assert ("planned length: up to step 9, from the run's config `epochs` 10, as its steps are "
            "its epochs, a row each") in err
    assert run_plan(read_run(path)) == 9


@pytest.mark.parametrize("rows", ["past_the_epochs", "per_batch"])
def test_steps_that_are_not_the_epochs_take_no_plan(tmp_path, capsys, rows):
    if rows == "past_the_epochs":
        table = _per_epoch(12)
    else:  # a train loss every step, the held-out loss every 5: rows per batch
        table = [{"step": s, "loss": 1 / (s + 1), **({"val_loss": 0.5} if s % 5 == 0 else {})}
                 for s in range(10)]
    path = _log(tmp_path / "run.jsonl", {"epochs": 10}, table)
    summary, err = _watch(capsys, path, "--metric", "val_loss")
    assert summary["planned"] is None
    assert run_plan(read_run(path)) is None
    if rows == "past_the_epochs":
        assert "planned length dropped: the row at step 10 shows the steps are not" in err


@pytest.mark.skipif(not (DATA / "wandb-mistral-qlora-trainloss-409").is_dir(),
                    reason="real corpus log absent")
def test_a_wandb_exit_code_other_than_0_is_no_finished_run():
    pytest.importorskip("wandb")
    mistral = read_run(DATA / "wandb-mistral-qlora-trainloss-409")
    assert not mistral.finished and run_plan(mistral) is None
    assert read_run(DATA / "wandb-naver-bert-10ep").finished  # exit code 0
    assert run_plan(read_run(DATA / "wandb-naver-bert-10ep")) == 9
