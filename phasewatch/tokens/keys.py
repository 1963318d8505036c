"""16-bit keys of stored log-probs: what the summary pass (and the token plots) count.

- float16 stores: the key IS the float16 bit pattern, so a histogram of keys is the data, exactly.
- float32 (and tolerated float64) stores: the key is the top 16 bits of the float32 (a bfloat16
  truncation, 8 significant bits), valued at the midpoint of its interval: each log p is known to
  a relative 2**-8 (0.4%).
Valid keys are +0 and the negative finite values; NaN, +-inf and positive values have keys of
their own, so a histogram also tells whether a chunk holds an invalid value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from phasewatch.tokens.layout import PRECISION

N_KEYS = 1 << 16


@dataclass(frozen=True)
class KeyCodec:
    """16-bit keys of stored values and what each key stands for (see the module docstring)."""

    precision: str
    values: np.ndarray  # float64 value of every key; meaningful where valid
    valid: np.ndarray  # bool: keys of finite values <= 0
    order: np.ndarray  # valid keys sorted by value, ascending
    neg_inf_key: int  # valid keys are 0 (+0) and [0x8000, neg_inf_key)

    def has_invalid(self, counts: np.ndarray) -> bool:
        """Whether a key histogram (or a stack of them, keys last) counts NaN, infinite or
        positive values."""
        return bool(counts[..., 1:0x8000].any() or counts[..., self.neg_inf_key:].any())

    def keys(self, raw: np.ndarray) -> np.ndarray:
        if raw.dtype == np.float16:
            return raw.view(np.uint16)
        if raw.dtype != np.float32:
            raw = raw.astype(np.float32)
        return (raw.view(np.uint32) >> 16).astype(np.uint16)


@cache
def codec_for(dtype_name: str) -> KeyCodec:
    keys = np.arange(N_KEYS, dtype=np.uint32)
    if dtype_name == "float16":
        values = keys.astype(np.uint16).view(np.float16).astype(np.float64)
        neg_inf_key = 0xFC00
    else:
        with np.errstate(invalid="ignore"):  # NaN keys stay NaN; they are never valid
            values = ((keys << 16) | 0x8000).view(np.float32).astype(np.float64)
        values[0x0000], values[0x8000] = 0.0, -0.0
        neg_inf_key = 0xFF80
    valid = (keys == 0) | ((keys >= 0x8000) & (keys < neg_inf_key))
    # Negative keys grow more negative as the key grows; +0 is the largest value.
    order = np.concatenate([np.arange(neg_inf_key - 1, 0x7FFF, -1), [0]]).astype(np.int64)
    return KeyCodec(PRECISION[dtype_name], values, valid, order, neg_inf_key)
