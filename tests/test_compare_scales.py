"""Runs compared on one metric: a rate logged as a fraction by one and as a percentage by another
is said (trial 40b: hf-whisper-large-ja's eval_wer 0.79 -> 0.74 beside hf-whisper-tiny-nb's
62 -> 25, drawn "30x better" where it is 3x worse), two losses of their own levels are not; a
sparse run in a comparison is drawn as its own figure draws it, joined by lines, and the legend
says which lines are what (tb-hf-cls-5ev's 5 evaluations 4 steps apart were smoothed with
"sd 50 steps", 0.4377 drawn at step 8 where 0.3939 was logged)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from phasewatch.cli import main
from phasewatch.compared import rate_like, scale_note
from phasewatch.plot import compare_figure, figure_data
from phasewatch.run import Run


def _state(path, metric, steps, values):
    rows = [{"step": int(s), "epoch": s / 1000, metric: float(v)}
            for s, v in zip(steps, values)]
    path.mkdir()
    (path / "trainer_state.json").write_text(json.dumps({"log_history": rows}))
    return path


def _whisper_pair(tmp_path):
    # large-ja's WER as a fraction, 5 evaluations; tiny-nb's as a percentage, 20
    large = _state(tmp_path / "large", "eval_wer", range(1000, 6000, 1000),
                   [0.7888, 0.7478, 0.7432, 0.7443, 0.7449])
    steps = np.arange(1000, 21000, 1000)
    tiny = _state(tmp_path / "tiny", "eval_wer", steps, 25 + 37 * np.exp(-steps / 5000))
    return large, tiny


def _run(name, steps, values, metric="eval/accuracy"):
    steps = np.asarray(steps, dtype=np.int64)
    return Run.from_columns({metric: (steps, np.asarray(values, dtype=float))}, name, "test",
                            name=name)


def test_a_fraction_beside_a_percentage_is_said_in_text_and_json(tmp_path, capsys):
    large, tiny = _whisper_pair(tmp_path)
    code = main(["analyze", str(large), str(tiny), "--metric", "eval_wer"])
    _, err = capsys.readouterr()
    assert code == 0
    assert "eval_wer looks like a fraction in " in err and "and a percentage in " in err
    assert "(0.7432 to 0.7888)" in err
    code = main(["analyze", str(large), str(tiny), "--metric", "eval_wer", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    [warning] = doc["warnings"]
    assert warning.startswith("eval_wer looks like a fraction in ")


def test_the_figure_of_that_comparison_warns_too(tmp_path):
    from phasewatch import read_run

    large, tiny = _whisper_pair(tmp_path)
    runs = [read_run(large), read_run(tiny)]
    with pytest.warns(UserWarning, match="eval_wer looks like a fraction"):
        compare_figure(runs, ["eval_wer"])
    with pytest.warns(UserWarning, match="eval_wer looks like a fraction"):
        compare_figure(runs, ["eval_wer"], layout="grid")


def _legend_title(runs) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = compare_figure(runs, ["loss"])
    return " ".join(fig.legends[0].get_title().get_text().split()), fig


def test_two_losses_of_their_own_levels_are_not_a_scale_mix_but_the_flat_one_is_said():
    """The law pair's train losses (285 -> 5 and 1.37 -> 0.70, two tokenisers) are two runs' own
    levels: no warning. Spanning more than two decades together, they share a log axis, where
    both are seen; within two decades (50 -> 12 beside the same 1.37 -> 0.70) the axis is
    linear, the second is drawn flat, and the legend says so."""
    steps = np.arange(100, 700, 100)
    law = _run("law", steps, [285, 160, 10, 6, 5.5, 5.2], "loss")
    lora_steps = np.arange(10, 760, 10)
    lora = _run("lora", lora_steps, np.linspace(1.37, 0.70, lora_steps.size), "loss")
    assert scale_note("loss", [("law", law.series("loss").to_numpy()),
                               ("lora", lora.series("loss").to_numpy())]) is None
    title, fig = _legend_title([law, lora])
    assert fig.axes[0].get_yscale() == "log" and "flat at its scale" not in title
    small = _run("law", steps, [50, 30, 15, 13, 12.5, 12], "loss")
    title, fig = _legend_title([small, lora])
    assert fig.axes[0].get_yscale() == "linear"
    assert "lora (0.7 to 1.37)" in title and "flat at its scale" in title
    assert "law (" not in title


@pytest.mark.parametrize("name,rate", [
    ("eval_wer", True), ("eval/cer", True), ("eval_accuracy", True), ("val_acc", True),
    ("eval_exact_match", True), ("eval_f1", True), ("eval_rouge-l", True),
    ("val-core/openai/gsm8k/acc/mean@1", True), ("eval/pass_rate", True), ("accuracy", True),
    ("eval_loss", False), ("loss", False), ("eval/reward", False), ("train/reward", False),
    ("final_answer_length", False), ("eval/perplexity", False)])
def test_rates_by_the_heldout_names_vocabulary(name, rate):
    assert rate_like(name) is rate


def test_a_wer_above_one_at_the_start_is_no_percentage():
    """A WER fraction goes above 1 where a model inserts more words than there are: no
    percentage beside another run's fraction."""
    early = np.array([1.6, 1.3, 0.9, 0.7, 0.6])
    assert scale_note("eval_wer", [("a", np.array([0.4, 0.35, 0.3])), ("b", early)]) is None
    assert scale_note("eval_wer", [("a", np.array([0.4, 0.35, 0.3])),
                                   ("b", np.array([45.0, 38.0, 31.0]))]) is not None


def test_sparse_runs_are_joined_by_lines_as_in_their_own_figure():
    detector = _run("detector", [1000, 2000, 3000], [0.882, 0.9026, 0.9298])
    cls = _run("cls", [4, 8, 12, 16, 20], [0.3838, 0.3939, 0.5354, 0.6061, 0.7071])
    for layout in ("overlay", "grid"):
        fig = compare_figure([detector, cls], layout=layout)
        rows = figure_data(fig).rows
        smoothed = [row[5] for row in rows if row[1] == "cls" and row[3] == "smoothed"]
        assert smoothed == pytest.approx([0.3838, 0.3939, 0.5354, 0.6061, 0.7071])  # not 0.4377
        said = fig.legends[0].get_title().get_text() if layout == "overlay" else \
            fig.legends[0].get_texts()[0].get_text()
        assert "evaluations joined by lines" in said and "Gaussian" not in said


def test_a_dense_run_beside_a_sparse_one_says_both():
    steps = np.arange(10, 760, 10)
    rng = np.random.default_rng(0)
    dense = _run("dense", steps, 1.4 - steps / 1000 + rng.normal(0, 0.03, steps.size), "eval/loss")
    sparse = _run("sparse", [100, 200, 300, 400, 500, 600],
                  [1.5, 1.2, 0.9, 0.8, 0.75, 0.74], "eval/loss")
    fig = compare_figure([dense, sparse])
    title = " ".join(fig.legends[0].get_title().get_text().split())
    assert "lines: Gaussian smooth, sd 12 steps" in title
    assert "evaluations joined by lines (100 steps apart) for sparse" in title
    rows = figure_data(fig).rows
    drawn = [row[5] for row in rows if row[1] == "sparse" and row[3] == "smoothed"]
    assert drawn == pytest.approx([1.5, 1.2, 0.9, 0.8, 0.75, 0.74])
