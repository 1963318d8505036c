"""Notebooks as Jupyter saves them, for the notebook reader's tests: the progress display made
by transformers' own `NotebookProgressCallback` (driven through a training's callback events,
its display captured instead of shown) and written into a notebook with `nbformat`."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output


def _capture_display(monkeypatch) -> dict:
    """`IPython.display.display` as transformers' notebook module calls it, keeping the last
    HTML of each display (`display_id=True` handles are updated in place, as in Jupyter)."""
    import transformers.utils.notebook as hf_notebook

    shown: dict = {"html": []}

    class Handle:
        def __init__(self, index: int) -> None:
            self.index = index

        def update(self, obj) -> None:
            shown["html"][self.index] = obj.data

    def display(obj, display_id=None):
        shown["html"].append(obj.data)
        return Handle(len(shown["html"]) - 1)

    monkeypatch.setattr(hf_notebook.disp, "display", display)
    return shown


def trainer_html(monkeypatch, rows, *, max_steps, eval_strategy="steps", epochs=3,
                 finished=True) -> str:
    """The HTML a notebook keeps of a Trainer's progress display. `rows`: (step, epoch, logs)
    in order, `logs` a train log row (`{"loss": ...}`) or evaluation metrics (`eval_*`); the
    callback sees them as `on_log` / `on_evaluate`, with the steps between as `on_step_end`;
    then `on_train_end` unless the run was cut (`finished=False`: the display as last drawn)."""
    from transformers.trainer_utils import IntervalStrategy
    from transformers.utils.notebook import NotebookProgressCallback

    shown = _capture_display(monkeypatch)
    strategy = {"steps": IntervalStrategy.STEPS, "epoch": IntervalStrategy.EPOCH,
                "no": IntervalStrategy.NO}[eval_strategy]
    args = SimpleNamespace(eval_strategy=strategy)
    state = SimpleNamespace(max_steps=max_steps, global_step=0, epoch=0.0,
                            num_train_epochs=epochs, log_history=[])
    callback = NotebookProgressCallback()
    callback.on_train_begin(args, state, None)
    for step, epoch, logs in rows:
        while state.global_step < step:
            state.global_step += 1
            state.epoch = epoch * state.global_step / step if step else epoch
            callback.on_step_end(args, state, None)
        state.epoch = epoch
        if any(k.startswith("eval_") for k in logs):
            state.log_history.append({**logs, "epoch": epoch, "step": step})
            callback.on_evaluate(args, state, None, metrics=dict(logs))
        else:
            state.log_history.append({**logs, "epoch": epoch, "step": step})
            callback.on_log(args, state, None, logs=dict(logs))
    if finished:
        callback.on_train_end(args, state, None)
    return shown["html"][0]


def stream(text: str, name: str = "stdout"):
    return new_output("stream", name=name, text=text)


def html_output(html: str):
    return new_output("display_data", data={"text/html": html,
                                            "text/plain": "<IPython.core.display.HTML object>"})


def result(text: str, count: int = 1):
    return new_output("execute_result", data={"text/plain": text}, execution_count=count)


def write_book(path: Path, cells) -> Path:
    """`cells`: markdown strings, or (source, [outputs]) for code cells."""
    book = new_notebook()
    for count, cell in enumerate(cells, 1):
        if isinstance(cell, str):
            book.cells.append(new_markdown_cell(cell))
        else:
            source, outputs = cell
            book.cells.append(new_code_cell(source, outputs=outputs, execution_count=count))
    nbformat.write(book, str(path))
    return path


def train_output(global_step: int, training_loss: float, metrics: dict) -> str:
    """`repr(trainer.train())` as transformers' `TrainOutput` (a NamedTuple) prints it."""
    from transformers.trainer_utils import TrainOutput

    return repr(TrainOutput(global_step, training_loss, metrics))
