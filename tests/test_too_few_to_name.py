"""A series of one or two readings names no phase: `analyze` printed "plateau 10 -> 10, change
+0" of one evaluation, a finding about a run nothing can be found of (docs/detection.md, short
series)."""

from __future__ import annotations

from phasewatch.cli import main


def _csv(tmp_path, name, values):
    path = tmp_path / name
    path.write_text("step,val_loss\n" + "".join(f"{10 * (k + 1)},{v}\n"
                                                 for k, v in enumerate(values)))
    return path


def _run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_one_and_two_evaluations_name_no_phase(tmp_path, capsys):
    one, two = _csv(tmp_path, "one.csv", [0.5]), _csv(tmp_path, "two.csv", [0.5, 0.4])
    code, out, _ = _run(capsys, "analyze", one)
    assert code == 0 and "  one evaluation: no phases (0.5 at step 10)\n" in out
    assert "plateau" not in out
    code, out, _ = _run(capsys, "analyze", two)
    assert code == 0
    assert "  two evaluations: too few to name a phase (0.5 at step 10 -> 0.4 at step 20)\n" in out
    assert "plateau" not in out
    code, out, _ = _run(capsys, "analyze", one, two)  # the comparison table
    rows = [line for line in out.splitlines() if "  val_loss  " in line]  # one per run
    assert len(rows) == 2 and "one.csv" in rows[0] and "two.csv" in rows[1]
    assert "one evaluation: no phases" in rows[0] and "plateau" not in rows[0]
    assert "two evaluations: too few to name a phase" in rows[1] and "plateau" not in rows[1]
    code, _, err = _run(capsys, "watch", one)
    assert code == 0 and "whole run: one evaluation: no phases, checkpoint to keep: step 10" in err


def test_three_evaluations_keep_their_phase_row(tmp_path, capsys):
    code, out, _ = _run(capsys, "analyze", _csv(tmp_path, "three.csv", [0.5, 0.4, 0.45]))
    assert code == 0 and "  plateau " in out and "not established" in out
    assert "no phases" not in out and "too few to name" not in out


def test_the_json_keeps_its_plateau_row(tmp_path, capsys):
    import json

    code, out, _ = _run(capsys, "analyze", _csv(tmp_path, "one.csv", [0.5]), "--format", "json")
    phases = json.loads(out)["runs"][0]["phases"]
    assert code == 0 and [p["name"] for p in phases] == ["plateau"] and phases[0]["n_points"] == 1
