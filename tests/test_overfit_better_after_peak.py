"""An overfit's decline is measured from the peak it is dated from (`checkpoint.overfit_peaks`:
for an overfit from the first evaluation, the best of its first few). Where the same overfit
holds a better evaluation after that peak, the line said "0.034 below its best (step 130)" of a
0.901 beside a 0.904 at step 150 (a verl PPO validation reward, 34 evaluations): the peak is
now named by its value and the better evaluation said beside it, in the metric's direction."""

import json

from phasewatch.cli import main

# a validation accuracy level at 0.80 for its first 9 evaluations, then a slow decline
ACCURACY = [0.801, 0.797, 0.798, 0.788, 0.809, 0.806, 0.798, 0.804, 0.801, 0.796, 0.802, 0.795,
            0.794, 0.79, 0.795, 0.791, 0.793, 0.786, 0.789, 0.782, 0.79, 0.785, 0.785, 0.784,
            0.776, 0.784, 0.789, 0.769, 0.767, 0.767]


def _write(path, key, values):
    path.write_text("".join(json.dumps({"step": 100 + 10 * i, key: v}) + "\n"
                            for i, v in enumerate(values)))
    return str(path)


def test_a_better_evaluation_inside_the_overfit_is_said(tmp_path, capsys):
    log = _write(tmp_path / "val.jsonl", "val/accuracy", ACCURACY)
    assert main(["analyze", log, "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert [p["name"] for p in run["phases"]] == ["overfit"]
    overfit = run["phases"][0]
    assert overfit["peak_step"] == 100 == run["recommended_stop_step"]
    assert overfit["better_step"] == 140 and overfit["better_value"] == 0.809
    assert abs(overfit["better_by"] - 0.008) < 1e-9 and overfit["better_sd"] > 1
    assert main(["analyze", log]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert "below its best" not in line
    assert line.endswith("0.034 below step 100's 0.801, where it is measured from; its best, "
                         f"0.809 at step 140, is 0.008 above it ({overfit['better_sd']:.1f} sd)")


def test_a_loss_says_its_better_evaluation_is_below(tmp_path, capsys):
    log = _write(tmp_path / "loss.jsonl", "eval_loss", [round(1 - v, 3) for v in ACCURACY])
    assert main(["analyze", log]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert "0.034 above step 100's 0.199, where it is measured from; its best, 0.191 at step " \
           "140, is 0.008 below it (" in line


def test_an_overfit_whose_peak_is_its_best_keeps_the_words(tmp_path, capsys):
    values = [0.70, 0.74, 0.78, 0.80, 0.79, 0.77, 0.75, 0.73, 0.71, 0.70]
    log = _write(tmp_path / "peak.jsonl", "val/accuracy", values)
    assert main(["analyze", log, "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    overfit = [p for p in run["phases"] if p["name"] == "overfit"]
    assert overfit and "better_step" not in overfit[0]
    assert main(["analyze", log]) == 0
    assert "below its best (step 130)" in capsys.readouterr().out
