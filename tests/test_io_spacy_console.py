"""spaCy's `spacy train` prints a table, a row at every evaluation on the dev corpus: `E`,
`#`, `LOSS <PIPE>` per trained component, the dev scores in `score_weights` (x100) and `SCORE`,
the weighted score spaCy keeps `model-best` by. No reader took it ("unknown log format")."""

from __future__ import annotations

import pytest
from _files import notebook_cell, read_as, write

from phasewatch.cli import main
from phasewatch.errors import InputError
from phasewatch.io import read_run

HEADER = ("E    #       LOSS TOK2VEC  LOSS NER  ENTS_F  ENTS_P  ENTS_R  SCORE \n"
          "---  ------  ------------  --------  ------  ------  ------  ------\n")
PREAMBLE = ("\u2139 Saving to output directory: output\n\u2139 Using CPU\n\n"
            + "=" * 27 + " Initializing pipeline " + "=" * 27 + "\n\u2714 Initialized pipeline\n\n"
            + "=" * 29 + " Training pipeline " + "=" * 29 + "\n"
            "\u2139 Pipeline: ['tok2vec', 'ner']\n\u2139 Initial learn rate: 0.001\n")
SAVED = "\u2714 Saved pipeline to output directory\noutput/model-last\n"


def score_at(k: int) -> float:
    """A dev score that rises to a plateau, then falls (an NER model overfitting)."""
    return min(0.9, 0.3 + 0.1 * k) - max(0, k - 12) * 0.02


def table(evaluations: int = 20, every: int = 200) -> str:
    rows = []
    for k in range(evaluations):
        score = 0.0 if k == 0 else score_at(k)
        rows.append(f"{k // 4:>3}  {k * every:>6}  {k * 3.25:>12.2f}  {2000 / (1 + k):>8.2f}  "
                    f"{score * 100:>6.2f}  {score * 101:>6.2f}  {score * 99:>6.2f}  "
                    f"{score:>6.2f}\n")
    return HEADER + "".join(rows)


def test_the_table_is_read_at_its_steps_and_the_dev_score_is_analysed(tmp_path, capsys):
    path = write(tmp_path, PREAMBLE + table() + SAVED)
    run = read_as(path, "spacy_console")
    assert sorted(run.metrics) == ["dev/ents_f", "dev/ents_p", "dev/ents_r", "dev/score", "epoch",
                                   "train/loss_ner", "train/loss_tok2vec"]
    score = run.series("dev/score")
    assert score.index.tolist() == [200 * k for k in range(20)]
    assert score.iloc[0] == 0.0 and score.iloc[5] == pytest.approx(0.8)
    assert run.series("dev/ents_f").iloc[5] == pytest.approx(80.0)
    assert run.series("train/loss_ner").iloc[1] == 1000.0
    assert run.series("epoch").iloc[-1] == 4
    assert run.own_name("eval/accuracy") == "dev/score"
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "metric dev/score (max)" in out and "overfit" in out


def test_saved_pipeline_ends_the_run(tmp_path):
    from phasewatch.io import spacy_console

    for text, finished in ((PREAMBLE + table() + SAVED, True), (PREAMBLE + table(), False)):
        source = spacy_console.source(write(tmp_path, text))
        list(source.read())
        assert source.info.finished is finished


def test_a_row_of_other_columns_is_reported_and_the_rest_read(tmp_path):
    text = PREAMBLE + table(6) + "  1    1200   1.0  2.0  3.0\n"
    run = read_run(write(tmp_path, text))
    assert len(run.series("dev/score")) == 6
    assert any("line" in w and "5 values under a header of 8 columns" in w for w in run.warnings)


def test_a_header_without_its_rule_is_no_table(tmp_path):
    text = PREAMBLE + table(6).replace(HEADER.splitlines()[1] + "\n", "")
    with pytest.raises(InputError):
        read_run(write(tmp_path, text))


def test_a_notebook_cell_that_ran_spacy_train_is_read(tmp_path):
    book = notebook_cell(tmp_path, "!python -m spacy train config.cfg --output ./output",
                         PREAMBLE + table() + SAVED, name="ner.ipynb")
    run = read_as(book, "spacy_console")
    assert len(run.series("dev/score")) == 20
