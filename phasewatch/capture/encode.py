"""Turning expert examples into token ids: prompt tokens, then the completion tokens to score.

Chats are rendered with the tokenizer's own chat template: the prompt is every message but the
last, rendered with the generation prompt (`add_generation_prompt=True`); the completion is
what the full conversation's rendering adds after it (the answer and the template's end-of-turn
marker), so the scored tokens are exactly the ones an SFT trainer trains the model to produce.

Sequences longer than the model's context are truncated (the completion's tail first; a prompt
that alone fills the context keeps its last tokens) and counted; examples whose completion has
no tokens are left out and counted. Nothing here needs torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from phasewatch.capture.examples import ExpertExample


@dataclass(frozen=True)
class Encoded:
    """One example as ids: `ids[:n_prompt]` is the prefix, `ids[n_prompt:]` the scored tokens."""

    id: str
    split: str
    ids: tuple[int, ...]
    n_prompt: int
    source: str | None = None

    @property
    def n_completion(self) -> int:
        return len(self.ids) - self.n_prompt


@dataclass
class EncodeReport:
    """What encoding changed or left out, for the warnings a user sees."""

    truncated: list[str] = field(default_factory=list)   # examples cut to the context
    empty: list[str] = field(default_factory=list)       # examples with no completion tokens
    max_length: int | None = None

    def warnings(self) -> list[str]:
        out = []
        if self.truncated:
            out.append(f"{len(self.truncated)} sequence(s) longer than the model's context "
                       f"({self.max_length} tokens) truncated, e.g. {', '.join(self.truncated[:3])}")
        if self.empty:
            out.append(f"{len(self.empty)} example(s) with an empty completion left out, "
                       f"e.g. {', '.join(self.empty[:3])}")
        return out


def context_length(model: Any = None, tokenizer: Any = None) -> int | None:
    """The model's context (its position table), else the tokenizer's declared maximum."""
    config = getattr(model, "config", None)
    for name in ("max_position_embeddings", "n_positions", "seq_length", "max_sequence_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 1:
            return value
    value = getattr(tokenizer, "model_max_length", None)
    if isinstance(value, int) and 1 < value < 10**7:  # HF uses ~1e30 for "unknown"
        return value
    return None


def encode_examples(examples: Sequence[ExpertExample], tokenizer: Any, max_length: int | None = None
                    ) -> tuple[list[Encoded], EncodeReport]:
    """Token ids of every example (order kept), dropping those with an empty completion."""
    report = EncodeReport(max_length=max_length)
    out: list[Encoded] = []
    for ex in examples:
        prompt_ids, completion_ids = _split_ids(ex, tokenizer)
        if not completion_ids:
            report.empty.append(ex.where)
            continue
        if not prompt_ids:  # the first completion token needs a prefix to be scored from
            start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
            if start is None:
                raise ValueError(f"{ex.where}: an empty prompt needs a BOS or EOS token to start from")
            prompt_ids = [int(start)]
        if max_length is not None and len(prompt_ids) + len(completion_ids) > max_length:
            report.truncated.append(ex.where)
            if len(prompt_ids) >= max_length:
                prompt_ids = prompt_ids[len(prompt_ids) - (max_length - 1):]
            completion_ids = completion_ids[: max_length - len(prompt_ids)]
        out.append(Encoded(ex.id, ex.split, tuple(prompt_ids) + tuple(completion_ids),
                           len(prompt_ids), ex.source))
    return out, report


def _split_ids(ex: ExpertExample, tokenizer: Any) -> tuple[list[int], list[int]]:
    if ex.messages is not None:
        prompt_text, completion_text = render_chat(ex, tokenizer)
        special = False  # the template writes the special tokens itself
    else:
        prompt_text, completion_text = ex.prompt or "", ex.completion or ""
        special = True
    prompt = _ids(tokenizer, prompt_text, special) if prompt_text else []
    completion = _ids(tokenizer, completion_text, False) if completion_text else []
    return prompt, completion


def _ids(tokenizer: Any, text: str, special: bool) -> list[int]:
    return [int(i) for i in tokenizer(text, add_special_tokens=special)["input_ids"]]


def render_chat(ex: ExpertExample, tokenizer: Any) -> tuple[str, str]:
    """(prompt text, completion text) of a chat with the tokenizer's template."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"{ex.where}: chat messages need a tokenizer with a chat template "
                         "(tokenizer.chat_template is not set); use prompt/completion pairs instead")
    messages = [dict(m) for m in ex.messages or ()]
    if len(messages) < 2:
        raise ValueError(f"{ex.where}: a chat needs at least one message before the expert's answer")
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        raise ValueError(f"{ex.where}: the chat template renders the conversation without its "
                         "prompt as a prefix; cannot tell the answer's tokens apart")
    return prompt, full[len(prompt):]
