"""A regression's held-out correlation is its held-out score, whatever name its script gives
it (`heldout_names.TASK_SCORES`): Spearman's rho by its symbol (`val_rho`: a CRISPR on-target
regressor's JSON log, json-crispr-ontarget-valrho-35, was analysed on its train loss, with a
warning that no held-out metric was known), SciPy's `pearsonr`, an image-quality model's SRCC
and PLCC, scikit-learn's `r2_score`. The ranking stays: an accuracy first, then the
correlations in the order of GLUE's listed names (Pearson, Spearman), then R^2, each before the
held-out loss and each choice said; `watch` makes the same choice."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_json import analyzed, watched

from phasewatch.heldout_names import held_out_match


def _epochs(path: Path, columns: dict[str, tuple[float, float]], epochs: int = 30) -> Path:
    """A home-made JSON log, `{"epochs": [{"epoch": 1, "loss": ..., ...}, ...]}`: each column
    a noisy curve from `first` to `last` that settles."""
    rng = np.random.default_rng(5)
    t = np.arange(epochs)
    curves = {name: last + (first - last) * np.exp(-t / 5)
              + 0.01 * abs(last - first) * rng.standard_normal(epochs)
              for name, (first, last) in columns.items()}
    rows = [{"epoch": i + 1, **{name: float(curves[name][i]) for name in columns}}
            for i in range(epochs)]
    path.write_text(json.dumps({"epochs": rows}, indent=4))
    return path


def test_spearmans_rho_by_its_symbol_is_the_held_out_score(capsys, tmp_path):
    """The CRISPR log's shape: a train loss (a negative correlation, falling) and `val_rho`."""
    log = _epochs(tmp_path / "on_target_metrics.json",
                  {"loss": (-0.52, -1.40), "val_rho": (0.73, 0.83)}, epochs=35)
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == ("val_rho", "max")
    assert not any("no held-out metric" in w for w in offline["warnings"])
    assert watched(capsys, log)[0]["metric"] == "val_rho"


@pytest.mark.parametrize("score", ["val_pearsonr", "val_pearson_r", "val_spearman_rho",
                                   "val_srcc", "val_plcc", "val_r2", "val_r2_score"])
def test_a_correlation_is_taken_before_the_held_out_loss(capsys, tmp_path, score):
    log = _epochs(tmp_path / "log.json", {"train_loss": (1.0, 0.3), "val_loss": (1.0, 0.5),
                                           score: (0.2, 0.7)})
    offline = analyzed(capsys, log)
    assert (offline["metric"], offline["direction"]) == (score, "max")
    assert (f"taking {score}, a held-out score, before the held-out loss val_loss: pass "
            "--metric val_loss to judge the run by it") in offline["warnings"]


@pytest.mark.parametrize("columns, metric, also", [
    # an accuracy stays ahead of a correlation beside it
    ({"val_accuracy": (0.6, 0.9), "val_rho": (0.2, 0.7), "val_loss": (1.0, 0.4)},
     "val_accuracy", None),
    # Pearson, then Spearman, then R^2, as GLUE's eval_pearson before its eval_spearmanr
    ({"val_r2": (0.1, 0.6), "val_rho": (0.2, 0.7), "val_pearsonr": (0.3, 0.8),
      "val_loss": (1.0, 0.4)}, "val_pearsonr",
     "val_r2, val_rho are held-out scores too, ranked after val_pearsonr by their kinds"),
    ({"val_r2": (0.1, 0.6), "val_srcc": (0.2, 0.7), "val_loss": (1.0, 0.4)}, "val_srcc",
     "val_r2 is a held-out score too, ranked after val_srcc by its kind"),
    # the listed GLUE names as before (hf-sts-3ev)
    ({"eval_spearman": (0.2, 0.7), "eval_pearson": (0.3, 0.8), "eval_loss": (1.0, 0.4)},
     "eval_pearson", "eval_spearman is a held-out score too, ranked after eval_pearson"),
])
def test_the_ranking_stays(capsys, tmp_path, columns, metric, also):
    offline = analyzed(capsys, _epochs(tmp_path / "log.json", columns))
    assert offline["metric"] == metric
    if also is not None:
        assert any(w.startswith(also) for w in offline["warnings"]), offline["warnings"]


def test_the_kinds_rank_in_order_and_other_names_stay_unknown():
    names = ("val_accuracy", "val_f1", "val_pearson", "val_rho", "val_r2", "val_aupr", "val_wer")
    ranks = {name: held_out_match(name)[1] for name in names}
    assert sorted(ranks, key=ranks.get) == list(ranks)
    for same, kind in (("val_pearsonr", "val_pearson"), ("val_plcc", "val_pearson"),
                       ("val_srcc", "val_rho"), ("val_spearmanr", "val_rho")):
        assert held_out_match(same)[1] == ranks[kind], same
    for name in ("val_lr2", "val_rhos", "train_rho", "rho"):
        assert held_out_match(name) is None, name
