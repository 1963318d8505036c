"""Marian NMT's training log (`--log train.log`, its stderr) and validation log (`--valid-log
valid.log`): a line every `--disp-freq` updates and a line per validation metric every
`--valid-freq` updates (`training/scheduler.h`).

    [2021-03-04 10:50:00] Ep. 1 : Up. 500 : Sen. 64,000 : Cost 9.87654 : Time 120.45s : 15234.56 words/s : gNorm 1.2 : L.r. 3.0000e-04
    [2021-03-04 10:53:13] [valid] Ep. 1 : Up. 5000 : cross-entropy : 85.6037 : new best
    [2021-03-04 10:53:40] [valid] Ep. 1 : Up. 5000 : bleu-detok : 21.4 : stalled 1 times (last best: 21.6)

The step is `Up.`, the updates done (the optimizer steps); `Ep.` is kept as `epoch`. A training
line's `Cost` (the cost of `--cost-type` over the updates since the line before) is
`train/loss`, its `gNorm` `train/grad_norm`, its `L.r.` (`--lr-report`) `train/lr`; the
sentences, seconds and words a second are left out. A validation line's value is
`valid/<metric>`, named as Marian names its validator (`--valid-metrics`: `cross-entropy`,
`ce-mean-words`, `perplexity`, `bleu`, `bleu-detok`, `chrf`, `translation`, `accuracy`...).
The first validator is the one Marian stops early on (`--early-stopping-on first`, its default)
and keeps its best model by: it is declared the run's metric, lower is better for the
cross-entropies and perplexity and higher for every other validator, as Marian's own
`lowerIsBetter` rules (`training/validator.h`). The same validation lines are in both logs, so
either reads the same curve; the training log adds the training lines.
"""

from __future__ import annotations

import re
from typing import Any

from phasewatch.io.lines import NUMBER, line_sniffers
from phasewatch.io.source import LogFileSource

FORMAT = "marian_console"

VALID = re.compile(rf"\[valid\] Ep\. (?P<epoch>[\d.]+) : Up\. (?P<step>\d+) : (?P<metric>[\w.-]+)"
                   rf" : (?P<value>{NUMBER}) : (?:new best|stalled)")
TRAIN = re.compile(r"\bEp\. (?P<epoch>[\d.]+) : Up\. (?P<step>\d+) : Sen\. [\d,]+ : (?P<rest>.*)$")
TRAIN_ITEMS = {"train/loss": re.compile(rf"\bCost (?P<value>{NUMBER})"),
               "train/grad_norm": re.compile(rf"\bgNorm (?P<value>{NUMBER})"),
               "train/lr": re.compile(rf"\bL\.r\. (?P<value>{NUMBER})")}
SNIFF = re.compile(rb"\bEp\. [\d.]+ : Up\. \d+ : (?:Sen\. [\d,]+ : Cost |[\w.-]+ : [-+\d.eE]+ : "
                   rb"(?:new best|stalled))")
# the validators Marian's CrossEntropyValidator runs, named by `--cost-type`: lower is better;
# every other validator (BLEU, chrF, accuracy, a script's or a translation's score) higher
LOWER_IS_BETTER = frozenset({"cross-entropy", "ce-mean", "ce-sum", "ce-mean-words", "perplexity"})

sniff, sniff_text = line_sniffers(SNIFF, 2)


class LineParser:
    """A record per training line and per validation line, at its update."""

    def __init__(self) -> None:
        self.declared: tuple[str, str] | None = None  # the first validator, as Marian stops on it

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if "Up. " not in line:
            return []
        if (found := VALID.search(line)) is not None:
            name = f"valid/{found['metric']}"
            if self.declared is None:
                lower = found["metric"] in LOWER_IS_BETTER
                self.declared = (name, "min" if lower else "max")
            return [(int(found["step"]), {name: found["value"], "epoch": found["epoch"]})]
        if (found := TRAIN.search(line)) is not None:
            values: dict[str, Any] = {"epoch": found["epoch"]}
            for name, item in TRAIN_ITEMS.items():
                if (value := item.search(found["rest"])) is not None:
                    values[name] = value["value"]
            return [(int(found["step"]), values)]
        return []


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("Marian's `Ep. E : Up. N : Sen. S : Cost X ...` lines and its `[valid] Ep. E : Up. N "
            ": METRIC : X : new best` lines")


source = Source.open
read = Source.run_of
