"""The console (or `-log_file`) of OpenNMT-py's `onmt_train`: a line every `report_every` steps
and a validation's lines every `valid_steps`.

    [... INFO] Step 500/10000; acc: 35.20; ppl: 48.31; xent: 3.88; lr: 0.00070; 20410/21032 tok/s;
    [... INFO] Train perplexity: 61.2
    [... INFO] Train accuracy: 33.1
    [... INFO] Validation perplexity: 52.77
    [... INFO] Validation accuracy: 34.6

(the step line goes on: `   120 sec`; `[...` is the logger's `[2024-03-01 12:05:01,123`).

A step line gives the training batches' statistics since the line before (`acc` in per cent,
`ppl`, `xent`, the cross-entropy, `lr`; OpenNMT-py 3 adds `aux`, `sents`, `bsz`), read under
the names OpenNMT-py's TensorBoard writes them (`report_manager`): `progress/accuracy`,
`progress/ppl`, `progress/xent`, `progress/lr`, `progress/aux`; the tokens a second, the
seconds, `sents` and `bsz` are left out. `Train perplexity` / `accuracy` (the training
statistics since the last validation) are `train/ppl`, `train/accuracy`, and `Validation
perplexity` / `accuracy` are `valid/ppl`, `valid/accuracy`, the held-out metrics. A validation's
lines carry no step: they are at the step of the step line before them (the validation step
where `valid_steps` is a multiple of `report_every`, as in OpenNMT-py's examples). `Step N/ M`
gives the planned length, `M` (`train_steps`).
"""

from __future__ import annotations

import re
from typing import Any

from phasewatch.io.lines import NUMBER, line_sniffers
from phasewatch.io.source import LogFileSource

FORMAT = "opennmt_console"

STEP = re.compile(r"\bStep\s+(?P<step>\d+)(?:/\s*(?P<total>\d+))?;(?P<items>.*)$")
ITEM = re.compile(rf"^\s*(?P<name>[a-z]+(?:\([a-z/]+\))?):\s*(?P<value>{NUMBER})\s*$")
SUMMARY = re.compile(rf"\b(?P<split>Train|Validation) (?P<what>perplexity|accuracy): "
                     rf"(?P<value>{NUMBER})\s*$")
SNIFF = re.compile(rb"\bStep +\d+(?:/ *\d+)?; acc(?:\([a-z/]+\))?: *[-+\d.]+; ppl: ")
# the step line's names as OpenNMT-py's TensorBoard writes them (`Statistics.log_tensorboard`)
TENSORBOARD_NAMES = {"acc": "accuracy", "acc(token)": "accuracy(token)",
                     "acc(sent)": "accuracy(sent)"}
NOT_MEASURED = frozenset({"sents", "bsz"})  # counts of the batches, not of the model
SPLITS = {"Train": "train", "Validation": "valid"}
WHAT = {"perplexity": "ppl", "accuracy": "accuracy"}

sniff, sniff_text = line_sniffers(SNIFF, 2)


class LineParser:
    """A record per step line, and one per validation's line at the step before it."""

    def __init__(self) -> None:
        self.step: int | None = None  # the last step line's
        self.planned: int | None = None

    @property
    def settings(self) -> dict[str, int | None]:
        """The planned length (`Step N/ M`) for the run's config."""
        return {"max_steps": self.planned}

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if "Step" in line and (found := STEP.search(line)) is not None:
            self.step = int(found.group("step"))
            if found.group("total") is not None:
                self.planned = int(found.group("total"))
            values = {}
            for item in found.group("items").split(";"):
                if (pair := ITEM.match(item)) is not None and pair["name"] not in NOT_MEASURED:
                    name = TENSORBOARD_NAMES.get(pair["name"], pair["name"])
                    values[f"progress/{name}"] = pair["value"]
            return [(self.step, values)] if values else []
        if self.step is not None and (found := SUMMARY.search(line)) is not None:
            name = f"{SPLITS[found['split']]}/{WHAT[found['what']]}"
            return [(self.step, {name: found["value"]})]
        return []


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("OpenNMT-py's `Step N/ M; acc: ...; ppl: ...; xent: ...` lines and its `Validation "
            "perplexity: ...` lines")


source = Source.open
read = Source.run_of
