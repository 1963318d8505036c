"""`watch` says at its end what `analyze` warns of a rate on a few items whose noise estimate is
below one item (`known_noise.quantised_rate_note`): a held-out accuracy on 10 samples moving by
one sample read as a disruption of "4.6 se" live, and the whole-run answer came without the
caveat `analyze` prints beside it (a W&B reward model's eval/accuracy, 0.5 then 0.4 for 19
evaluations, followed live)."""

from __future__ import annotations

import json

from watch_follower import Follower, replay, write_in_pieces

from phasewatch.live import LiveWatch

NOTE = "--eval-size 10 judges the run against it"


def _log() -> str:
    """An HF-style JSONL log: train loss, and an accuracy on 10 samples (runtime x rate = 10)."""
    rows = []
    for i, acc in enumerate([0.5, 0.5] + [0.4] * 10):
        rows.append({"step": 10 * (i + 1), "loss": 1.0 / (i + 1)})
        rows.append({"step": 10 * (i + 1), "eval_accuracy": acc, "eval_runtime": 2.0,
                     "eval_samples_per_second": 5.0})
    return "".join(json.dumps(r) + "\n" for r in rows)


def test_a_follow_ends_with_the_binomial_noise_of_a_rate_on_few_items(tmp_path):
    path = tmp_path / "metrics.jsonl"
    follower = Follower(path, stop_on=(), idle_exit=1.0)
    follower.wait_for_message("does not exist yet")
    write_in_pieces(path, _log(), 300)
    followed = follower.ends_by_itself()
    assert followed == replay(path, stop_on=())[0]
    assert [a.event for a in followed] == ["disruption"]  # the one-sample step, as analyze reads it
    assert sum(NOTE in m for m in follower.messages) == 1


def test_no_note_when_the_noise_is_given(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text(_log())
    messages: list[str] = []
    watch = LiveWatch(path, notice=messages.append, info=messages.append, eval_size=10)
    assert list(watch.alerts()) == []  # one sample of ten is no significant change
    assert not any(NOTE in m for m in messages)
