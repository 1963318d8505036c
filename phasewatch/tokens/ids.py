"""Optional token ids beside a store, so analytics can name the tokens it reports.

    expert_logprobs/token_ids.npy     1-D int32, n_tokens: the id of each stored token
    expert_logprobs/token_text.json   {"schema_version": 1, "vocab": {"<id>": "<decoded text>"}}
                                      (only the ids that occur; written by phasewatch.capture)

Both are optional: a store without them is valid and its tokens are named by position only.
The text table is plain JSON (never a pickled tokenizer), so reading it needs no transformers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IDS_FILE = "token_ids.npy"
TEXT_FILE = "token_text.json"


@dataclass
class TokenIds:
    """Ids of every stored token and the decoded text of each distinct id."""

    ids: np.ndarray
    text: dict[int, str]

    def decode(self, token: int) -> str:
        """The text of the stored token at global position `token`."""
        ident = int(self.ids[token])
        return self.text.get(ident, f"<id {ident}>")

    def decode_span(self, start: int, stop: int) -> str:
        return "".join(self.text.get(int(i), f"<id {int(i)}>") for i in self.ids[start:stop])


def write_token_ids(folder: str | Path, ids: np.ndarray, text: Mapping[int, str]) -> None:
    """Write both files atomically (temporary name, then rename)."""
    folder = Path(folder)
    ids = np.asarray(ids, dtype=np.int32)
    tmp = folder / (IDS_FILE + ".part")
    with open(tmp, "wb") as fh:
        np.save(fh, ids, allow_pickle=False)
    os.replace(tmp, folder / IDS_FILE)
    doc = {"schema_version": 1, "vocab": {str(int(k)): v for k, v in sorted(text.items())}}
    tmp = folder / (TEXT_FILE + ".part")
    tmp.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, folder / TEXT_FILE)


def read_token_ids(folder: str | Path, n_tokens: int, warnings: list[str] | None = None) -> TokenIds | None:
    """The store's token ids, or None when absent or unusable (with a warning saying why)."""
    folder = Path(folder)
    if not (folder / IDS_FILE).is_file():
        return None
    try:
        ids = np.load(folder / IDS_FILE, allow_pickle=False, mmap_mode="r")
        if ids.shape != (n_tokens,) or ids.dtype.kind not in "iu":
            raise ValueError(f"expected {n_tokens} integer ids, got shape {ids.shape} {ids.dtype}")
        text: dict[int, str] = {}
        if (folder / TEXT_FILE).is_file():
            doc = json.loads((folder / TEXT_FILE).read_text(encoding="utf-8"))
            vocab = doc.get("vocab") if isinstance(doc, dict) else None
            if not isinstance(vocab, dict):
                raise ValueError(f"{TEXT_FILE}: expected {{\"vocab\": {{id: text}}}}")
            text = {int(k): str(v) for k, v in vocab.items()}
    except (OSError, ValueError) as exc:
        if warnings is not None:
            warnings.append(f"{IDS_FILE}: not used ({exc}); tokens are named by position")
        return None
    return TokenIds(ids, text)
