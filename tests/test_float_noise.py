"""Values on an exact line (a demo script's `reward = 1.3 + 0.1 * step`): their noise is float
rounding, so no effect is printed in multiples of it ("change +0.9 (+10944998022912920.0 sd)"
on a demo log of the fifth new-user sweep), offline or live."""

import json

import pytest

from phasewatch.cli import main


def _log(tmp_path, n):
    # 1.3 + 0.1 * k in floats: 1.4000000000000001, ..., the way a demo loop writes them
    lines = [json.dumps({"step": k + 1, "reward_mean": 1.3 + 0.1 * k,
                         "policy_loss": 0.66 + 0.01 * k}) for k in range(n)]
    path = tmp_path / "demo.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("n", [5, 10, 30])
def test_analyze_gives_no_effect_in_sds_of_float_rounding(tmp_path, capsys, n):
    path = _log(tmp_path, n)
    assert main(["analyze", str(path), "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["metric"] == "reward_mean"
    assert [p["name"] for p in run["phases"]] == ["improvement"]
    assert run["noise_sd"] in (0.0, None)
    assert run["phases"][0]["change_sd"] is None
    assert run["phases"][0]["change"] == pytest.approx(0.1 * (n - 1))
    assert any("float precision" in w for w in run["warnings"])
    assert main(["analyze", str(path)]) == 0
    text = capsys.readouterr().out
    assert " sd)" not in text and "e+" not in text


def test_watch_gives_no_gap_in_standard_errors_of_float_rounding(tmp_path, capsys):
    path = _log(tmp_path, 30)
    assert main(["watch", str(path)]) == 0
    out = capsys.readouterr().out
    assert "rose" in out  # the improvement is announced ...
    assert " se)" not in out  # ... without a gap of ~1e15 standard errors


def test_real_noise_still_gives_effects_in_sds(tmp_path, capsys):
    rng_values = [0.5, 0.52, 0.49, 0.51, 0.6, 0.7, 0.8, 0.81, 0.79, 0.8, 0.82, 0.8]
    path = tmp_path / "run.csv"
    path.write_text("step,eval_accuracy\n" + "".join(f"{(k + 1) * 10},{v}\n"
                                                      for k, v in enumerate(rng_values)))
    assert main(["analyze", str(path), "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["noise_sd"] > 0
    assert any(p["change_sd"] is not None for p in run["phases"])
    assert not any("float precision" in w for w in run["warnings"])



def test_a_rate_on_few_items_is_told_its_noise_once(tmp_path, capsys):
    """An accuracy on 10 items at 0.5, then 0.4 nineteen times (wandb-prefdecode-rm-20ev): its
    values lie on exact lines (a noise sd of float rounding) and move in whole items. It was
    told "the values lie on straight lines to float precision (noise sd 3.5e-17): no effect is
    given in noise sds" and, beside it, the binomial note that says the same estimate is 0 and
    what the noise of 10 items is: now the binomial note alone."""
    rows = [{"step": 10 * (i + 1), "eval_accuracy": 0.5 if i == 0 else 0.4, "eval_runtime": 2.0,
             "eval_samples_per_second": 5.0} for i in range(20)]
    log = tmp_path / "eval.jsonl"
    log.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert main(["analyze", str(log), "--format", "json"]) == 0
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["noise_sd"] == 0.0
    said = [w for w in run["warnings"] if "noise" in w]
    assert len(said) == 1 and "its binomial noise is 0.156, where the data's own estimate is 0" \
        in said[0]
