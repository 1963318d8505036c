"""A tqdm bar whose description holds the epoch's numbers (`Train Epoch: 3 Loss: 0.512 Acc@1
71.2 Acc@5 90.1: 100%|####| 391/391 [...]`): its `name number` items were no record, so a log
of such bars alone was an unknown log format and beside `Test set:` lines its train loss was
lost."""

from __future__ import annotations

import pytest
from _files import write

from phasewatch.api import analyze
from phasewatch.errors import InputError
from phasewatch.io import read_run


def bar(desc: str, n: int, total: int = 391) -> str:
    return f"{desc}: {100 * n // total:3d}%|{'#' * (10 * n // total):10s}| {n}/{total} " \
           f"[00:42<00:00,  9.21it/s]"


def epochs(count: int = 6, partial: bool = False) -> str:
    lines = []
    for epoch in range(1, count + 1):
        desc = (f"Train Epoch: {epoch} Loss: {2.0 / epoch:.3f} Acc@1 {40 + 5 * epoch:.3f} "
                f"Acc@5 {60 + 5 * epoch:.3f}")
        if partial:  # the running values of the epoch's earlier draws, redrawn with '\r'
            lines.append("\r".join(bar(f"Train Epoch: {epoch} Loss: 9.999 Acc@1 1.000 Acc@5 "
                                       f"2.000", n) for n in (40, 200)) + "\r" + bar(desc, 391))
        else:
            lines.append(bar(desc, 391))
        lines.append(f"Test set: Average loss: {2.2 / epoch:.4f}, Acc@1: {38 + 5 * epoch:.3f}%, "
                     f"Acc@5: {58 + 5 * epoch:.3f}%")
    return "\n".join(lines) + "\n"


def test_a_bar_description_is_the_epochs_training_record(tmp_path):
    run = read_run(write(tmp_path, epochs()))
    assert sorted(run.metrics) == ["test_acc@1", "test_acc@5", "test_loss", "train_acc@1",
                                   "train_acc@5", "train_loss"]
    assert run.series("train_loss").index.tolist() == [1, 2, 3, 4, 5, 6]
    assert run.series("train_loss").tolist() == pytest.approx([2.0 / e for e in range(1, 7)],
                                                              abs=1e-3)
    assert run.series("train_acc@1").tolist() == [45.0, 50.0, 55.0, 60.0, 65.0, 70.0]
    # the training batches' top-1 stays no held-out metric: the test set's is analyzed
    assert analyze(write(tmp_path, epochs(), "b.log")).metric == "test_acc@1"


def test_bars_alone_are_a_log(tmp_path):
    text = "".join(bar(f"Epoch: {e} loss: {1.0 / e:.4f} acc {50 + e:.2f}", 100, 100) + "\n"
                   for e in range(1, 6))
    run = read_run(write(tmp_path, text))
    assert sorted(run.metrics) == ["acc", "loss"]
    assert run.series("loss").index.tolist() == [1, 2, 3, 4, 5]


def test_an_unfinished_draw_is_no_record(tmp_path):
    run = read_run(write(tmp_path, epochs(partial=True)))
    assert run.series("train_loss").tolist() == pytest.approx([2.0 / e for e in range(1, 7)],
                                                              abs=1e-3)


@pytest.mark.parametrize("text", [
    # a description of prose before the bar: no record (and no log)
    "".join(bar(f"Epoch {e} is going well with 3 workers", 100, 100) + "\n" for e in range(1, 6)),
    # integers only: counts, no measurement
    "".join(bar(f"Epoch {e} files 3", 100, 100) + "\n" for e in range(1, 6)),
])
def test_a_description_of_anything_else_is_no_record(tmp_path, text):
    with pytest.raises(InputError):
        read_run(write(tmp_path, text))


def test_a_split_is_named_as_on_a_summary_line(tmp_path):
    """A bar's split and a summary line's take one map of prefixes (`kv_set_lines.SPLIT_PREFIXES`):
    a `Dev Epoch: 3 Loss: ...` bar was no split's and its dev loss read as `Loss`, a train loss,
    where `Dev set: Average loss: ...` gives `dev_loss`."""
    text = "".join(bar(f"Train Epoch: {e} Loss: {1.0 / e:.4f}", 391) + "\n"
                   + bar(f"Dev Epoch: {e} Loss: {1.2 / e:.4f}", 40, 40) + "\n"
                   for e in range(1, 6))
    run = read_run(write(tmp_path, text))
    assert sorted(run.metrics) == ["dev_loss", "train_loss"]
    assert analyze(write(tmp_path, text, "b.log")).metric == "dev_loss"
