"""One metric at several taxonomic levels is one validation set, judged by its finest level.

A hierarchical species classifier's Lightning metrics.csv (a FathomNet run's shape) logs
`val_order_acc`, `val_family_acc`, `val_genus_acc`, `val_species_acc` beside `val_loss`.
Before: analyze took `val_family_acc` (the first by name) and warned "4 validation sets hold
eval/accuracy", offering their mean."""

from __future__ import annotations

import json

import pytest

from phasewatch import read_run
from phasewatch.cli import main
from phasewatch.level_names import finest_level, taxonomic_levels

LEVELS = ("order", "family", "genus", "species")
EPOCHS, STEPS_PER_EPOCH = 30, 100


def _accuracy(level: int, epoch: int) -> float:
    """A level's accuracy after `epoch`: coarser levels rise to a level and stay there; the
    species rises to epoch 14 and falls after it (its head overfits), by far more than the
    alternating noise of 0.002."""
    noise = 0.002 if epoch % 2 else -0.002
    rise = min(epoch, 14) * 0.01
    fall = 0.006 * max(0, epoch - 14) if LEVELS[level] == "species" else 0.0
    return 0.70 - 0.04 * level + rise - fall + noise


def _metrics_csv(path):
    """The file as Lightning's CSVLogger writes it: a train row every 10 steps, a validation row
    at each epoch's last step, the columns in name order."""
    names = ["epoch", "step", "train_loss", *sorted(f"val_{lv}_acc" for lv in LEVELS), "val_loss"]
    lines = [",".join(names)]
    for epoch in range(EPOCHS):
        for step in range(epoch * STEPS_PER_EPOCH + 9, (epoch + 1) * STEPS_PER_EPOCH, 10):
            row = {"epoch": epoch, "step": step, "train_loss": 3.0 / (1 + step / 100)}
            lines.append(",".join(str(row.get(n, "")) for n in names))
        row = {"epoch": epoch, "step": (epoch + 1) * STEPS_PER_EPOCH - 1,
               "val_loss": 1.0 - 0.01 * min(epoch, 14)}
        row.update({f"val_{lv}_acc": round(_accuracy(i, epoch), 4) for i, lv in enumerate(LEVELS)})
        lines.append(",".join(str(row.get(n, "")) for n in names))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_analyze_takes_the_finest_level_and_calls_them_levels(tmp_path, capsys):
    path = _metrics_csv(tmp_path / "metrics.csv")
    assert main(["analyze", str(path)]) == 0
    out = capsys.readouterr().out
    assert "metric val_species_acc (max)" in out and "overfit" in out, out
    assert ("4 taxonomic levels hold eval/accuracy: val_order_acc, val_family_acc, "
            "val_genus_acc, val_species_acc; analysed val_species_acc only, the finest level "
            "(the log does not say which level the run is judged by). Choose one with "
            "--metric NAME") in out, out
    assert "--aggregate" not in out  # a mean of the levels is no score of the set
    assert read_run(path).aliases["eval/accuracy"] == "val_species_acc"


def test_inspect_and_watch_take_it_too(tmp_path, capsys):
    path = _metrics_csv(tmp_path / "metrics.csv")
    assert main(["inspect", str(path), "--format", "json"]) == 0
    performance = json.loads(capsys.readouterr().out)["performance"]
    assert (performance["metric"], performance["sets"], performance["sets_kind"]) == \
        ("val_species_acc", 4, "taxonomic levels")
    assert main(["watch", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"({EPOCHS} values of val_species_acc)" in err, err


def test_a_chosen_level_is_analysed_without_the_notice(tmp_path, capsys):
    path = _metrics_csv(tmp_path / "metrics.csv")
    assert main(["analyze", str(path), "--metric", "val_family_acc"]) == 0
    out = capsys.readouterr().out
    assert "metric val_family_acc (max)" in out and "taxonomic levels" not in out, out


@pytest.mark.parametrize("names, levels", [
    (["val_species_acc", "val_genus_acc"], ["val_genus_acc", "val_species_acc"]),
    (["val/species/acc", "val/phylum/acc", "val/class/acc"],
     ["val/phylum/acc", "val/class/acc", "val/species/acc"]),
    (["valid-Family-top1", "valid-Kingdom-top1"], ["valid-Kingdom-top1", "valid-Family-top1"]),
    # a domain-adversarial run's class and domain accuracies: no taxonomy
    (["val_class_acc", "val_domain_acc"], None),
    # ranks whose words name other things too (a sentence-order accuracy): no taxonomy word
    (["val_class_acc", "val_order_acc"], None),
    # two validation sets, or levels that differ by more than their rank
    (["val_gsm8k_acc", "val_math_acc"], None),
    (["val_genus_acc", "test_species_acc"], None),
    (["val_species_acc"], None),
])
def test_levels_are_names_that_differ_only_by_a_rank(names, levels):
    assert taxonomic_levels(names) == levels
    assert finest_level(names) == (levels[-1] if levels else None)
