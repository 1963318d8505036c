"""A classifier's top-1 accuracy with no split named (`heldout_names.BARE_TOP1`): a CSV of
`epoch,loss,top1,top5` was judged by its loss, the `top1` beside it given no role."""

from __future__ import annotations

import pytest

from phasewatch.analysis import analyze_run
from phasewatch.io import read_run


@pytest.mark.parametrize("name", ["top1", "acc1"])
def test_a_bare_top1_column_is_the_held_out_accuracy(tmp_path, name):
    path = tmp_path / "log.csv"
    path.write_text(f"epoch,loss,{name},top5\n" + "".join(
        f"{e},{3.0 - 0.3 * e:.2f},{10.0 + 5 * e:.1f},{30.0 + 5 * e:.1f}\n" for e in range(8)))
    assert analyze_run(read_run(path)).metric == name
    beside = tmp_path / "beside.csv"  # a split's top-1 beside it is the one chosen
    beside.write_text(f"epoch,loss,{name},val_top1\n" + "".join(
        f"{e},{3.0 - 0.3 * e:.2f},{10.0 + 5 * e:.1f},{8.0 + 4 * e:.1f}\n" for e in range(8)))
    assert analyze_run(read_run(beside)).metric == "val_top1"
