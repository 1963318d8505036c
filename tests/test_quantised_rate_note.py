"""An accuracy on few items is a count out of N: its values are k/N and its noise is binomial,
far above what the scatter of a step function's differences gives (trial 32b finding 3:
hf-eatvul's accuracy on 14 items, 0.5 -> 0.643 -> 0.786, read its 2-item jumps as +6.7 sd of
an estimated 0.0213). HF's Trainer logs the evaluation set's size with every evaluation
(`eval_samples`, or `eval_samples_per_second` x `eval_runtime`): `analyze` warns, names the
size and what `--eval-size N` would judge the run against. The detection is unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from phasewatch.cli import main
from phasewatch.known_noise import binomial_sd, logged_eval_size, quantised_rate_note

NOTE = "multiples of 1/"


def _trainer_state(tmp_path: Path, size: int = 14, samples: bool = False, sizes: bool = True,
                   values: list[float] | None = None, prefix: str = "eval_") -> Path:
    """A trainer_state.json of 40 evaluations of an accuracy on `size` items: 7/14 for 8,
    9/14 for 12, then 11/14 (a step function), with HF's rounded runtime and speed."""
    rng = np.random.default_rng(3)
    counts = [7] * 8 + [9] * 12 + [11] * 20
    values = values or [k / size for k in counts]
    history = []
    for i, value in enumerate(values):
        step = 14 * (i + 1)
        runtime = float(rng.uniform(0.015, 0.3))
        row = {"step": step, "epoch": float(i + 1), f"{prefix}accuracy": value,
               f"{prefix}loss": 0.7 - 0.004 * i + 0.01 * float(rng.standard_normal())}
        if sizes:
            row[f"{prefix}runtime"] = round(runtime, 4)
            row[f"{prefix}samples_per_second"] = round(size / runtime, 3)
            row[f"{prefix}steps_per_second"] = round(2 / runtime, 3)
        if samples:
            row[f"{prefix}samples"] = size
        history.append(row)
    state = {"global_step": 14 * len(values), "max_steps": 14 * len(values), "log_history": history}
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps(state))
    return path


def _analyze(capsys, path: Path, *options: str) -> dict:
    assert main(["analyze", str(path), "--format", "json", *options]) == 0
    return json.loads(capsys.readouterr().out)["runs"][0]


def test_an_accuracy_on_14_items_is_told_its_binomial_noise(capsys, tmp_path):
    run = _analyze(capsys, _trainer_state(tmp_path))
    assert run["metric"] == "eval_accuracy"
    note = next(w for w in run["warnings"] if NOTE in w)
    binomial = float(np.sqrt(np.mean([binomial_sd(k / 14, 14) ** 2
                                      for k in [7] * 8 + [9] * 12 + [11] * 20])))
    ratio = binomial / run["noise_sd"]
    assert note == (f"eval_accuracy takes 3 values, multiples of 1/14, and the log's evaluation "
                    f"set has 14 samples (eval_samples_per_second x eval_runtime): its binomial "
                    f"noise is {binomial:.3g}, {ratio:.1f}x the {run['noise_sd']:.3g} estimated from the "
                    f"data; --eval-size 14 judges the run against it")
    assert ratio > 2
    # warned, not used: the phases are those of the same log without the size columns
    (tmp_path / "bare").mkdir()
    bare = _analyze(capsys, _trainer_state(tmp_path / "bare", sizes=False))
    assert not any(NOTE in w for w in bare["warnings"])
    assert run["phases"] == bare["phases"] and run["noise_sd"] == bare["noise_sd"]
    # the advice given: judged against the binomial noise, no warning
    told = _analyze(capsys, _trainer_state(tmp_path), "--eval-size", "14")
    assert not any(NOTE in w for w in told["warnings"])
    assert told["noise_sd"] == pytest.approx(binomial)


def test_eval_samples_gives_the_size_and_a_named_set_its_own(capsys, tmp_path):
    run = _analyze(capsys, _trainer_state(tmp_path, samples=True))
    assert "has 14 samples (eval_samples)" in next(w for w in run["warnings"] if NOTE in w)
    columns = {"eval_runtime": (np.arange(3), np.ones(3)),
               "eval_samples_per_second": (np.arange(3), np.full(3, 500.0)),
               "eval_g0_runtime": (np.arange(3), np.full(3, 0.5)),
               "eval_g0_samples_per_second": (np.arange(3), np.full(3, 28.0))}
    assert logged_eval_size(columns, "eval_g0_accuracy") == (
        14, "eval_g0_samples_per_second x eval_g0_runtime")
    assert logged_eval_size(columns, "eval_accuracy")[0] == 500
    assert logged_eval_size(columns, "val/accuracy") is None


def test_w_and_b_spelling(capsys, tmp_path):
    rng = np.random.default_rng(0)
    k = rng.integers(5, 9, 30)
    columns = {"eval/runtime": (np.arange(30), np.full(30, 0.0665)),
               "eval/samples_per_second": (np.arange(30), np.full(30, 210.6))}
    note = quantised_rate_note(columns, "eval/accuracy", k / 14, 0.02)
    assert note is not None and "(eval/samples_per_second x eval/runtime)" in note


def test_no_note_for_a_large_set_a_score_that_is_no_count_or_a_value_out_of_0_1(capsys, tmp_path):
    # 2000 items: the binomial sd (0.011) is no more than twice what the data give
    rng = np.random.default_rng(1)
    large = [round(float(np.clip(0.6 + 0.01 * i / 4 + 0.011 * rng.standard_normal(), 0, 1)) * 2000)
             / 2000 for i in range(40)]
    run = _analyze(capsys, _trainer_state(tmp_path, size=2000, values=large))
    assert not any(NOTE in w for w in run["warnings"])
    # 648 items, 9 values, an estimate 2.6x below the binomial sd but over one item (agnews):
    # greedy answers on a fixed set vary less than the binomial bound, no note
    agnews = {"eval_runtime": (np.arange(12), np.ones(12)),
              "eval_samples_per_second": (np.arange(12), np.full(12, 648.0))}
    counts = np.array([567, 584, 590, 586, 589, 591, 592, 590, 589, 590, 591, 592])
    assert quantised_rate_note(agnews, "eval_accuracy", counts / 648, 0.0044) is None
    assert quantised_rate_note(agnews, "eval_accuracy", counts / 648, 0.0014) is not None
    columns = {"eval_runtime": (np.arange(3), np.ones(3)),
               "eval_samples_per_second": (np.arange(3), np.full(3, 14.0))}
    f1 = np.array([0.51, 0.63, 0.64, 0.71, 0.72])  # no k/14
    assert quantised_rate_note(columns, "eval_f1", f1, 0.01) is None
    assert quantised_rate_note(columns, "eval_bleu", np.array([7.0, 9.0, 11.0]) * 3, 0.01) is None
    # speeds that are no one size (a varying set, a sampled subset)
    varying = {"eval_runtime": (np.arange(3), np.ones(3)),
               "eval_samples_per_second": (np.arange(3), np.array([14.0, 20.0, 28.0]))}
    assert logged_eval_size(varying, "eval_accuracy") is None


def test_a_one_item_change_that_then_repeats_is_told_too(capsys, tmp_path):
    """wandb-prefdecode-rm (trial 35b finding 5): an accuracy on 10 items, 5/10 then 4/10 at
    every later evaluation, has a noise estimate of 0 and was a "disruption, not recovered"
    without a word on its 10 items; W&B's copy of the Trainer's rows names them `eval/`."""
    values = [0.5] + [0.4] * 19
    run = _analyze(capsys, _trainer_state(tmp_path, size=10, values=values, prefix="eval/"))
    assert run["noise_sd"] == 0
    note = next(w for w in run["warnings"] if NOTE in w)
    assert note.endswith("its binomial noise is 0.156, where the data's own estimate is 0; "
                         "--eval-size 10 judges the run against it")
    assert "eval/samples_per_second x eval/runtime" in note


def test_three_evaluations_are_judged_against_the_binomial_noise_of_the_logged_set(capsys, tmp_path):
    """Too few for an estimate, an accuracy of 4410, 4513 and 4649 correct of 5000 was a
    "plateau, not established" with no noise (reader 40b): the log states the set's size, so
    the run is judged against its binomial noise, and says so."""
    def state(values):
        history = [{"step": 1000 * (i + 1), "eval_accuracy": v, "eval_runtime": runtime,
                    "eval_samples_per_second": round(5000 / runtime, 3)}
                   for i, (v, runtime) in enumerate(zip(values, (501.3, 519.3, 502.0)))]
        path = tmp_path / "trainer_state.json"
        path.write_text(json.dumps({"global_step": 3000, "max_steps": 3000, "log_history": history}))
        return path

    run = _analyze(capsys, state([4410 / 5000, 4513 / 5000, 4649 / 5000]))
    binomial = float(np.sqrt(np.mean([binomial_sd(k / 5000, 5000) ** 2 for k in (4410, 4513, 4649)])))
    assert run["noise_sd_source"] == "logged" and run["eval_size"] == 5000
    assert run["noise_sd"] == pytest.approx(binomial)
    assert [p["name"] for p in run["phases"]] == ["improvement"]
    assert (f"eval_accuracy: 3 evaluations are too few to estimate the noise; it is judged against "
            f"the binomial noise of the 5000 samples the log's evaluation set has "
            f"(eval_samples_per_second x eval_runtime), {binomial:.3g} (an upper bound when the "
            "answers are greedy on a fixed set)") in run["warnings"]
    # values that are no counts of the logged set: no noise is made up
    assert "noise_sd_source" not in _analyze(capsys, state([0.88213, 0.9026, 0.92981]))


def test_a_move_the_binomial_cannot_explain_is_said_beside_it(capsys, tmp_path):
    """hf-ai-text-detect-4ev: an accuracy on 36,000 items, 0.787, 0.805, 0.760, 0.827, judged
    against its binomial 0.0021 ("improvement +18.6 sd"), while its third evaluation sat 21 of
    those sds below both neighbours and the fourth undid it: the note says the checkpoints vary
    more than the set's sampling. A run that only climbs (4410, 4513, 4649 of 5000 above) gets
    no such words."""
    counts = (28332, 28980, 27360, 29772)
    history = [{"step": 1000 * (i + 1), "eval_accuracy": k / 36_000, "eval_runtime": runtime,
                "eval_samples_per_second": round(36_000 / runtime, 3)}
               for i, (k, runtime) in enumerate(zip(counts, (339.8, 339.1, 338.9, 338.7)))]
    path = tmp_path / "trainer_state.json"
    path.write_text(json.dumps({"global_step": 4000, "max_steps": 4000, "log_history": history}))
    run = _analyze(capsys, path)
    [note] = [w for w in run["warnings"] if "too few to estimate the noise" in w]
    assert run["noise_sd_source"] == "logged"
    assert note.endswith(f"; but its evaluation 3 of 4, {27360 / 36_000:.4g}, sits 0.045 (21 of "
                         "those sds) off both its neighbours, a move the next one undoes: its "
                         "checkpoints vary more than the set's sampling, and the sds here "
                         "understate the run's own noise")
