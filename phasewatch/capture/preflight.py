"""Before training: how far is the expert data from the model? (`phasewatch preflight`)

Scores every expert completion token under the model (log p given its prefix) and reports, per
split and over all: mean NLL, the share of divergent tokens (p < 0.05), the phi mass (mean
p(1-p), CHORD-phi's token weight), the most divergent sequences and token types (decoded), and
the disruption the NLL anticipates on the reference trainer's calibration (`calibration.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from phasewatch.capture.calibration import expected_disruption
from phasewatch.capture.encode import Encoded, context_length, encode_examples
from phasewatch.capture.examples import ExpertExample
from phasewatch.capture.score import ScoreConfig, pad_token_id, score_encoded
from phasewatch.errors import InputError

DIVERGENT_P = 0.05


@dataclass(frozen=True)
class PreflightConfig:
    batch_size: int = 8
    top: int = 10
    max_length: int | None = None


def load_local_model(path: str | Path) -> tuple[Any, Any]:
    """(model, tokenizer) from a local Hugging Face folder; never downloads.

    A missing folder, a folder without config.json, a model that is not a causal LM or a folder
    without a tokenizer are `InputError`s naming the folder.
    """
    import transformers

    transformers.utils.logging.disable_progress_bar()  # stderr is for phasewatch's messages
    folder = Path(path)
    if not folder.is_dir():
        raise InputError("no such model folder" if not folder.exists() else "not a folder", folder)
    if not (folder / "config.json").is_file():
        raise InputError("not a Hugging Face model folder (no config.json)", folder)
    try:
        config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"unreadable model config ({_first_line(exc)})", folder / "config.json") from None
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, local_files_only=True)
    except ValueError as exc:
        raise InputError(f"not a causal language model ({type(config).__name__}: "
                         f"{_first_line(exc)})", folder) from None
    except OSError as exc:
        raise InputError(f"cannot load the model weights ({_first_line(exc)})", folder) from None
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"no usable tokenizer in the model folder ({_first_line(exc)})", folder) from None
    return model, tokenizer


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def preflight(model: Any, tokenizer: Any, examples: Sequence[ExpertExample],
              config: PreflightConfig = PreflightConfig()) -> dict:
    """The preflight report (the JSON document of `phasewatch preflight`, without schema_version)."""
    max_length = config.max_length or context_length(model, tokenizer)
    try:
        encoded, report = encode_examples(examples, tokenizer, max_length)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if not encoded:
        raise InputError("no expert example has a completion token to score"
                         + (f" ({report.warnings()[0]})" if report.warnings() else ""))
    scored = score_encoded(model, encoded, pad_token_id(tokenizer), ScoreConfig(config.batch_size))
    logps = [scored[i].astype(np.float64) for i in range(len(encoded))]
    splits = {}
    for split in ("train", "heldout"):
        chosen = [i for i, e in enumerate(encoded) if e.split == split]
        if chosen:
            splits[split] = _split_stats([logps[i] for i in chosen])
    overall = _split_stats(logps)
    basis = splits.get("train", overall)
    expectation = expected_disruption(basis["nll"])
    return {
        "n_sequences": len(encoded),
        "n_tokens": int(sum(len(lp) for lp in logps)),
        "context_length": max_length,
        "divergent_p": DIVERGENT_P,
        "overall": overall,
        "splits": splits,
        "top_sequences": _top_sequences(encoded, logps, tokenizer, config.top),
        "top_tokens": _top_tokens(encoded, logps, tokenizer, config.top),
        "expected_disruption": None if expectation is None else
        {**expectation.to_dict(), "from_split": "train" if "train" in splits else "all"},
        "warnings": report.warnings(),
    }


def _split_stats(logps: list[np.ndarray]) -> dict:
    lp = np.concatenate(logps)
    p = np.exp(lp)
    return {
        "n_sequences": len(logps), "n_tokens": int(lp.size),
        "nll": float(-lp.mean()),
        "divergent_share": float((p < DIVERGENT_P).mean()),
        "phi_mass": float((p * (1 - p)).mean()),
        "p_median": float(np.median(p)),
    }


def _top_sequences(encoded: list[Encoded], logps: list[np.ndarray], tokenizer: Any, top: int) -> list[dict]:
    order = sorted(range(len(encoded)), key=lambda i: (-float(-logps[i].mean()), i))[:top]
    return [{
        "id": encoded[i].id, "split": encoded[i].split, "source": encoded[i].source,
        "n_tokens": int(logps[i].size), "nll": float(-logps[i].mean()),
        "divergent_share": float((np.exp(logps[i]) < DIVERGENT_P).mean()),
        "completion": tokenizer.decode(list(encoded[i].ids[encoded[i].n_prompt:])),
    } for i in order]


def _top_tokens(encoded: list[Encoded], logps: list[np.ndarray], tokenizer: Any, top: int) -> list[dict]:
    """Token types ranked by the NLL they carry in total (count x mean NLL)."""
    ids = np.concatenate([np.asarray(e.ids[e.n_prompt:], dtype=np.int64) for e in encoded])
    lp = np.concatenate(logps)
    uniq, inverse = np.unique(ids, return_inverse=True)
    mass = np.bincount(inverse, weights=-lp)
    count = np.bincount(inverse)
    divergent = np.bincount(inverse, weights=(np.exp(lp) < DIVERGENT_P).astype(float))
    order = np.lexsort((uniq, -mass))[:top]
    total = float(mass.sum()) or 1.0
    return [{
        "token": tokenizer.decode([int(uniq[k])]), "id": int(uniq[k]), "count": int(count[k]),
        "mean_nll": float(mass[k] / count[k]), "divergent_share": float(divergent[k] / count[k]),
        "nll_share": float(mass[k] / total),
    } for k in order]
