"""Hugging Face / TRL callback that writes the expert log-prob store while training.

    from phasewatch.callbacks.hf_logprobs import ExpertLogprobCallback
    callback = ExpertLogprobCallback(train_pairs + heldout_examples, every=50)
    trainer = SFTTrainer(..., callbacks=[callback])      # GRPOTrainer, Trainer alike
    trainer.train()                                      # -> OUTPUT_DIR/expert_logprobs/

The probe is scored once before any update (`on_train_begin`, step 0: the divergence that
anticipates the dip), then every `every` optimizer steps, and at the end of training. The store
goes to `run_dir/expert_logprobs` (default: the trainer's `output_dir`), so `phasewatch analyze
OUTPUT_DIR` and `phasewatch tokens OUTPUT_DIR` find it. A resumed trainer appends after the last
stored step. Under torch.distributed every rank scores its share and rank 0 writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from phasewatch.capture import CaptureConfig, ExpertLogprobCapture
from phasewatch.errors import require
from phasewatch.tokens.store import STORE_DIR

_transformers = require("transformers", "capture", purpose="capture expert log-probs in a Trainer")


class ExpertLogprobCallback(_transformers.TrainerCallback):
    """examples: `(prompt, completion)` pairs, message lists, dicts or `ExpertExample`s (use
    `phasewatch.capture.make_examples(..., split="heldout")` for the held-out ones).
    tokenizer: default the trainer's `processing_class`."""

    def __init__(self, examples: Sequence[Any], tokenizer: Any = None, run_dir: str | Path | None = None,
                 every: int = 50, at_end: bool = True, config: CaptureConfig | None = None):
        if every < 1:
            raise ValueError("every must be >= 1")
        self.examples, self.tokenizer, self.run_dir = list(examples), tokenizer, run_dir
        self.every, self.at_end, self.config = every, at_end, config or CaptureConfig()
        self.capture: ExpertLogprobCapture | None = None

    @property
    def store(self) -> Path | None:
        return None if self.capture is None else self.capture.folder

    def _capture(self, args, state, model, processing_class) -> None:
        if self.capture is None:
            tokenizer = self.tokenizer or getattr(processing_class, "tokenizer", processing_class)
            if tokenizer is None:
                raise ValueError("ExpertLogprobCallback needs a tokenizer (none given, and the "
                                 "trainer has no processing_class)")
            folder = Path(self.run_dir or args.output_dir) / STORE_DIR
            self.capture = ExpertLogprobCapture(self.examples, tokenizer, folder, self.config)
        self.capture.capture(model, state.global_step)

    def on_train_begin(self, args, state, control, model=None, processing_class=None, **kw):
        self._capture(args, state, model, processing_class)

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kw):
        if state.global_step % self.every == 0:
            self._capture(args, state, model, processing_class)

    def on_train_end(self, args, state, control, model=None, processing_class=None, **kw):
        if self.at_end:  # skipped when that step is already stored
            self._capture(args, state, model, processing_class)
