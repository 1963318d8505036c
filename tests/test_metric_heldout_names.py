"""The default metric is the log's held-out metric whenever it has one, under the names real
logs use beside the validation spellings: a `test` split (`test_acc`, `test_loss`,
`test/accuracy`), HF's SQuAD and other `eval_*` scores (`eval_f1`, `eval_exact`, `eval_wer`),
and HF's named evaluation sets (`eval_dataset={"g0": ..., "g1": ...}`: `eval_g0_accuracy`),
with the direction of the name and the notice several validation sets get. Only a log with
train metrics alone falls back to its train loss, with the warning. `watch` chooses the same."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_json import analyzed, watched

from phasewatch.cli import main

FALLBACK = "no held-out metric or reward phasewatch knows by name in this log"


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _rows(held_out: dict[str, tuple[float, float]], n_eval: int = 20, every: int = 50,
          sets: tuple[str, ...] = ()) -> list[dict]:
    """A train loss at every 10 steps, and at each evaluation every held-out name of `held_out`
    (`name: (first, last)`, a noisy straight line between them); `sets`: HF named evaluation
    sets, each logged in its own row with its `_runtime`."""
    rng = np.random.default_rng(3)
    rows: list[dict] = []
    for step in range(10, n_eval * every + 1, 10):
        rows.append({"step": step, "loss": round(2.0 * np.exp(-step / 400) + 0.3, 4),
                     "train_accuracy": round(0.5 + 0.4 * step / (n_eval * every), 4)})
        if step % every:
            continue
        frac = step / (n_eval * every)
        for group in sets or ("",):
            row = {"step": step}
            for name, (first, last) in held_out.items():
                value = first + (last - first) * frac + 0.002 * abs(last - first) * rng.standard_normal()
                row[name.format(set=group)] = round(float(value), 5)
            if group:
                row[f"eval_{group}_runtime"] = 1.5
            rows.append(row)
    return rows


def _performance(capsys, path: Path) -> dict:
    assert main(["inspect", str(path), "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)["performance"]


@pytest.mark.parametrize("held_out, metric, direction", [
    # a grokking script's history: test accuracy and loss beside the train ones
    ({"test_acc": (0.01, 0.9), "test_loss": (4.1, 0.5), "train_loss": (3.0, 0.1)}, "test_acc", "max"),
    ({"test_loss": (4.1, 0.5), "train_loss": (3.0, 0.1)}, "test_loss", "min"),
    # a W&B CNN run: `test_accuracy` beside `train_accuracy`, `loss`
    ({"test_accuracy": (55.0, 86.0)}, "test_accuracy", "max"),
    ({"test/accuracy": (0.5, 0.8), "test/loss": (1.2, 0.6)}, "test/accuracy", "max"),
    ({"test/loss": (1.2, 0.6)}, "test/loss", "min"),
])
def test_a_test_split_is_the_held_out_metric(capsys, tmp_path, held_out, metric, direction):
    log = _write(tmp_path / "metrics.jsonl", _rows(held_out))
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == (metric, direction)
    assert not any(FALLBACK in w for w in offline["warnings"])
    perf = _performance(capsys, log)
    assert (perf["metric"], perf["direction"], perf["train_fallback"]) == (metric, direction, False)
    assert watched(capsys, log)[0]["metric"] == metric


@pytest.mark.parametrize("held_out, metric, direction", [
    # HF's SQuAD v2 evaluation: no accuracy, no eval loss; `eval_f1` before `eval_exact`, and
    # never the per-answer-type `eval_HasAns_f1` or the count `eval_total`
    ({"eval_HasAns_exact": (2.0, 80.0), "eval_HasAns_f1": (3.0, 84.0), "eval_exact": (2.0, 78.0),
      "eval_f1": (3.6, 82.0), "eval_total": (11873, 11873), "eval_runtime": (60.0, 61.0)},
     "eval_f1", "max"),
    ({"eval_exact": (2.0, 78.0), "eval_runtime": (60.0, 61.0)}, "eval_exact", "max"),
    ({"eval/exact_match": (2.0, 78.0)}, "eval/exact_match", "max"),
    ({"eval_wer": (0.9, 0.3), "eval_runtime": (60.0, 61.0)}, "eval_wer", "min"),
    ({"test_f1": (0.3, 0.7)}, "test_f1", "max"),
    # a script's own validation score (lightning-birdclef-valauc-30: a Kaggle metric logged as
    # `val_score` beside `train_loss`, analysed on the train loss)
    ({"val_score": (0.75, 0.95)}, "val_score", "max"),
])
def test_an_eval_score_other_than_accuracy_and_loss_is_the_held_out_metric(
        capsys, tmp_path, held_out, metric, direction):
    log = _write(tmp_path / "metrics.jsonl", _rows(held_out))
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == (metric, direction)
    assert not any(FALLBACK in w for w in offline["warnings"])
    assert _performance(capsys, log)["train_fallback"] is False
    assert watched(capsys, log)[0]["metric"] == metric


def test_an_f1_comes_before_the_eval_loss(capsys, tmp_path):
    """The order of the roles: accuracy, the other held-out scores, then the loss."""
    log = _write(tmp_path / "metrics.jsonl",
                 _rows({"eval_f1": (0.3, 0.7), "eval_loss": (1.0, 0.5), "eval_runtime": (1, 1)}))
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == ("eval_f1", "max")


@pytest.mark.parametrize("names, metric, direction", [
    (("eval_{set}_accuracy", "eval_{set}_loss"), "eval_g0_accuracy", "max"),
    (("eval_{set}_loss",), "eval_g0_loss", "min"),
])
def test_named_evaluation_sets_are_held_out_and_named_in_a_notice(
        capsys, tmp_path, names, metric, direction):
    """HF's Trainer with a dict of evaluation sets logs `eval_<set>_<metric>` and
    `eval_<set>_runtime` for each: the first set is analysed, and the notice the verl and
    OpenRLHF validation sets get names all of them and the ways to choose."""
    ranges = {"eval_{set}_accuracy": (0.7, 0.6), "eval_{set}_loss": (0.6, 0.9)}
    log = _write(tmp_path / "metrics.jsonl",
                 _rows({n: ranges[n] for n in names}, sets=("g0", "g1", "g2")))
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == (metric, direction)
    assert not any(FALLBACK in w for w in offline["warnings"])
    notice = next(w for w in offline["warnings"] if "validation sets hold" in w)
    assert notice.startswith("3 validation sets hold eval/")
    assert metric.replace("g0", "g1") in notice and metric.replace("g0", "g2") in notice
    assert "--aggregate mean" in notice
    assert watched(capsys, log)[0]["metric"] == metric
    assert main(["analyze", str(log), "--aggregate", "mean", "--format", "json"]) == 0
    mean = json.loads(capsys.readouterr().out)["runs"][0]
    assert mean["metric"].endswith("(mean of 3 sets)") and mean["direction"] == direction


def test_a_set_needs_its_runtime_so_per_type_scores_are_no_sets(capsys, tmp_path):
    """seqeval's per-entity-type `eval_T005_f1` beside `eval_loss` is not an evaluation set:
    there is no `eval_T005_runtime`; a breakdown is no headline score, and the eval loss is
    taken with no notice, live as offline."""
    log = _write(tmp_path / "metrics.jsonl",
                 _rows({"eval_T005_f1": (0.1, 0.5), "eval_T007_f1": (0.2, 0.6),
                        "eval_loss": (1.0, 0.4), "eval_runtime": (1, 1)}))
    offline = analyzed(capsys, log)
    assert offline["metric"] == "eval_loss"
    assert not any("validation sets" in w or "passing over" in w for w in offline["warnings"])
    assert ("taking eval_loss, the held-out loss, before 2 held-out scores none of which comes "
            "first (eval_T005_f1, eval_T007_f1): pass --metric to judge the run by one") \
        in offline["warnings"]
    assert watched(capsys, log)[0]["metric"] == "eval_loss"


def test_a_log_with_train_metrics_only_still_falls_back_with_the_warning(capsys, tmp_path):
    log = _write(tmp_path / "metrics.jsonl", _rows({"train_loss": (3.0, 0.1)}))
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == ("loss", "min")
    assert any(FALLBACK in w for w in offline["warnings"])
    assert _performance(capsys, log)["train_fallback"] is True
    assert watched(capsys, log)[0]["metric"] == "loss"


def test_following_an_hf_log_waits_for_its_f1_and_agrees_with_the_replay(tmp_path):
    """An HF SQuAD run logs its train loss first: the follower holds the records until
    `eval_f1` has 3 values (it would otherwise take the train loss when the log goes idle),
    then alerts as the replay of the whole log does."""
    from watch_follower import assert_same, eval_curve, follows_a_held_choice

    f1 = {s: round(100 * a, 3) for s, a in eval_curve()}
    lines = [json.dumps({"step": s, "loss": 1.0, **({"eval_f1": f1[s], "eval_exact": f1[s] - 4,
                                                     "eval_runtime": 60.0} if s in f1 else {})})
             for s in range(0, max(f1) + 1, 2)]
    followed, replayed, result = follows_a_held_choice(tmp_path / "log.jsonl", lines, 8)
    assert result.metric == "eval_f1"
    assert_same(followed, replayed)


def test_one_score_passed_over_for_too_few_values_is_said_once(capsys, tmp_path):
    """An F1 logged twice beside an eval loss logged ten times: the loss is taken, and only the
    "passing over" note says why (not also "before 1 held-out scores none of which comes
    first", a note for several scores of one rank)."""
    rows = [{"step": 10 * k, "eval_loss": 1.0 - 0.02 * k + 0.003 * (-1) ** k} for k in range(1, 11)]
    rows[3]["eval_f1"], rows[6]["eval_f1"] = 0.3, 0.4
    log = _write(tmp_path / "metrics.jsonl", rows)
    offline = analyzed(capsys, log)
    assert offline["metric"] == "eval_loss"
    passed_over = ("taking eval_loss, passing over eval_f1 (2 values: too few for a trend (fewer "
                   "than 3)); pass --metric to analyse it anyway")
    assert [w for w in offline["warnings"] if "eval_f1" in w] == [passed_over]


@pytest.mark.parametrize("score, test_score, direction", [
    ("val_f1", "test_f1", "max"), ("val/wer", "test/wer", "min"), ("dev_auc", "test_auc", "max")])
def test_a_validation_score_logged_every_epoch_comes_before_the_test_one(
        capsys, tmp_path, score, test_score, direction):
    """A BERT classifier logged `val_f1` at each epoch and `test_f1` once at its end
    (wandb-review-bert-5ep): the listed `test_f1` took the held-out score's role, `val_f1` got
    none, and a log without a validation loss was analysed by that one test value ("only 1
    evaluation ... nothing to compare it with"). A test split ranks after every validation
    spelling, as the held-out loss's names do."""
    rows = _rows({score: (0.6, 0.3) if direction == "min" else (0.3, 0.7)})
    rows.append({"step": rows[-1]["step"] + 10, test_score: 0.5})
    log = _write(tmp_path / "metrics.jsonl", rows)
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == (score, direction)
    assert _performance(capsys, log)["metric"] == score
    assert watched(capsys, log)[0]["metric"] == score


@pytest.mark.parametrize("score", ["val_f1score", "val_f1_score", "val_auroc", "val/f1_score"])
def test_a_score_named_as_its_library_names_it_comes_before_the_loss(capsys, tmp_path, score):
    """torchmetrics' `F1Score` and `AUROC` logged by Lightning under their lowered class names
    (`val_f1score`, a DNABERT classifier's metrics.csv: csv-lightning-dnabert-valf1-20), and
    scikit-learn's `f1_score`, are held-out scores as `val_f1` is: before the loss beside them,
    in the direction of the score, and named by the note that says the loss was passed over.
    They had no role: the default took `val_loss`, and no word named the F1."""
    log = _write(tmp_path / "metrics.jsonl",
                 _rows({score: (0.3, 0.7), "val_loss": (1.0, 0.5)}))
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == (score, "max")
    assert any("before the held-out loss val_loss" in w for w in offline["warnings"])
    assert watched(capsys, log)[0]["metric"] == score


@pytest.mark.parametrize("held_out, metric, direction", [
    # a custom translation loop's print, `Epoch N - Validation BLEU: 21.40`
    ({"Validation BLEU": (12.3, 24.0)}, "Validation BLEU", "max"),
    ({"Valid WER": (0.62, 0.31)}, "Valid WER", "min"),
    ({"Test Accuracy": (0.41, 0.83)}, "Test Accuracy", "max"),
])
def test_a_held_out_name_printed_with_spaces_is_the_held_out_metric(
        capsys, tmp_path, held_out, metric, direction):
    """The held-out rule reads `Validation BLEU` as `validation_bleu`, as the presets read a
    listed name printed with spaces (`Valid Loss`); and `Training Loss` is the train loss."""
    text = "".join(
        f"Epoch {epoch} - Training Loss: {3.0 / epoch:.4f}\n"
        + "".join(f"Epoch {epoch} - {name}: {first + (last - first) * (epoch - 1) / 11:.4f}\n"
                  for name, (first, last) in held_out.items())
        for epoch in range(1, 13))
    log = tmp_path / "train.log"
    log.write_text(text)
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == (metric, direction)
    assert not any(FALLBACK in w for w in offline["warnings"])
    assert main(["inspect", str(log)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert any(line.startswith("Training Loss ") and line.endswith(" train/loss") for line in table)
    assert watched(capsys, log)[0]["metric"] == metric


@pytest.mark.parametrize("held_out, metric", [
    # timm's summary.csv: `eval_top1`, `eval_top5` beside `eval_loss`
    ({"eval_loss": (2.5, 0.9), "eval_top1": (40.0, 88.0), "eval_top5": (70.0, 98.0)}, "eval_top1"),
    # a script's nested JSON log, `{"val": {"loss": ..., "top1": ..., "top5": ...}}`
    ({"val/loss": (4.9, 3.7), "val/top1": (3.2, 19.3), "val/top5": (12.4, 44.0)}, "val/top1"),
    # torchvision's reference scripts: `acc1`, `acc5`
    ({"test_loss": (2.1, 1.2), "test_acc1": (45.0, 71.0), "test_acc5": (70.0, 90.0)}, "test_acc1"),
    # a top-5 accuracy alone is no task accuracy: the held-out loss stays the metric
    ({"eval_loss": (2.5, 0.9), "eval_top5": (70.0, 98.0)}, "eval_loss"),
])
def test_a_top_1_accuracy_is_the_held_out_accuracy(capsys, tmp_path, held_out, metric):
    """A classifier's top-1 accuracy comes before its held-out loss, as any held-out accuracy
    does; its top-5 is not taken for it."""
    log = _write(tmp_path / "metrics.jsonl", _rows(held_out))
    offline = analyzed(capsys, log)
    assert offline["metric"] == metric
    assert offline["direction"] == ("min" if metric == "eval_loss" else "max")
    assert watched(capsys, log)[0]["metric"] == metric
