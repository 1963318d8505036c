"""A tiny causal LM and tokenizer built in-process (no downloads), for the capture tests.

Character-level vocabulary wrapped in `PreTrainedTokenizerFast` (with a small chat template),
and a 1-layer GPT-2 initialised from a config. `reference_logprobs` is the independent check:
one unpadded forward pass per sequence, float32 log-softmax, completion positions only.
"""

from __future__ import annotations

import numpy as np
import tokenizers
import torch
import transformers

LETTERS = "abcdefghij"
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ '<' + m['role'][0] + '>' + m['content'] + '<eos>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<a>' }}{% endif %}"
)


def tiny_tokenizer():
    specials = ["<pad>", "<eos>", "<u>", "<a>", "<s>"]
    vocab = {**{s: i for i, s in enumerate(specials)},
             **{c: i + len(specials) for i, c in enumerate(LETTERS + " =+")}}
    backend = tokenizers.Tokenizer(tokenizers.models.BPE(vocab=vocab, merges=[], unk_token=None))
    backend.add_special_tokens(specials)
    backend.decoder = tokenizers.decoders.Fuse()  # "abc", not "a b c"
    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>",
                                               eos_token="<eos>")
    tok.chat_template = CHAT_TEMPLATE
    return tok


def tiny_model(seed: int = 0, n_positions: int = 48):
    torch.manual_seed(seed)
    tok_size = len(tiny_tokenizer())
    config = transformers.GPT2Config(vocab_size=tok_size, n_embd=16, n_layer=1, n_head=2,
                                     n_positions=n_positions, bos_token_id=1, eos_token_id=1,
                                     pad_token_id=0)
    return transformers.GPT2LMHeadModel(config)


def random_strings(n, length, alphabet=LETTERS, seed=0):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(alphabet), length)) for _ in range(n)]


@torch.no_grad()
def reference_logprobs(model, encoded) -> np.ndarray:
    """Per sequence, unpadded: log p(ids[t] | ids[:t]) for the completion tokens, concatenated."""
    was = model.training
    model.eval()
    out = []
    for e in encoded:
        ids = torch.tensor(e.ids)[None]
        logits = model(ids).logits[0, :-1].float()
        logp = torch.log_softmax(logits, -1).gather(-1, ids[0, 1:, None])[:, 0]
        out.append(logp[e.n_prompt - 1:].numpy())
    model.train(was)
    return np.concatenate(out)
