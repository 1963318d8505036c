"""Capturing a store during training: score the expert probe at a step and append it.

`ExpertLogprobCapture` is what the trainer callbacks share. It encodes the examples once (with
the model's context length), opens the store with `TokenStoreWriter(resume=True)` so a
restarted run appends after the last complete step, writes the optional token ids beside it,
and, under `torch.distributed`, splits the batches across ranks and gathers them on rank 0,
the only writer. Every rank must call `capture` at the same steps (the callbacks do).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from phasewatch.capture.encode import Encoded, EncodeReport, context_length, encode_examples
from phasewatch.capture.examples import ExpertExample, make_examples
from phasewatch.capture.score import ScoreConfig, batches, pad_token_id, score_encoded
from phasewatch.library_log import get_logger
from phasewatch.tokens.ids import write_token_ids
from phasewatch.tokens.writer import TokenStoreWriter

logger = get_logger("phasewatch.capture")


@dataclass(frozen=True)
class CaptureConfig:
    """dtype: store dtype; store_ids: write token_ids.npy + token_text.json beside the store;
    max_length: truncate longer sequences (default: the model's context)."""

    batch_size: int = 8
    padding_side: str = "right"
    dtype: str = "float16"
    store_ids: bool = True
    max_length: int | None = None


def dist_info() -> tuple[int, int]:
    """(rank, world size) of torch.distributed, (0, 1) when it is not in use."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class ExpertLogprobCapture:
    """Scores a fixed probe of expert examples and appends each step to `folder`."""

    def __init__(self, examples: Sequence[Any], tokenizer: Any, folder: str | Path,
                 config: CaptureConfig = CaptureConfig()):
        self.examples: list[ExpertExample] = make_examples(examples)
        self.tokenizer = tokenizer
        self.folder = Path(folder)
        self.config = config
        self.score_config = ScoreConfig(config.batch_size, config.padding_side)
        self.encoded: list[Encoded] | None = None
        self.report: EncodeReport | None = None
        self.writer: TokenStoreWriter | None = None
        self.steps_written: list[int] = []

    def prepare(self, model: torch.nn.Module) -> None:
        """Encode the probe (once) and, on rank 0, open the store (resuming one left behind)."""
        if self.encoded is not None:
            return
        max_length = self.config.max_length or context_length(model, self.tokenizer)
        self.encoded, self.report = encode_examples(self.examples, self.tokenizer, max_length)
        for message in self.report.warnings():
            logger.warning("%s", message)
        if not self.encoded:
            raise ValueError("no expert example has a completion token to score")
        if dist_info()[0] != 0:
            return
        sequences = [{"id": e.id, "split": e.split, "length": e.n_completion} for e in self.encoded]
        self.writer = TokenStoreWriter(self.folder, sequences, self.config.dtype, resume=True)
        if self.config.store_ids:
            ids = np.concatenate([np.asarray(e.ids[e.n_prompt:], dtype=np.int32) for e in self.encoded])
            text = {int(i): self.tokenizer.decode([int(i)]) for i in np.unique(ids)}
            write_token_ids(self.folder, ids, text)

    @property
    def last_step(self) -> int | None:
        return None if self.writer is None else self.writer.last_step

    def capture(self, model: torch.nn.Module, step: int) -> np.ndarray | None:
        """Score the probe under `model` and store it as `step` (rank 0). Steps at or before the
        store's last step (a resumed run) are skipped. Returns the stored array on rank 0."""
        self.prepare(model)
        assert self.encoded is not None
        rank, world = dist_info()
        if not self._should_write(int(step), world):
            return None
        groups = len(batches(self.encoded, self.score_config.batch_size))
        mine = [g for g in range(groups) if g % world == rank]
        # Every rank runs the same number of forward passes (a rank short of batches repeats
        # one and the duplicate result is dropped): sharded models (FSDP, ZeRO-3) need every
        # rank in every forward, or the ranks wait on each other forever.
        mine += [mine[0] if mine else 0] * (-(-groups // world) - len(mine))
        pad = pad_token_id(self.tokenizer)
        scored = score_encoded(model, self.encoded, pad, self.score_config, mine)
        if world > 1:
            gathered: list[Any] | None = [None] * world if rank == 0 else None
            torch.distributed.gather_object(scored, gathered, dst=0)
            if rank != 0:
                return None
            scored = {k: v for part in gathered or [] for k, v in part.items()}
        logprobs = np.concatenate([scored[i] for i in range(len(self.encoded))])
        assert self.writer is not None
        self.writer.append(int(step), logprobs)
        self.steps_written.append(int(step))
        return logprobs

    def _should_write(self, step: int, world: int) -> bool:
        decision = [self.writer is None or self.writer.last_step is None or step > self.writer.last_step]
        if world > 1:  # rank 0 owns the store: its answer holds for every rank
            torch.distributed.broadcast_object_list(decision, src=0)
        return bool(decision[0])
