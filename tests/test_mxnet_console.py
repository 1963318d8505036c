"""MXNet's `module.fit` logs each epoch's metrics as `Epoch[3] Train-accuracy=0.87`, `Epoch[3]
Time cost=41.2` and `Epoch[3] Validation-accuracy=0.91` (`base_module.py`), after the
`Speedometer` callback's `Epoch[3] Batch [20]\tSpeed: 142.33 samples/sec\taccuracy=0.56` lines:
the split joined to the metric's name by a hyphen. `Validation-accuracy` had no role, and
analyze exited 2 ("no performance metric found") without --metric."""

from __future__ import annotations

import json

import pytest
from _files import write
from cli_json import analyzed, watched

from phasewatch.cli import main
from phasewatch.heldout_names import hyphens_as_underscores
from phasewatch.presets import aliases_for, default_direction


def mxnet_log(metric: str = "accuracy", epochs: int = 8, batches: int = 120,
              validation: tuple[float, float] = (0.70, 0.93)) -> str:
    """A console in the layout MXNet's `Module.fit` prints with `logging.basicConfig(level=INFO)`:
    the Speedometer's lines every 20 batches, then each epoch's train metric, time cost,
    checkpoint and validation metric."""
    lines = [("INFO:root:start with arguments Namespace(batch_size=32, disp_batches=20, "
              "lr=0.01, network='resnet', num_epochs=8)")]
    first, last = validation
    for epoch in range(epochs):
        for batch in range(20, batches + 1, 20):
            value = 0.55 + 0.04 * epoch + batch / 4000
            lines.append(f"INFO:root:Epoch[{epoch}] Batch [{batch}]\tSpeed: 142.33 samples/sec"
                         f"\t{metric}={value:.6f}")
        lines.append(f"INFO:root:Epoch[{epoch}] Train-{metric}={0.6 + 0.04 * epoch:.6f}")
        lines.append(f"INFO:root:Epoch[{epoch}] Time cost={140.99 - epoch:.3f}")
        lines.append(f'INFO:root:Saved checkpoint to "models/img_cls-{epoch + 1:04d}.params"')
        score = first + (last - first) * (epoch / (epochs - 1)) ** 0.5
        lines.append(f"INFO:root:Epoch[{epoch}] Validation-{metric}={score:.6f}")
    return "\n".join(lines) + "\n"


def test_the_validation_accuracy_is_the_metric_higher_is_better(capsys, tmp_path):
    path = write(tmp_path, mxnet_log())
    offline = analyzed(capsys, path)
    assert (offline["metric"], offline["direction"]) == ("Validation-accuracy", "max")
    summary, _ = watched(capsys, path)
    assert (summary["metric"], summary["direction"]) == ("Validation-accuracy", "max")
    assert main(["inspect", str(path), "--format", "json"]) == 0
    inspected = json.loads(capsys.readouterr().out)
    assert inspected["performance"]["metric"] == "Validation-accuracy"
    assert {"Train-accuracy", "Time cost", "accuracy"} <= set(inspected["metrics"])


def test_a_validation_cross_entropy_is_the_held_out_loss_lower_is_better(capsys, tmp_path):
    """MXNet's `CrossEntropy` metric is named `cross-entropy`, so the log says
    `Validation-cross-entropy`."""
    path = write(tmp_path, mxnet_log("cross-entropy", validation=(0.9, 0.4)))
    offline = analyzed(capsys, path)
    assert (offline["metric"], offline["direction"]) == ("Validation-cross-entropy", "min")


@pytest.mark.parametrize("name, role, direction", [
    ("Validation-accuracy", "eval/accuracy", "max"),
    ("Validation-cross-entropy", "eval/loss", "min"),
    ("Validation-nll-loss", "eval/loss", "min"),
    ("val-acc", "eval/accuracy", "max"),
    ("val-aux/gsm8k/nll-loss", "eval/loss", "min"),
])
def test_a_hyphen_between_words_reads_as_an_underscore(name, role, direction):
    assert aliases_for([name, "Train-accuracy"]) == {role: name}
    assert default_direction(name) == direction


@pytest.mark.parametrize("name, same", [
    ("Train-top_k_accuracy_5", "Train_top_k_accuracy_5"),
    ("f1-score", "f1_score"),
    ("eval_rouge-1", "eval_rouge-1"),  # a score's own hyphen, before a digit
    ("eval/bleu-4", "eval/bleu-4"),
    ("metrics/mAP50-95(B)", "metrics/mAP50-95(B)"),
    ("val-aux/open-math/cross-entropy", "val-aux/open-math/cross_entropy"),  # the last part only
    ("dev-validation/loss", "dev-validation/loss"),
])
def test_only_hyphens_joining_words_of_the_last_part_are_separators(name, same):
    assert hyphens_as_underscores(name) == same


def test_names_with_hyphens_keep_the_roles_they_had():
    """A listed name with a hyphen is matched as spelled (`eval_rouge-l`: a score, not read as
    `eval_rouge_l`); a split's own (`val-core/`) keeps its section."""
    aliases = aliases_for(["eval_rouge-l", "eval_loss"])
    assert (aliases["eval/accuracy"], aliases["eval/loss"]) == ("eval_rouge-l", "eval_loss")
    assert aliases_for(["val-core/gsm8k/acc/mean@4"]) == {"eval/accuracy":
                                                          "val-core/gsm8k/acc/mean@4"}
    assert aliases_for(["Train-accuracy"]) == {}
