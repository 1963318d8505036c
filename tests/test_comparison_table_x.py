"""`analyze RUN1 RUN2 --x epoch`: the comparison table gives each run's stop and phases in the
unit its phase lines give them, named once in the header, where it gave steps: two runs of
the same curve, one of 100 steps an epoch and one of 50, both read "stop 240" beside phase
lines that said epoch 2.4 and epoch 4.8."""

from __future__ import annotations

import json
import math

from phasewatch.cli import main


def write_run(path, steps_per_epoch: int) -> None:
    """An evaluation every 10 steps to step 400: an accuracy that rises, peaks at step 240 and
    falls, with the `epoch` the Trainer logs beside it (`steps_per_epoch` steps an epoch)."""
    rows = []
    for k, step in enumerate(range(10, 401, 10)):
        accuracy = (0.5 + 0.3 * (1 - math.exp(-step / 100)) - 0.0004 * max(0, step - 240)
                    + 0.002 * ((k * 7) % 5 - 2))
        rows.append({"step": step, "epoch": step / steps_per_epoch, "loss": 2 * math.exp(-step / 200),
                     "eval_accuracy": round(accuracy, 4)})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def table(out: str) -> list[str]:
    """The comparison table's lines: from its header to the end."""
    lines = out.splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.startswith("run ")):]


def test_the_comparison_table_is_in_the_x_unit(tmp_path, capsys):
    paths = [tmp_path / "fast.jsonl", tmp_path / "slow.jsonl"]
    write_run(paths[0], 100)
    write_run(paths[1], 50)
    assert main(["analyze", *map(str, paths), "--x", "epoch", "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    stops = [run["recommended_stop_step"] for run in runs]
    assert stops[0] == stops[1]  # one curve: one step, two epochs
    epochs = [run["x"]["recommended_stop"] for run in runs]
    assert epochs == [stops[0] / 100, stops[0] / 50]
    assert main(["analyze", *map(str, paths), "--x", "epoch"]) == 0
    out = capsys.readouterr().out
    header, *rows = table(out)
    assert "stop epoch" in header and header.endswith("phases @epoch")
    for run, row, epoch in zip(runs, rows, epochs):
        assert f"recommended stop: epoch {epoch:.4g} (step {stops[0]})" in out
        phases = " > ".join(f"{p['name']}@{p['start_x']:.4g}" for p in run["phases"])
        assert row.split()[3] == f"{epoch:.4g}" and row.endswith(phases)
    assert rows[1].endswith(f"@{epochs[1]:.4g}")  # (the slow run's epochs, twice the fast's)
    assert main(["analyze", *map(str, paths)]) == 0  # in steps without --x, as before
    header, fast, slow = table(capsys.readouterr().out)
    assert header.endswith("stop   at stop  phases")
    assert fast.split()[3] == slow.split()[3] == str(stops[0])
    assert fast.endswith(f"@{stops[0]}") and slow.endswith(f"@{stops[0]}")
