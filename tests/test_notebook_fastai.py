"""fastai's `Learner` progress table in a saved notebook (`phasewatch.io.notebook_fastai`).
fastai is not installed here: the HTML is written as fastprogress' `text2html_table` writes it
(the layout of the real fastbook notebooks of the sweep, huangyingw/fastai_fastbook, which were
'no training output'), a few rows each, not copied outputs."""

from __future__ import annotations

import json

from nbformat.v4 import new_output
from notebook_books import stream, write_book

from phasewatch.cli import main
from phasewatch.io import read_run
from phasewatch.planned import planned_steps


def fastai_html(rows, metrics=("error_rate",), bar=None) -> str:
    """fastprogress' table of a fit: `epoch train_loss valid_loss <metrics> time`; `bar`
    (value, max) draws the epochs' bar above it, as while the fit runs."""
    head = "".join(f"      <th>{c}</th>\n" for c in ("epoch", "train_loss", "valid_loss", *metrics, "time"))
    body = "".join("    <tr>\n" + "".join(f"      <td>{c}</td>\n" for c in row) + "    </tr>\n" for row in rows)
    html = ('<table border="1" class="dataframe">\n  <thead>\n    <tr style="text-align: left;">\n'
            f"{head}    </tr>\n  </thead>\n  <tbody>\n{body}  </tbody>\n</table>")
    if bar is not None:
        value, total = bar
        html = (f"\n    <div>\n      <progress value='{value}' class='' max='{total}' style='width:300px;"
                f" height:20px; vertical-align: middle;'></progress>\n      {100 * value / total:.2f}% "
                f"[{value}/{total} 00:30&lt;00:30]\n    </div>\n    {html}")
    return html


def shown(html: str):
    return new_output("display_data", data={"text/html": html,
                                            "text/plain": "<IPython.core.display.HTML object>"})


def rows(losses, start=0):
    return [[str(start + i), f"{t:.6f}", f"{v:.6f}", f"{v / 10:.6f}", "00:16"]
            for i, (t, v) in enumerate(losses)]


def test_fine_tune_two_tables_are_one_run_counted_on(tmp_path):
    frozen = rows([(0.9, 0.5)])
    unfrozen = rows([(0.40, 0.30), (0.30, 0.25), (0.20, 0.24), (0.15, 0.26)])
    book = write_book(tmp_path / "pets.ipynb", [
        ("learn = vision_learner(dls, resnet34, metrics=error_rate)\nlearn.fine_tune(4)",
         [shown(fastai_html(frozen)), shown(fastai_html(unfrozen))]),
    ])
    run = read_run(book)
    assert run.format == "notebook" and run.step_unit == "epoch"
    assert run.series("valid_loss").tolist() == [0.5, 0.3, 0.25, 0.24, 0.26]
    assert run.series("valid_loss").index.tolist() == [0, 1, 2, 3, 4]
    assert run.series("train_loss").iloc[0] == 0.9
    # a metric of the validation set: `valid_` + its name (a bare `accuracy` would read as train)
    assert run.series("valid_error_rate").iloc[-1] == 0.026
    assert "time" not in run.metrics and "valid_time" not in run.metrics
    assert any("2 fastai tables" in w for w in run.warnings), run.warnings


def test_accuracy_is_the_held_out_accuracy_and_analyze_takes_it(tmp_path, capsys):
    acc = [[str(e), f"{1 / (e + 1):.6f}", f"{0.8 / (e + 1):.6f}", f"{0.6 + 0.05 * min(e, 5) - 0.02 * max(e - 7, 0):.6f}",
            "00:05"] for e in range(12)]
    book = write_book(tmp_path / "acc.ipynb", [("learn.fit_one_cycle(12)", [shown(fastai_html(acc, ("accuracy",)))])])
    run = read_run(book)
    assert run.series("eval/accuracy").name == "valid_accuracy"
    assert main(["analyze", "--format", "json", str(book)]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert result["metric"] == "valid_accuracy" and result["step_unit"] == "epoch"


def test_cells_are_runs_and_an_interrupted_fit_keeps_its_plan(tmp_path, capsys):
    running = rows([(0.5, 0.4), (0.4, 0.35)])
    book = write_book(tmp_path / "two.ipynb", [
        ("learn.fit_one_cycle(3)", [shown(fastai_html(rows([(0.6, 0.5), (0.5, 0.45), (0.45, 0.44)])))]),
        "## a second model",
        ("learn2.fit_one_cycle(10)", [shown(fastai_html(running, bar=(2, 10))),
                                      new_output("error", ename="KeyboardInterrupt", evalue="", traceback=[])]),
    ])
    assert main(["inspect", "--format", "json", str(book)]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [r["n_steps"] for r in listing["runs"]] == [3, 2]
    second = read_run(f"{book}/2")
    assert planned_steps(second.config) == 9  # epochs 0..9
    assert any("KeyboardInterrupt" in w for w in second.warnings)


def test_na_cells_and_damaged_rows(tmp_path):
    table = fastai_html([["0", "0.5", "#na#", "0.1", "00:01"], ["1", "0.4", "#na#", "0.1", "00:01"],
                         ["x", "0.3", "0.2", "0.1", "00:01"], ["3", "0.3", "0.2", "0.1", "00:01"]])
    book = write_book(tmp_path / "na.ipynb", [("learn.fit(4)", [shown(table)])])
    run = read_run(book)
    assert run.series("train_loss").index.tolist() == [0, 1, 3]
    assert run.series("valid_loss").index.tolist() == [3]  # `#na#`: no validation set yet
    assert any("skipped 1 table rows" in w and "'x'" in w for w in run.warnings), run.warnings


def test_a_dataframe_is_not_a_fastai_table(tmp_path):
    frame = ('<table border="1" class="dataframe"><thead><tr><th></th><th>epoch</th><th>train_loss</th>'
             "</tr></thead><tbody><tr><th>0</th><td>0</td><td>0.5</td></tr></tbody></table>")
    book = write_book(tmp_path / "df.ipynb", [("df", [shown(frame)]), ("print('hi')", [stream("hi\n")])])
    assert main(["inspect", str(book)]) == 3
