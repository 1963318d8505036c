"""The metric taken without --metric when a log holds a held-out task score beside a loss or a
weak accuracy (`heldout_names.TASK_SCORES`, `signals.roles_present`): a segmenter's Dice before
its pixel accuracy, a multi-label classifier's AUPR before its loss, a recogniser's error rates
before its loss, the kinds in the order the listed spellings have (WER before CER, as for a
Whisper Trainer's `eval_wer`), a NER model's entity F1 before seqeval's token accuracy, a
multi-label classifier's F1 before its subset accuracy. Each choice is said, and `watch` makes
the same one. Synthetic logs in the shapes of csv-unet-valdice-100, csv-keras-cafa5-valaupr-15,
csv-ocr-line-valcer-30 (the twenty-eighth corpus batch), hf-ner-medmentions and
hf-multilabel-3ev."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_json import analyzed, watched

from phasewatch.heldout_names import held_out_match


def _csv(path: Path, columns: dict[str, tuple[float, float]], epochs: int = 30,
         first_epoch: int = 0) -> Path:
    """A per-epoch CSV: each column a noisy curve from `first` to `last` that settles (an
    exponential approach), as a script writes one row per epoch."""
    rng = np.random.default_rng(11)
    t = np.arange(epochs)
    lines = [",".join(["epoch", *columns])]
    curves = {name: last + (first - last) * np.exp(-t / 6)
              + 0.01 * abs(last - first) * rng.standard_normal(epochs)
              for name, (first, last) in columns.items()}
    for i in range(epochs):
        lines.append(",".join([str(first_epoch + i),
                               *(f"{curves[name][i]:.6f}" for name in columns)]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_segmenters_dice_is_taken_before_its_pixel_accuracy(capsys, tmp_path):
    """A U-Net's own CSV: its pixel accuracy sits at 0.99 from the first epoch (background is
    most pixels) while the Dice climbs from 0.3; the accuracy was analysed, with no word."""
    log = _csv(tmp_path / "results.csv", {
        "Train Dice": (0.17, 0.91), "Validation Dice": (0.30, 0.90),
        "Train IoU": (0.09, 0.84), "Validation IoU": (0.18, 0.83),
        "Train Accuracy": (0.94, 0.9996), "Validation Accuracy": (0.993, 0.9996)})
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == ("Validation Dice", "max")
    assert ("taking Validation Dice, a segmentation overlap, before the accuracy Validation "
            "Accuracy, which counts right pixels, background among them: pass --metric "
            "'Validation Accuracy' to judge the run by it") in offline["warnings"]
    assert ("Validation IoU is a held-out score too, ranked after Validation Dice by its kind: "
            "pass --metric 'Validation IoU' to judge the run by it") in offline["warnings"]
    assert watched(capsys, log)[0]["metric"] == "Validation Dice"
    named = analyzed(capsys, log, "--metric", "Validation Accuracy")
    assert named["metric"] == "Validation Accuracy"
    assert not any("segmentation overlap" in w for w in named["warnings"])


def test_a_keras_segmenters_dice_coefficient_comes_before_its_listed_accuracy(capsys, tmp_path):
    """Keras segmentation tutorials log `val_accuracy` (a name the presets list) beside a
    custom `val_dice_coef`: the listed accuracy counts pixels as well."""
    log = _csv(tmp_path / "training.log", {
        "accuracy": (0.90, 0.99), "dice_coef": (0.2, 0.8), "loss": (0.6, 0.1),
        "val_accuracy": (0.95, 0.99), "val_dice_coef": (0.3, 0.8), "val_loss": (0.5, 0.15)})
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == ("val_dice_coef", "max")
    assert any(w.startswith("taking val_dice_coef, a segmentation overlap, before the accuracy "
                            "val_accuracy") for w in offline["warnings"])
    assert watched(capsys, log)[0]["metric"] == "val_dice_coef"


def test_a_multilabel_classifiers_aupr_is_taken_before_its_loss(capsys, tmp_path):
    """A Keras CSVLogger file of a protein-function CNN: `val_aupr` beside `val_loss` had no
    role, and the loss was analysed without a word of it."""
    log = _csv(tmp_path / "training_log.csv", {
        "aupr": (0.28, 0.33), "learning_rate": (0.001, 0.001), "loss": (1.15, 0.97),
        "precision": (0.37, 0.40), "recall": (0.47, 0.60), "val_aupr": (0.30, 0.33),
        "val_loss": (0.97, 0.95), "val_precision": (0.23, 0.30), "val_recall": (0.61, 0.65)},
        epochs=15)
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == ("val_aupr", "max")
    assert ("taking val_aupr, a held-out score, before the held-out loss val_loss: pass "
            "--metric val_loss to judge the run by it") in offline["warnings"]
    assert watched(capsys, log)[0]["metric"] == "val_aupr"


def test_a_recognisers_error_rates_come_before_its_loss_wer_first(capsys, tmp_path):
    """A line recogniser's CSV with `val_cer` and `val_wer`: two scores of one rank were read as
    a breakdown with no headline, and the loss was taken. Kinds rank as the listed names do
    (a Whisper Trainer's `eval_wer` before its `eval_cer`), and the CER is named."""
    log = _csv(tmp_path / "training_log.csv", {
        "train_loss": (3.3, 0.47), "val_loss": (3.1, 0.33), "val_cer": (0.83, 0.10),
        "val_wer": (4.7, 0.49), "lr": (0.001, 0.001)}, first_epoch=1)
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == ("val_wer", "min")
    assert ("taking val_wer, a held-out score, before the held-out loss val_loss: pass --metric "
            "val_loss to judge the run by it") in offline["warnings"]
    assert ("val_cer is a held-out score too, ranked after val_wer by its kind: pass --metric "
            "val_cer to judge the run by it") in offline["warnings"]
    assert watched(capsys, log)[0]["metric"] == "val_wer"
    hf = _csv(tmp_path / "hf.csv", {"loss": (3.3, 0.47), "eval_loss": (3.1, 0.33),
                                    "eval_cer": (0.83, 0.10), "eval_wer": (4.7, 0.49)})
    assert analyzed(capsys, hf)["metric"] == "eval_wer"  # the listed spelling's order


@pytest.mark.parametrize("columns, metric", [
    # a classifier's accuracy stays ahead of its F1 (the HF classifiers of the corpus)
    ({"val_accuracy": (0.6, 0.9), "val_f1": (0.5, 0.85), "val_loss": (1.0, 0.4)}, "val_accuracy"),
    # an F1 before an IoU where no accuracy is beside them (hf-ocr-ner-15ev's eval_f1)
    ({"eval_f1": (0.3, 0.8), "eval_mean_iou": (0.7, 0.8), "eval_loss": (1.0, 0.4)}, "eval_f1"),
    # per-entity F1s with no overall one are a breakdown: the loss, as before
    ({"eval_T005_f1": (0.1, 0.5), "eval_T007_f1": (0.2, 0.6), "eval_loss": (1.0, 0.4)},
     "eval_loss"),
    # a loss of a kind is no score: `val_loss_iou` is not an IoU
    ({"val_loss_iou": (0.9, 0.2), "val_accuracy": (0.6, 0.9)}, "val_accuracy"),
    # ranking scores share one rank (docs/detection.md): a breakdown, the loss before them
    ({"val_MRR": (0.3, 0.8), "val_mAP": (0.25, 0.7), "val_loss": (1.0, 0.4)}, "val_loss"),
])
def test_what_stays_as_it_was(capsys, tmp_path, columns, metric):
    assert analyzed(capsys, _csv(tmp_path / "log.csv", columns))["metric"] == metric


def test_the_rule_orders_kinds_within_a_split_and_splits_first():
    """Ranks: every kind of a split before any name of a later split, a score's kinds in order
    (F1, Dice, IoU ... AUPR, ROC AUC, WER, CER), all after the split's accuracy."""
    ranks = {name: held_out_match(name)[1] for name in (
        "val_accuracy", "val_f1", "val_dice", "val_iou", "val_aupr", "val_auc", "val_wer",
        "val_cer", "val_bleu", "test_accuracy")}
    assert sorted(ranks, key=ranks.get) == list(ranks)
    assert held_out_match("val_pr_auc")[1] == ranks["val_aupr"]  # not the ROC's
    assert held_out_match("val_loss_iou") is None


def test_the_loss_before_a_breakdown_names_the_scores_of_other_kinds(capsys, tmp_path):
    """An extreme classifier's macro and micro F1 tie (one kind), so the loss is taken, as
    before; its MRR and mAP, ranked after the F1 by kind, are named too (jsonl-xmc-20ev)."""
    log = _csv(tmp_path / "log.csv", {
        "val_loss": (0.08, 0.007), "val_macro_F1": (0.0003, 0.0018), "val_micro_F1": (0.19, 0.27),
        "val_MRR": (0.84, 0.92), "val_mAP": (0.21, 0.35)}, epochs=20)
    offline = analyzed(capsys, log)
    assert offline["metric"] == "val_loss"
    assert ("taking val_loss, the held-out loss, before 2 held-out scores none of which comes "
            "first (val_macro_F1, val_micro_F1); held-out scores of other kinds: val_MRR, "
            "val_mAP: pass --metric to judge the run by one") in offline["warnings"]


def _trainer_state(path: Path, columns: dict[str, tuple[float, float]], evaluations: int = 10,
                   every: int = 280) -> Path:
    """An HF Trainer's trainer_state.json: a train row (`loss`) and an evaluation row of
    `columns` (each a noisy settling curve, as `_csv`'s) every `every` steps."""
    rng = np.random.default_rng(5)
    t = np.arange(evaluations)
    curves = {name: last + (first - last) * np.exp(-t / 3)
              + 0.01 * abs(last - first) * rng.standard_normal(evaluations)
              for name, (first, last) in columns.items()}
    history = []
    for i in range(evaluations):
        step = (i + 1) * every
        history.append({"epoch": i + 1.0, "step": step, "loss": 0.8 / (1 + i)})
        history.append({"epoch": i + 1.0, "step": step, "eval_runtime": 30.0,
                        **{name: float(curves[name][i]) for name in columns}})
    path.write_text(json.dumps({"global_step": evaluations * every, "log_history": history}))
    return path


def test_a_ner_models_entity_f1_is_taken_before_seqevals_token_accuracy(capsys, tmp_path):
    """seqeval's entity-level metrics (HF's run_ner with `return_entity_level_metrics`): the
    token accuracy `overall_accuracy` counts the `O` tokens of no entity, most of them (0.835 ->
    0.859 while the entity F1 rose 0.465 -> 0.534: hf-ner-medmentions), and was taken."""
    log = _trainer_state(tmp_path / "trainer_state.json", {
        "eval_loss": (0.53, 0.51), "eval_overall_accuracy": (0.835, 0.859),
        "eval_overall_f1": (0.465, 0.534), "eval_overall_precision": (0.42, 0.52),
        "eval_overall_recall": (0.51, 0.55), "eval_DISO_f1": (0.43, 0.51),
        "eval_DISO_number": (1241, 1241), "eval_CHEM_f1": (0.38, 0.47)})
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == ("eval_overall_f1", "max")
    assert ("taking eval_overall_f1, seqeval's entity F1, before the accuracy "
            "eval_overall_accuracy, which counts right tokens, the O tag of no entity among "
            "them: pass --metric eval_overall_accuracy to judge the run by it"
            ) in offline["warnings"]
    assert watched(capsys, log)[0]["metric"] == "eval_overall_f1"


NER_FOUR = {"eval_loss": (0.53, 0.51), "eval_accuracy": (0.835, 0.859),
            "eval_f1": (0.465, 0.534), "eval_precision": (0.42, 0.52), "eval_recall": (0.50, 0.55)}


@pytest.mark.parametrize("saved, model", [
    ("config.json", {"architectures": ["BertForTokenClassification"], "model_type": "bert"}),
    ("adapter_config.json", {"peft_type": "LORA", "task_type": "TOKEN_CLS"}),
])
def test_a_token_classifiers_f1_is_taken_before_its_bare_token_accuracy(capsys, tmp_path, saved,
                                                                          model):
    """HF's run_ner.py without entity-level metrics renames seqeval's overall scores `accuracy`,
    `f1`, `precision`, `recall`: the four names a text classifier logs too. The model saved
    beside the state (a checkpoint's config.json, a LoRA adapter's task type) says it labels
    tokens: its accuracy counts the `O` tokens of no entity, and the entity F1 is taken."""
    checkpoint = tmp_path / "checkpoint-2800"
    checkpoint.mkdir()
    (checkpoint / saved).write_text(json.dumps(model))
    log = _trainer_state(checkpoint / "trainer_state.json", NER_FOUR)
    offline = analyzed(capsys, tmp_path)
    assert (offline["metric"], offline["direction"]) == ("eval_f1", "max")
    assert ("taking eval_f1, seqeval's entity F1, before the accuracy eval_accuracy, which counts "
            "right tokens, the O tag of no entity among them: pass --metric eval_accuracy to "
            "judge the run by it") in offline["warnings"]
    assert watched(capsys, log)[0]["metric"] == "eval_f1"


def test_a_token_classifier_said_by_hfs_tensorboard_model_config(capsys, tmp_path):
    """HF's TensorBoardCallback writes the model config as a text beside the scalars (`eval/f1`,
    `eval/accuracy`): a `...ForTokenClassification` there says the same."""
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    writer = torch_tb.SummaryWriter(log_dir=str(tmp_path / "run"))
    writer.add_text("model_config", json.dumps({"architectures": ["BertForTokenClassification"]}))
    for i in range(1, 9):
        writer.add_scalar("train/loss", 1 / i, i * 10)
        for name, (first, last) in NER_FOUR.items():
            writer.add_scalar(name.replace("eval_", "eval/"), first + (last - first) * i / 8,
                              i * 10)
    writer.close()
    assert analyzed(capsys, tmp_path / "run")["metric"] == "eval/f1"


@pytest.mark.parametrize("model", [
    None, {"architectures": ["BertForSequenceClassification"]}, {"task_type": "SEQ_CLS"}, [1],
])
def test_a_classifiers_four_scores_keep_its_accuracy(capsys, tmp_path, model):
    """The same four names from a text classifier (sklearn's precision_recall_fscore_support and
    accuracy_score), or with no model saved to tell: the accuracy, as documented."""
    if model is not None:
        name = "config.json" if "architectures" in model or model == [1] else "adapter_config.json"
        (tmp_path / name).write_text(json.dumps(model))
    log = _trainer_state(tmp_path / "trainer_state.json", NER_FOUR)
    assert analyzed(capsys, log)["metric"] == "eval_accuracy"


@pytest.mark.parametrize("saved", ["config.json", "adapter_config.json"])
@pytest.mark.parametrize("damage", ["nested", "folder", "not utf-8"])
def test_a_model_file_that_is_no_config_tells_nothing(capsys, tmp_path, saved, damage):
    """The files beside the state are no log: a `config.json` nested past Python's recursion
    limit (it ended `analyze` with an internal error, exit 70), a folder of that name or bytes
    that are no UTF-8 leave the choice to the names, and `analyze` and `watch` go on."""
    path = tmp_path / saved
    if damage == "nested":
        path.write_text("[" * 100_000 + "]" * 100_000)
    elif damage == "folder":
        path.mkdir()
    else:
        path.write_bytes(b'{"architectures": ["BertForTokenClassification"], "n": "\xe9"}')
    log = _trainer_state(tmp_path / "trainer_state.json", NER_FOUR)
    assert analyzed(capsys, log)["metric"] == "eval_accuracy"
    assert watched(capsys, log)[0]["metric"] == "eval_accuracy"


def test_a_multilabel_classifiers_f1_is_taken_before_its_subset_accuracy(capsys, tmp_path):
    """A multi-label classifier's `subset_accuracy` (every label of an example right) beside
    its `f1_micro` (hf-multilabel-3ev): the F1, which had no role (`f1_micro`), is the score."""
    log = _trainer_state(tmp_path / "trainer_state.json", {
        "eval_loss": (0.157, 0.19), "eval_subset_accuracy": (0.778, 0.834),
        "eval_f1_micro": (0.826, 0.861)}, evaluations=6)
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == ("eval_f1_micro", "max")
    assert ("taking eval_f1_micro, an F1, before the accuracy eval_subset_accuracy, which counts "
            "only the examples with every label right: pass --metric eval_subset_accuracy to "
            "judge the run by it") in offline["warnings"]
    assert watched(capsys, log)[0]["metric"] == "eval_f1_micro"


def test_an_f1_named_after_its_averaging_comes_before_the_kinds_after_it(capsys, tmp_path):
    """HF names both of a multi-label classifier's scores `eval_`: the ROC AUC, a name the
    role lists, took the role over `eval_f1_micro`, which only the held-out rule knew, and the
    note called the F1 "ranked after eval_roc_auc by its kind" (the F1's kind comes first, and
    `val_f1_micro` was taken before `val_roc_auc`). Two averages of the F1 still tie: the
    loss, with both named."""
    log = _trainer_state(tmp_path / "trainer_state.json", {
        "eval_loss": (0.157, 0.19), "eval_subset_accuracy": (0.778, 0.834),
        "eval_f1_micro": (0.826, 0.861), "eval_roc_auc": (0.80, 0.90)}, evaluations=6)
    offline = analyzed(capsys, log)
    assert offline["metric"] == "eval_f1_micro"
    assert ("eval_roc_auc is a held-out score too, ranked after eval_f1_micro by its kind: pass "
            "--metric eval_roc_auc to judge the run by it") in offline["warnings"]
    assert watched(capsys, log)[0]["metric"] == "eval_f1_micro"
    log = _trainer_state(tmp_path / "trainer_state.json", {
        "eval_loss": (1.0, 0.4), "eval_f1_micro": (0.5, 0.85), "eval_f1_macro": (0.4, 0.8),
        "eval_roc_auc": (0.7, 0.9)})
    assert analyzed(capsys, log)["metric"] == "eval_loss"


def test_an_f1_under_scikit_learns_function_name_is_the_f1(capsys, tmp_path):
    """A `compute_metrics` that returns `f1_score(...)` under its function's name logs
    `eval_f1_score`: the F1, taken before the ROC AUC beside it as `eval_f1` and `val_f1_score`
    are (the AUC, a listed name, was taken over it, with no note naming the F1)."""
    log = _trainer_state(tmp_path / "trainer_state.json", {
        "eval_loss": (0.5, 0.4), "eval_f1_score": (0.6, 0.8), "eval_roc_auc": (0.7, 0.9)})
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == ("eval_f1_score", "max")
    assert ("eval_roc_auc is a held-out score too, ranked after eval_f1_score by its kind: pass "
            "--metric eval_roc_auc to judge the run by it") in offline["warnings"]
    assert watched(capsys, log)[0]["metric"] == "eval_f1_score"


@pytest.mark.parametrize("columns, metric", [
    # a plain accuracy beside an F1: the classifier's accuracy, whatever the F1's averaging
    ({"eval_accuracy": (0.6, 0.9), "eval_f1_macro": (0.5, 0.85),
      "eval_f1_weighted": (0.55, 0.87), "eval_loss": (1.0, 0.4)}, "eval_accuracy"),
    # an overall accuracy beside an F1 that is not seqeval's `overall_f1`
    ({"eval_overall_accuracy": (0.6, 0.9), "eval_f1": (0.5, 0.85), "eval_loss": (1.0, 0.4)},
     "eval_overall_accuracy"),
    # a segmenter's overall (pixel) accuracy: its IoU first, as before (trainer-state-3dseg)
    ({"eval_overall_accuracy": (0.9, 0.95), "eval_mean_iou": (0.1, 0.4),
      "eval_loss": (1.0, 0.4)}, "eval_mean_iou"),
    # a subset accuracy with no F1 beside it
    ({"eval_subset_accuracy": (0.6, 0.9), "eval_loss": (1.0, 0.4)}, "eval_subset_accuracy"),
])
def test_an_accuracy_stays_ahead_of_the_scores_no_rule_puts_first(capsys, tmp_path, columns,
                                                                  metric):
    log = _trainer_state(tmp_path / "trainer_state.json", columns)
    assert analyzed(capsys, log)["metric"] == metric


def test_every_weak_accuracy_has_the_words_its_note_says():
    """`heldout_names.WEAK_ACCURACIES` decides which accuracies an F1 goes before; the note that
    says so takes its words from `score_notes.WEAK_ACCURACY_WORDS` by the name's first word. A
    kind added to the first alone would end `analyze` in a KeyError traceback, not a note."""
    from phasewatch.heldout_names import WEAK_ACCURACIES
    from phasewatch.score_notes import WEAK_ACCURACY_WORDS

    assert {first for first, _, _ in WEAK_ACCURACIES} == set(WEAK_ACCURACY_WORDS)
