"""Per-token log-probs of expert data under a real causal LM (torch + transformers).

- `read_examples` / `make_examples`: expert examples (prompt/completion pairs or chats), each
  train or held-out;
- `encode_examples`: their token ids (chats through the tokenizer's chat template);
- `score_encoded`: log p(completion token | prefix) in padded batches;
- `ExpertLogprobCapture`: score a fixed probe at a step and append it to a token store
  (resumable, split across torch.distributed ranks, rank 0 writes);
- callbacks: `phasewatch.callbacks.hf_logprobs.ExpertLogprobCallback` (HF Trainer, TRL) and
  `phasewatch.callbacks.lightning_logprobs.ExpertLogprobLightningCallback`;
- `phasewatch preflight`: how far expert data is from a model before training.

Install with `pip install 'phasewatch[capture]'`.
"""

from __future__ import annotations

import importlib
from typing import Any

from phasewatch.errors import require

require("torch", "capture", purpose="compute expert log-probs under a model")

_LAZY = {
    "ExpertExample": "examples", "make_examples": "examples", "read_examples": "examples",
    "Encoded": "encode", "encode_examples": "encode", "context_length": "encode",
    "ScoreConfig": "score", "score_encoded": "score", "scoring_mode": "score",
    "CaptureConfig": "capture", "ExpertLogprobCapture": "capture",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"phasewatch.capture.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'phasewatch.capture' has no attribute {name!r}")


__all__ = [
    "CaptureConfig", "Encoded", "ExpertExample", "ExpertLogprobCapture", "ScoreConfig",
    "context_length", "encode_examples", "make_examples", "read_examples", "score_encoded",
    "scoring_mode",
]
