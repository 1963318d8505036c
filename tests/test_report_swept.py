"""The report's hyperparameter panels and seed-group titles are about settings swept within an
arm, not settings that only tell the arms apart (trial 40e finding 10)."""

from __future__ import annotations

import re

from phasewatch.report.sections import _varying, features_vs_hps


def _result(algorithm, seed, lr, switch_step, value):
    return {"row": {"path": f"runs/{algorithm}-{lr}-{seed}", "name": f"{algorithm}-{seed}",
                    "algorithm": algorithm, "metric": "eval/accuracy", "seed": seed,
                    "hp.lr": lr, "hp.switch_step": switch_step, "hp.seed": seed,
                    "dip_depth": value, "recommended_value": value, "error": None},
            "detail": None}


def test_a_setting_that_differs_only_between_arms_gets_no_panel():
    # sft_then_rl switches at 750, the others record an unused 800: arm identity, no sweep
    results = [_result("sft", s, 1e-3, 800, 0.5 + s / 100) for s in range(3)]
    results += [_result("sft_then_rl", s, 1e-3, 750, 0.4 + s / 100) for s in range(3)]
    html = features_vs_hps(results)
    assert "vs switch_step" not in html and "vs lr" not in html
    assert "differs only between arms" in html
    # a learning rate swept within one arm is a sweep
    results += [_result("sft", s, 3e-3, 800, 0.6 + s / 100) for s in range(3)]
    titles = set(re.findall(r"vs (\w+)", features_vs_hps(results)))
    assert titles == {"lr"}


def test_a_seed_groups_title_names_only_the_settings_swept_within_its_arm():
    keys = [("sft", "acc", (("hp.lr", "0.001"), ("hp.switch_step", "800"))),
            ("sft", "acc", (("hp.lr", "0.003"), ("hp.switch_step", "800"))),
            ("sft_then_rl", "acc", (("hp.lr", "0.001"), ("hp.switch_step", "750")))]
    assert _varying(keys) == {"hp.lr"}
