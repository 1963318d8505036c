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


def test_the_csv_table_adds_the_x_unit_columns(tmp_path, capsys):
    """`--format csv` with `--x epoch` says what the text and the JSON say: after the step
    columns (unchanged), each again in epochs, named for the unit (it gave steps only: the two
    runs' rows were identical). One run alike; without `--x` the columns are as before."""
    import csv
    import io

    from phasewatch.commands.analyze_tables import CSV_COLUMNS

    paths = [tmp_path / "fast.jsonl", tmp_path / "slow.jsonl"]
    write_run(paths[0], 100)
    write_run(paths[1], 50)
    for chosen in (paths, paths[:1]):
        assert main(["analyze", *map(str, chosen), "--x", "epoch", "--format", "json"]) == 0
        runs = json.loads(capsys.readouterr().out)["runs"]
        assert main(["analyze", *map(str, chosen), "--x", "epoch", "--format", "csv"]) == 0
        table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        assert list(table[0])[:len(CSV_COLUMNS)] == list(CSV_COLUMNS)
        assert {"recommended_stop_epoch", "start_epoch", "end_epoch", "peak_epoch",
                "stage_switch_epoch"} <= set(table[0])
        phases = [(run, phase) for run in runs for phase in run["phases"]]
        assert len(table) == len(phases)
        for row, (run, phase) in zip(table, phases):
            assert float(row["recommended_stop_epoch"]) == run["x"]["recommended_stop"]
            assert float(row["start_epoch"]) == phase["start_x"]
            assert float(row["end_epoch"]) == phase["end_x"]
            assert int(row["start_step"]) == phase["start_step"]  # the steps stay steps
            assert row["stage_switch_epoch"] == ""
    assert main(["analyze", *map(str, paths), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == ",".join(CSV_COLUMNS)
