"""A custom loop's print each epoch kept by nohup: `epoch: 1 loss: 0.0822` (one item) between
tqdm bars, and `epoch: 1 loss: 0.7588  acc: 0.5794 val loss: 3.1738 val acc: 0.1016` (names of
two words). Both were console noise to `kv_console`: the first holds one number, the second
words between its items."""

from __future__ import annotations

from functools import partial

import pytest
from _files import write as _write_log

from phasewatch.errors import InputError
from phasewatch.io import read_run, sniff_format

write = partial(_write_log, name="nohup.out")


def _bar(epoch: int) -> str:
    """tqdm's bar as nohup keeps it: carriage returns within one line."""
    return "\r".join(f"Epoch {epoch}: {p:3d}%|{'#' * (p // 10):<10}| {p * 9}/900 "
                     f"[00:0{p // 50}<00:01]" for p in (0, 50, 100)) + "\n"


def test_one_item_per_epoch_between_progress_bars_is_a_series(tmp_path):
    text = "".join(_bar(e) + f"epoch: {e} loss: {1.0 / (e + 1):.6f}\n" for e in range(8))
    path = write(tmp_path, "Using device: cuda\n" + text)
    assert sniff_format(path).FORMAT == "kv_console"
    run = read_run(path)
    assert run.step_unit == "epoch"
    assert run.series("loss").index.tolist() == list(range(8))
    assert run.series("loss")[3] == pytest.approx(0.25)


def test_names_of_two_words_after_an_epoch_token_are_kept_whole(tmp_path):
    lines = [f"ETA: 0.{e}8 - epoch: {e} loss: {0.8 - 0.05 * e:.5f}  acc: {0.5 + 0.03 * e:.5f} "
             f"val loss: {1.2 - 0.04 * e:.5f} val acc: {0.4 + 0.04 * e:.5f}" for e in range(1, 9)]
    run = read_run(write(tmp_path, "\n".join(lines) + "\n"))
    assert sorted(run.metrics) == ["acc", "loss", "val acc", "val loss"]
    assert run.series("val acc").index.tolist() == list(range(1, 9))
    from phasewatch.analysis import analyze_run

    assert analyze_run(run).metric == "val acc"  # the held-out accuracy, by its spaced name
    timed = read_run(write(tmp_path, "".join(
        f"Epoch: {e} loss: {0.5 - 0.01 * e:.3f} cost time: {10 + e / 3:.3f}\n"
        for e in range(1, 6)), name="timed.log"))
    assert sorted(timed.metrics) == ["cost time", "loss"]


@pytest.mark.parametrize("text", [
    "".join(f"Step {k}: The probability: 0.{k}5\n" for k in range(1, 5)),  # a model's sample
    "".join(f"Step {k} the loss: 0.{k} and acc: 0.{k}3\n" for k in range(1, 5)),  # prose
    "".join(f"Step {k}: x: 0.{k}\n" for k in range(1, 5)),  # one item after a step: a sample's
])
def test_prose_with_one_item_or_joined_by_words_stays_unknown(tmp_path, text):
    with pytest.raises(InputError, match="unknown log format"):
        read_run(write(tmp_path, text, name="sample.log"))
