"""A named-entity tagger's console: its evaluations print seqeval's overall scores under the bare
names `precision`, `recall`, `f1`, `accuracy` (HF's `run_ner_no_trainer.py`: `epoch N: {...}`;
`run_ner.py`'s Trainer rows: `eval_precision` ...), the same four names a text classifier's
`compute_metrics` returns. What tells them apart is the model: transformers names its class as
it loads it (`Some weights of BertForTokenClassification were not initialized ...`). A token
classifier's accuracy counts tokens, the `O` of no entity among them, so its entity F1 is the
default; a classifier keeps its accuracy. Was: the tagger judged by its token accuracy."""

from __future__ import annotations

import json

import pytest
from _files import read_as, write

from phasewatch.cli import main

# transformers' loading lines, its "This IS NOT expected ..." line first: the fixed example in
# its parenthesis names BertForSequenceClassification whatever the model is
LOADING = (
    "- This IS NOT expected if you are initializing {model} from the checkpoint of a model that "
    "you expect to be exactly identical (initializing a BertForSequenceClassification model from "
    "a BertForSequenceClassification model).\n"
    "Some weights of {model} were not initialized from the model checkpoint at bert-base-cased "
    "and are newly initialized: ['classifier.bias', 'classifier.weight']\n"
    "You should probably TRAIN this model on a down-stream task to be able to use it for "
    "predictions and inference.\n")
TAGGER, CLASSIFIER = "BertForTokenClassification", "BertForSequenceClassification"


def scores(epoch: int) -> dict[str, float]:
    """An entity F1 that rises to the end; a token accuracy near 0.97 that peaks at epoch 1
    and falls back (the O tokens), so the two defaults tell different stories."""
    return {"precision": round(0.70 + epoch / 50, 4), "recall": round(0.72 + epoch / 60, 4),
            "f1": round(0.71 + epoch / 55, 4),
            "accuracy": round(0.968 + 0.004 * (epoch == 1) - 0.0005 * epoch, 4)}


def accelerate_log(model: str | None, keys=("precision", "recall", "f1", "accuracy")) -> str:
    """`accelerator.print(f"epoch {epoch}:", eval_metric)` of eight epochs."""
    rows = "".join(f"epoch {e}: { {k: scores(e)[k] for k in keys} }\n" for e in range(8))
    return (LOADING.format(model=model) if model else "") + rows


def trainer_log(model: str | None) -> str:
    """The Trainer's console rows of the same evaluations (`run_ner.py`)."""
    rows = "".join(f"{{'loss': {1 / e:.3f}, 'learning_rate': 2e-05, 'epoch': {e - 0.5}}}\n"
                   + str({**{f"eval_{k}": v for k, v in scores(e).items()},
                          "eval_runtime": 1.0, "epoch": float(e)}) + "\n"
                   for e in range(1, 9))
    return (LOADING.format(model=model) if model else "") + rows


def analysed(path, capsys) -> dict:
    assert main(["analyze", str(path), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["runs"][0]


@pytest.mark.parametrize("log, format", [(accelerate_log, "accelerate_console"),
                                         (trainer_log, "hf_console")])
def test_a_taggers_entity_f1_is_taken_before_its_token_accuracy(tmp_path, capsys, log, format):
    path = write(tmp_path, log(TAGGER), name="ner.log")
    result = analysed(path, capsys)
    assert result["metric"] == "eval_f1"
    assert read_as(path, format).config["architectures"] == [TAGGER]
    said = [w for w in result["warnings"] if w.startswith("taking eval_f1, seqeval's entity F1")]
    assert said and "--metric eval_accuracy" in said[0], result["warnings"]
    assert main(["watch", str(path)]) == 0
    assert "values of eval_f1)" in capsys.readouterr().err


@pytest.mark.parametrize("log, format", [(accelerate_log, "accelerate_console"),
                                         (trainer_log, "hf_console")])
@pytest.mark.parametrize("model", [CLASSIFIER, None])
def test_a_classifier_keeps_its_accuracy(tmp_path, capsys, log, format, model):
    """The same four names from a sequence classifier (or a log that names no model): its
    accuracy, the first of the roles, as before."""
    path = write(tmp_path, log(model), name="cls.log")
    assert read_as(path, format).config.get("architectures") == ([model] if model else None)
    result = analysed(path, capsys)
    assert result["metric"] == "eval_accuracy"
    assert not any("seqeval" in w for w in result["warnings"]), result["warnings"]


def test_an_mrpc_dict_of_accuracy_and_f1_keeps_its_accuracy(tmp_path, capsys):
    """GLUE's MRPC prints `{'accuracy': X, 'f1': X}`: its accuracy is the task's first metric."""
    path = write(tmp_path, accelerate_log(CLASSIFIER, keys=("accuracy", "f1")), name="mrpc.log")
    assert analysed(path, capsys)["metric"] == "eval_accuracy"
