"""What `watch` says at the end of a run of at most 12 evaluations whose log states no planned
length, past the warm-up (`live_result.WatchResult._unplanned_sparse_phase`)."""

from __future__ import annotations

import json

from test_watch import run_cli


def write_log(path, values):
    path.write_text("".join(json.dumps({"epoch": i, "val_loss": v}) + "\n"
                            for i, v in enumerate(values)))
    return path


def test_a_sparse_run_without_a_plan_says_why_nothing_was_said(tmp_path, capsys):
    """A val loss that falls 7 sds and rises 6 over 10 epochs ended "live phase no significant
    change yet" beside "whole run: improvement > overfit": the monitor reads an unplanned
    sparse run as the start of a longer one, and the summary says so, and what judges it."""
    log = write_log(tmp_path / "history.jsonl", [0.512, 0.477, 0.473, 0.477, 0.475, 0.465,
                                                  0.484, 0.490, 0.498, 0.505])
    said = ("none said (10 evaluations: without a planned length a run this short is judged as "
            "the start of a longer one; --planned-steps judges it as the whole run)")
    code, out, err = run_cli(capsys, log, "--metric", "val_loss")
    assert code == 0 and f"live phase {said}" in err, err
    assert "no significant change" not in err and "whole run: improvement > overfit" in err, err
    code, out, err = run_cli(capsys, log, "--metric", "val_loss", "--format", "jsonl")
    assert said in json.loads(out.splitlines()[-1])["message"]
    code, out, err = run_cli(capsys, log, "--metric", "val_loss", "--planned-steps", "9")
    assert code == 0 and "overfit" in out and "none said" not in err, (out, err)


def test_a_longer_unplanned_run_still_says_no_significant_change(tmp_path, capsys):
    """Past 12 evaluations the monitor judges the run as it goes: a flat one has no change."""
    values = [0.5 + 0.002 * ((-1) ** i) for i in range(16)]
    code, _, err = run_cli(capsys, write_log(tmp_path / "flat.jsonl", values),
                           "--metric", "val_loss")
    assert code == 0 and "live phase no significant change yet" in err, err
