"""A `trainer_state.json` the HF Trainer saved inside checkpoint-N holds the steps up to N: the
warning that a log ends before its plan says it may be that copy, where N is a multiple of the
run's save_steps (hf-subjectivity-5ev's results/checkpoint-500/trainer_state.json of a
520-step run was told only that the run 'stopped early ... or was still training')."""

from __future__ import annotations

import json

import pytest

import phasewatch


def _state(tmp_path, global_step: int, save_steps: int):
    history = [{"step": s, "epoch": s / 104, "eval_accuracy": 0.7 + 0.0002 * s}
               for s in range(100, global_step + 1, 100)]
    folder = tmp_path / f"checkpoint-{global_step}"
    folder.mkdir()
    path = folder / "trainer_state.json"
    path.write_text(json.dumps({"global_step": global_step, "max_steps": 520,
                                "save_steps": save_steps, "log_history": history}))
    return path


def _ends_note(path) -> str:
    return next(w for w in phasewatch.analyze(path).warnings if "its run plans" in w)


def test_a_checkpoint_s_copy_is_named_as_a_likely_cause(tmp_path):
    note = _ends_note(_state(tmp_path, 500, 250))
    assert "the log ends at step 500, before the step 520 its run plans" in note
    assert "checkpoint-500's copy (the Trainer saves one every save_steps, 250)" in note


@pytest.mark.parametrize("global_step, save_steps", [(400, 300), (500, 0)])
def test_not_where_the_step_is_no_save_step(tmp_path, global_step, save_steps):
    assert "copy" not in _ends_note(_state(tmp_path, global_step, save_steps))
