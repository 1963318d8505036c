"""Several held-out series behind one role whose names differ by something trained apart (a
Chainer nnPU log's `test/nnPU/error` and `test/uPU/error`, each estimator with its own
`nnPU/loss`, `uPU/loss`: two estimators on one test set) are called held-out series, not
validation sets, and their mean is not offered; one model's validation sets (`val/gsm8k/loss`,
`eval_gsm8k_accuracy`) keep the notice and its `--aggregate mean`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from cli_json import analyzed

from phasewatch.cli import main


def _write(path: Path, names: dict[str, float]) -> Path:
    """30 rows: each of `names` (`name: rate`) a decaying curve plus a little wobble."""
    rows = [{"step": 10 * k, **{name: round(0.2 + 0.3 * math.exp(-k / rate) + 0.002 * (k % 3), 5)
                                for name, rate in names.items()}} for k in range(1, 31)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _notice(warnings: list[str]) -> str:
    return next(w for w in warnings if " hold eval/" in w)


def _inspected(capsys, path: Path) -> dict:
    assert main(["inspect", str(path), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["performance"]


def test_two_estimators_on_one_test_set_are_no_validation_sets(tmp_path, capsys):
    log = _write(tmp_path / "log.jsonl", {
        "nnPU/loss": 8, "uPU/loss": 5, "train/nnPU/error": 8, "train/uPU/error": 5,
        "test/nnPU/error": 8, "test/uPU/error": 6})
    notice = _notice(analyzed(capsys, log)["warnings"])
    assert notice.startswith("2 held-out series hold eval/other_score: test/nnPU/error, "
                             "test/uPU/error (nnPU and uPU each have a training series of "
                             "their own")
    assert "--aggregate" not in notice and "validation sets hold" not in notice
    assert _inspected(capsys, log)["sets_kind"] == "held-out series"


@pytest.mark.parametrize("names", [
    # one model's validation sets, one train loss
    {"train/loss": 9, "val/gsm8k/loss": 8, "val/math/loss": 6},
    # a multi-task run's per-dataset train losses beside the model's one loss
    {"train/loss": 9, "train/gsm8k/loss": 8, "train/math/loss": 6, "val/gsm8k/loss": 8,
     "val/math/loss": 6},
    # HF's named evaluation sets
    {"loss": 9, "eval_gsm8k_accuracy": 8, "eval_math_accuracy": 6},
])
def test_one_models_validation_sets_keep_the_mean_offered(tmp_path, capsys, names):
    log = _write(tmp_path / "log.jsonl", names)
    notice = _notice(analyzed(capsys, log)["warnings"])
    assert notice.startswith("2 validation sets hold eval/")
    assert notice.endswith("or analyse their mean with --aggregate mean")
    assert "trained apart" not in notice
    assert _inspected(capsys, log)["sets_kind"] == "validation sets"
