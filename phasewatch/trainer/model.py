"""A small GRU policy: reads the prompt, then writes the response one token at a time.

A recurrent model samples incrementally in O(length) with a fixed-size state, which keeps RL
rollouts cheap on a CPU.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from phasewatch.trainer.task import EOS, MAX_RESPONSE_LEN, PAD, PROMPT_LEN, VOCAB_SIZE


class Policy(nn.Module):
    def __init__(self, embed: int = 64, hidden: int = 128, layers: int = 1):
        super().__init__()
        self.embed = nn.Embedding(VOCAB_SIZE, embed)
        self.gru = nn.GRU(embed, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, VOCAB_SIZE)

    def forward(self, tokens: torch.Tensor, state: torch.Tensor | None = None):
        out, state = self.gru(self.embed(tokens), state)
        return self.head(out), state


def pack(prompts: np.ndarray, responses: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompt + response token matrix `[n, PROMPT_LEN + L]` (PAD-filled) and the response mask."""
    width = max(len(r) for r in responses)
    seq = np.full((len(responses), PROMPT_LEN + width), PAD, dtype=np.int64)
    mask = np.zeros((len(responses), width), dtype=bool)
    seq[:, :PROMPT_LEN] = prompts
    for i, r in enumerate(responses):
        seq[i, PROMPT_LEN : PROMPT_LEN + len(r)] = r
        mask[i, : len(r)] = True
    return torch.from_numpy(seq), torch.from_numpy(mask)


def response_logits(policy: Policy, seq: torch.Tensor) -> torch.Tensor:
    """Logits `[n, L, V]` predicting each response token of `seq` from its prefix."""
    logits, _ = policy(seq[:, :-1])
    return logits[:, PROMPT_LEN - 1 :]


def token_logprobs(logits: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
    """log p of each response token `[n, L]`."""
    targets = seq[:, PROMPT_LEN:]
    return torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


@torch.no_grad()
def generate(policy: Policy, prompts: np.ndarray, greedy: bool, temperature: float = 1.0,
             generator: torch.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Responses `[n, MAX_RESPONSE_LEN]` (PAD after EOS) and the per-token log-probs used.

    Incremental: the prompt is read once, then one GRU step per generated token.
    """
    n = len(prompts)
    logits, state = policy(torch.from_numpy(prompts))
    logits = logits[:, -1]
    out = torch.full((n, MAX_RESPONSE_LEN), PAD, dtype=torch.long)
    logps = torch.zeros((n, MAX_RESPONSE_LEN))
    done = torch.zeros(n, dtype=torch.bool)
    for t in range(MAX_RESPONSE_LEN):
        logp = torch.log_softmax(logits / (1.0 if greedy else temperature), -1)
        if greedy:
            token = logp.argmax(-1)
        else:
            token = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(-1)
        token = torch.where(done, torch.full_like(token, PAD), token)
        out[:, t] = token
        logps[:, t] = torch.where(done, 0.0, logp.gather(-1, token[:, None]).squeeze(-1))
        done |= token == EOS
        if bool(done.all()):
            break
        step_logits, state = policy(token[:, None], state)
        logits = step_logits[:, -1]
    return out.numpy(), logps.numpy()


def response_mask(responses: np.ndarray) -> np.ndarray:
    """True for tokens up to and including the first EOS (all tokens if there is none)."""
    is_eos = responses == EOS
    after = np.cumsum(is_eos, axis=1) - is_eos  # EOS count strictly before each position
    return after == 0
