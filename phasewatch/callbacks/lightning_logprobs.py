"""Lightning callback that writes the expert log-prob store while training.

    from phasewatch.callbacks.lightning_logprobs import ExpertLogprobLightningCallback
    trainer = lightning.Trainer(callbacks=[ExpertLogprobLightningCallback(examples, tokenizer, "RUN", every=50)])

Scores the probe at the start of fit (step 0, before any update), after every `every`
optimizer steps (`trainer.global_step`), and at the end. The causal LM is `pl_module.model`
when the module wraps one there (the usual pattern for a Hugging Face model), else the module
itself (its forward must take `input_ids` / `attention_mask` and return logits); pass
`get_model` to choose. Under DDP every rank scores its share and rank 0 writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from phasewatch.capture import CaptureConfig, ExpertLogprobCapture
from phasewatch.errors import require
from phasewatch.tokens.store import STORE_DIR

_pl = require("lightning.pytorch", "lightning", purpose="use the Lightning capture callback")


def _default_model(pl_module: Any) -> Any:
    inner = getattr(pl_module, "model", None)
    return inner if inner is not None and hasattr(inner, "forward") else pl_module


class ExpertLogprobLightningCallback(_pl.Callback):
    """run_dir: the store goes to `run_dir/expert_logprobs`."""

    def __init__(self, examples: Sequence[Any], tokenizer: Any, run_dir: str | Path, every: int = 50,
                 at_end: bool = True, config: CaptureConfig | None = None,
                 get_model: Callable[[Any], Any] = _default_model):
        if every < 1:
            raise ValueError("every must be >= 1")
        self.capture = ExpertLogprobCapture(examples, tokenizer, Path(run_dir) / STORE_DIR,
                                            config or CaptureConfig())
        self.every, self.at_end, self.get_model = every, at_end, get_model
        self._last = -1

    @property
    def store(self) -> Path:
        return self.capture.folder

    def _capture(self, trainer, pl_module) -> None:
        step = int(trainer.global_step)
        if step != self._last:  # several batches share a step under gradient accumulation
            self._last = step
            self.capture.capture(self.get_model(pl_module), step)

    def on_fit_start(self, trainer, pl_module) -> None:
        self._capture(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step % self.every == 0:
            self._capture(trainer, pl_module)

    def on_fit_end(self, trainer, pl_module) -> None:
        if self.at_end:
            self._capture(trainer, pl_module)
