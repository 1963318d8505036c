"""Expert examples: what is scored, read from JSONL or built in code (no torch needed here).

An example is either a prompt/completion pair or a chat (a list of `{"role", "content"}`
messages whose last message is the expert's answer). Only the completion's tokens (the last
message's, for a chat) are scored: log p(completion token | everything before it).

JSONL, one example per line:

    {"prompt": "2+2=", "completion": "4"}
    {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}

Optional fields: `"id"` (default `<split>-<line>`) and `"split"` (`"train"` or `"heldout"`;
default: the split of the file it is in). Bad lines are errors naming the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasewatch.errors import InputError

SPLITS = ("train", "heldout")


@dataclass(frozen=True)
class ExpertExample:
    """One expert example. Exactly one of (`prompt`, `completion`) or `messages` is used."""

    id: str
    split: str = "train"
    prompt: str | None = None
    completion: str | None = None
    messages: tuple[Mapping[str, Any], ...] | None = None
    source: str | None = None  # "file:line", for messages about it

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"{self.where}: split must be one of {SPLITS}, got {self.split!r}")
        if self.messages is None and self.completion is None:
            raise ValueError(f"{self.where}: needs a completion (prompt/completion) or messages")

    @property
    def where(self) -> str:
        return self.source or f"example {self.id}"


def make_examples(items: Iterable[Any], split: str = "train", prefix: str | None = None) -> list[ExpertExample]:
    """Examples from `(prompt, completion)` pairs, message lists, dicts or `ExpertExample`s."""
    out: list[ExpertExample] = []
    prefix = split if prefix is None else prefix
    for i, item in enumerate(items):
        if isinstance(item, ExpertExample):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(_from_mapping(item, f"{prefix}-{i}", split, None))
        elif isinstance(item, Sequence) and not isinstance(item, str) and item and isinstance(item[0], Mapping):
            out.append(ExpertExample(id=f"{prefix}-{i}", split=split, messages=tuple(item)))
        elif isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
            out.append(ExpertExample(id=f"{prefix}-{i}", split=split, prompt=str(item[0]),
                                     completion=str(item[1])))
        else:
            raise ValueError(f"example {i}: expected (prompt, completion), a message list or a dict")
    return out


def read_examples(path: str | Path, split: str = "train") -> list[ExpertExample]:
    """Read a JSONL file of expert examples; any bad line is an `InputError` naming file:line."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file" if not path.exists() else "not a file", path)
    out: list[ExpertExample] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path) from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON ({exc.msg}, column {exc.colno})", path, number) from None
        if not isinstance(obj, dict):
            raise InputError("expected a JSON object with prompt/completion or messages", path, number)
        try:
            out.append(_from_mapping(obj, f"{split}-{number}", split, f"{path}:{number}"))
        except ValueError as exc:
            raise InputError(str(exc).removeprefix(f"{path}:{number}: "), path, number) from None
    if not out:
        raise InputError("no expert examples in the file", path)
    return out


def _from_mapping(obj: Mapping[str, Any], default_id: str, split: str, where: str | None) -> ExpertExample:
    label = where or default_id
    split = obj.get("split", split)
    if split not in SPLITS:
        raise ValueError(f"{label}: split must be 'train' or 'heldout', got {split!r}")
    ident = str(obj.get("id", default_id))
    if "messages" in obj:
        messages = obj["messages"]
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and isinstance(m.get("content"), str) and isinstance(m.get("role"), str)
                for m in messages):
            raise ValueError(f"{label}: 'messages' must be a non-empty list of "
                             "{\"role\": str, \"content\": str} objects")
        return ExpertExample(id=ident, split=split, messages=tuple(messages), source=where)
    prompt, completion = obj.get("prompt", ""), obj.get("completion")
    if completion is None:
        raise ValueError(f"{label}: expected 'prompt' and 'completion' (or 'messages')")
    if not isinstance(prompt, str) or not isinstance(completion, str):
        raise ValueError(f"{label}: 'prompt' and 'completion' must be strings")  # noqa: TRY004 (bad input, reported as such)
    return ExpertExample(id=ident, split=split, prompt=prompt, completion=completion, source=where)
