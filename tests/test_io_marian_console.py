"""Marian NMT's logs (`io.marian_console`), written here with the format strings Marian's
scheduler logs with (`training/scheduler.h`): `Ep. {} : Up. {} : {} : {} : new best` and
`... : stalled {} times (last best: {})` for each validator after `[valid]`, and `Ep. {} : Up. {}
: Sen. {} : {} : Time {:.2f}s : {:.2f} words/s : gNorm {:.4f} : L.r. {:.4e}` for the training,
its `{}` the `Cost {:.8f}` of `formatLoss`; each line after the logger's `[%Y-%m-%d %T]`."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from _files import notebook_cell, read_as
from cli_json import analyzed, watched

from phasewatch.io import read_run, sniff_format

VALID_FREQ, UPDATES = 2000, 40_000


def _curves(rng) -> dict[int, dict[str, float]]:
    """Per validation update: a cross-entropy that falls to its lowest at update 16000 and
    rises after, and a BLEU that mirrors it."""
    out = {}
    for up in range(VALID_FREQ, UPDATES + 1, VALID_FREQ):
        fall = 40 * (1 - math.exp(-up / 5000))
        ce = 110 - fall + 0.0012 * max(up - 16_000, 0) + rng.normal(0, 0.3)
        out[up] = {"cross-entropy": ce, "perplexity": math.exp(ce / 25),
                   "bleu-detok": 8 + 0.5 * fall - 0.0006 * max(up - 16_000, 0) + rng.normal(0, 0.1)}
    return out


def _valid_lines(curves, order: list[str]) -> dict[int, list[str]]:
    """The `[valid]` lines of each validation, as `Scheduler::validate` logs them."""
    best = {name: None for name in order}
    stalled = {name: 0 for name in order}
    out = {}
    for up, values in curves.items():
        lines = []
        for name in order:
            value, last = values[name], best[name]
            lower = name != "bleu-detok"
            if last is None or (value < last if lower else value > last):
                best[name], stalled[name] = value, 0
                tail = "new best"
            else:
                stalled[name] += 1
                tail = f"stalled {stalled[name]} times (last best: {last:g})"
            lines.append(f"[2021-03-04 10:{up // 1000:02d}:00] [valid] Ep. {1 + up // 15_000} : "
                         f"Up. {up} : {name} : {value:g} : {tail}")
        out[up] = lines
    return out


def test_a_valid_log_is_read_on_its_first_validator(capsys, tmp_path):
    curves = _curves(np.random.default_rng(3))
    path = tmp_path / "valid.log"
    order = ["cross-entropy", "perplexity", "bleu-detok"]
    path.write_text("".join(line + "\n" for lines in _valid_lines(curves, order).values()
                            for line in lines))
    assert sniff_format(path).FORMAT == "marian_console"
    run = analyzed(capsys, path)
    assert (run["metric"], run["direction"]) == ("valid/cross-entropy", "min")
    assert [p["name"] for p in run["phases"]] == ["improvement", "overfit"]
    assert abs(run["recommended_stop_step"] - 16_000) <= 4 * VALID_FREQ
    assert set(read_run(path).metrics) == {"valid/cross-entropy", "valid/perplexity",
                                           "valid/bleu-detok", "epoch"}


def _train_lines(curves) -> list[str]:
    """The training log: its settings first, then the training lines every 500 updates and the
    validations among them, BLEU the first validator."""
    valid = _valid_lines(curves, ["bleu-detok", "cross-entropy"])
    lines = ["[2021-03-04 10:00:00] [marian] Marian v1.11.0 f00d062 2022-02-08 08:39:24 -0800",
             "[2021-03-04 10:00:00] [config] valid-metrics:",
             "[2021-03-04 10:00:00] [config]   - bleu-detok",
             "[2021-03-04 10:00:00] [config]   - cross-entropy"]
    for up in range(500, UPDATES + 1, 500):
        cost = 9.0 * math.exp(-up / 8000) + 2.0
        lines.append(f"[2021-03-04 10:{up // 1000:02d}:00] Ep. {1 + up // 15_000} : Up. {up} : "
                     f"Sen. {up * 64:,} : Cost {cost:.8f} : Time {12.345:.2f}s : "
                     f"{15234.5:.2f} words/s : gNorm {1.2345:.4f} : L.r. {3e-4:.4e}")
        lines += valid.get(up, [])
    return lines


def test_a_train_log_adds_its_training_lines(capsys, tmp_path):
    """The training log, BLEU the first validator: higher is better."""
    path = Path(tmp_path / "train.log")
    path.write_text("\n".join(_train_lines(_curves(np.random.default_rng(5)))) + "\n")
    run = analyzed(capsys, path)
    assert (run["metric"], run["direction"]) == ("valid/bleu-detok", "max")
    assert run["phases"][-1]["name"] == "overfit"
    assert abs(run["recommended_stop_step"] - 16_000) <= 4 * VALID_FREQ
    loss = read_run(path).series("train/loss")
    assert loss.index[0] == 500 and loss.size == UPDATES // 500
    assert abs(loss.iloc[0] - (9.0 * math.exp(-500 / 8000) + 2.0)) < 1e-6
    summary, _ = watched(capsys, path)
    assert summary["metric"] == "valid/bleu-detok"


def test_a_notebook_cell_that_ran_marian_is_read_as_its_log(capsys, tmp_path):
    """`!marian -c config.yml` in a notebook: the cell's output holds the log Marian writes to
    stderr, read as the same log in a file is (it was no training output of the notebook)."""
    lines = _train_lines(_curves(np.random.default_rng(5)))
    book = notebook_cell(tmp_path, "!marian -c config.yml", "\n".join(lines) + "\n")
    run = read_as(book, "marian_console")
    logged = tmp_path / "train.log"
    logged.write_text("\n".join(lines) + "\n")
    assert run.metrics == read_run(logged).metrics
    assert run.series("valid/bleu-detok").equals(read_run(logged).series("valid/bleu-detok"))
    result = analyzed(capsys, book)
    assert (result["metric"], result["direction"]) == ("valid/bleu-detok", "max")
