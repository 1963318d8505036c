"""A seq2seq fine-tune evaluated with generation (`predict_with_generate`) logs ROUGE / BLEU
as its held-out metrics: LLaMA-Factory's and ChatGLM's `eval_rouge-1`, `eval_rouge-2`,
`eval_rouge-l`, `eval_bleu-4` (TensorBoard / W&B `eval/rouge-l`), HF's examples `eval_rougeL`,
`eval_bleu`. None was a role name, so analyze and watch took the train loss and warned that no
held-out metric was logged (7 files of the fourth new-user sweep: six trainer_state.json
checkpoints and the TensorBoard events of one ChatGLM run)."""

from __future__ import annotations

import json
import math

import pytest

from phasewatch.cli import main
from phasewatch.io import read_run


def _trainer_state(path, scores: dict[str, float], with_eval_loss: bool = False) -> None:
    """A Seq2SeqTrainer's trainer_state.json: a train row every 10 steps, an evaluation row
    every 100 with generation scores that rise and level off."""
    rows = []
    for step in range(10, 1001, 10):
        rows.append({"epoch": step / 500, "learning_rate": 5e-5 * (1 - step / 1000),
                     "loss": 2.0 + 2.5 * math.exp(-step / 150), "step": step})
        if step % 100 == 0:
            gain = 1 - math.exp(-step / 250)
            row = {"epoch": step / 500, "step": step, "eval_runtime": 91.2,
                   "eval_samples_per_second": 5.4, "eval_steps_per_second": 0.7}
            row.update({name: start + 20 * gain for name, start in scores.items()})
            if with_eval_loss:
                row["eval_loss"] = 2.4 + 0.8 * math.exp(-step / 200)
            rows.append(row)
    path.write_text(json.dumps({"global_step": 1000, "max_steps": 1000, "log_history": rows}))


LLAMA_FACTORY = {"eval_bleu-4": 8.0, "eval_rouge-1": 20.0, "eval_rouge-2": 5.0, "eval_rouge-l": 14.0}
HF_EXAMPLES = {"eval_bleu": 9.0, "eval_rouge1": 30.0, "eval_rouge2": 11.0, "eval_rougeL": 25.0,
               "eval_rougeLsum": 26.0}


@pytest.mark.parametrize(("scores", "expected"), [(LLAMA_FACTORY, "eval_rouge-l"),
                                                  (HF_EXAMPLES, "eval_rougeL")])
def test_analyze_and_watch_take_rouge_l(tmp_path, capsys, scores, expected):
    log = tmp_path / "trainer_state.json"
    _trainer_state(log, scores)
    assert read_run(log).resolve_metric("eval/accuracy") == expected
    assert main(["analyze", "--format", "json", str(log)]) == 0
    result = json.loads(capsys.readouterr().out)["runs"][0]
    assert (result["metric"], result["direction"]) == (expected, "max")
    assert main(["watch", "--format", "jsonl", str(log)]) == 0
    summary = [json.loads(ln) for ln in capsys.readouterr().out.splitlines() if ln.startswith("{")][-1]
    assert summary["event"] == "summary" and summary["metric"] == expected


def test_bleu_when_it_is_the_only_score(tmp_path, capsys):
    log = tmp_path / "trainer_state.json"
    _trainer_state(log, {"eval_bleu-4": 8.0})
    assert main(["analyze", "--format", "json", str(log)]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["metric"] == "eval_bleu-4"


def test_tensorboard_spelling(tmp_path):
    """HF's TensorBoard callback writes the same scores as `eval/rouge-l`, `eval/bleu-4`."""
    tensorboard = pytest.importorskip("torch.utils.tensorboard")
    writer = tensorboard.SummaryWriter(str(tmp_path))
    for step in range(10, 501, 10):
        writer.add_scalar("train/loss", 2.0 + math.exp(-step / 100), step)
        if step % 50 == 0:
            writer.add_scalar("eval/rouge-l", 14 + 10 * (1 - math.exp(-step / 200)), step)
            writer.add_scalar("eval/bleu-4", 8 + 5 * (1 - math.exp(-step / 200)), step)
    writer.close()
    assert read_run(tmp_path).resolve_metric("eval/accuracy") == "eval/rouge-l"


def test_an_accuracy_is_still_preferred(tmp_path, capsys):
    """A run that logs a task accuracy beside its generation scores is analysed on the accuracy."""
    log = tmp_path / "trainer_state.json"
    _trainer_state(log, {**LLAMA_FACTORY, "eval_accuracy": 0.4}, with_eval_loss=True)
    assert main(["analyze", "--format", "json", str(log)]) == 0
    assert json.loads(capsys.readouterr().out)["runs"][0]["metric"] == "eval_accuracy"
