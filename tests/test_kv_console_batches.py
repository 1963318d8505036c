"""PyTorch's word_language_model example (and the many scripts copied from it) prints `| epoch
3 |   200/ 2983 batches | lr 20.00 | ms/batch 11.71 | loss  5.67 | ppl   290.63` and after each
epoch `| end of epoch   3 | time: 36.35s | valid loss  5.61 | valid ppl   273.43`: an unknown log
format (`N/ TOTAL batches` was no field, `valid loss  5.61` no item)."""

from __future__ import annotations

import math

import pytest
from _files import write

from phasewatch.api import analyze
from phasewatch.errors import InputError
from phasewatch.io import read_run

RULE = "-" * 89


def example_log(epochs: int = 5, per_epoch: int = 2983) -> str:
    lines = ["Namespace(batch_size=20, bptt=35, epochs=5, log_interval=200, lr=20, model='LSTM')"]
    for epoch in range(1, epochs + 1):
        for batch in range(200, per_epoch, 200):
            loss = 6.0 - 0.3 * epoch - batch / 30000
            lines.append(f"| epoch {epoch:3d} | {batch:5d}/{per_epoch:5d} batches | lr 20.00 | "
                         f"ms/batch 11.71 | loss {loss:5.2f} | ppl {math.exp(loss):8.2f}")
        valid = 5.9 - 0.25 * epoch
        lines += [RULE, f"| end of epoch {epoch:3d} | time: 36.35s | valid loss {valid:5.2f} | "
                        + f"valid ppl {math.exp(valid):8.2f}", RULE]
    lines += ["=" * 89, "| End of training | test loss  4.70 | test ppl   109.95", "=" * 89]
    return "\n".join(lines) + "\n"


def test_the_batches_are_counted_over_the_epochs_and_the_validation_is_read(tmp_path):
    path = write(tmp_path, example_log())
    run = read_run(path)
    assert sorted(run.metrics) == ["loss", "lr", "ms/batch", "ppl", "test loss", "test ppl",
                                   "valid loss", "valid ppl"]
    steps = run.series("loss").index.tolist()
    assert steps[:2] == [200, 400] and steps[14:16] == [2983 + 200, 2983 + 400]
    # each epoch's validation at the last batch logged in it
    assert run.series("valid loss").index.tolist() == [e * 2983 + 2800 for e in range(5)]
    assert run.series("valid loss").tolist() == pytest.approx([5.9 - 0.25 * e
                                                               for e in range(1, 6)])
    assert analyze(path).metric == "valid loss"


def test_the_closing_test_evaluation_is_read_at_the_last_step_and_ends_the_run(tmp_path):
    """`| End of training | test loss  4.70 | test ppl   109.95`: the best model's test split,
    evaluated once after the epochs, a held-out point at the last step; the validation loss
    of every epoch stays the metric analysed (the test loss's one value shows no trend)."""
    from phasewatch.io import kv_console

    path = write(tmp_path, example_log())
    run = read_run(path)
    last = 4 * 2983 + 2800
    assert run.series("test loss").to_dict() == {last: 4.70}
    assert run.series("test ppl").to_dict() == {last: 109.95}
    assert max(run.series("loss").index) == last
    assert analyze(path).metric == "valid loss"
    source = kv_console.source(path)
    list(source.read())
    assert source.info.finished
    # the same line without numbers is no record, and says nothing of the run's end
    cut = write(tmp_path, example_log().replace("| End of training | test loss  4.70 | test ppl"
                                                "   109.95", "| End of training | saved to x.pt"))
    source = kv_console.source(cut)
    list(source.read())
    assert "test loss" not in read_run(cut).metrics and not source.info.finished


@pytest.mark.parametrize("text", [
    # prose in a piped field beside a `name: value` one: no item, so no record and no log
    "".join(f"| epoch {e} | note: ok | the answer is {e}.5 | and then 7.5\n" for e in range(1, 6)),
    # a count of batches and nothing measured
    "".join(f"| epoch {e} | {e}00/ 900 batches | done\n" for e in range(1, 6)),
])
def test_prose_between_pipes_stays_no_record(tmp_path, text):
    with pytest.raises(InputError):
        read_run(write(tmp_path, text))
