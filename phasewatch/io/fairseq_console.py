"""fairseq's training console (`fairseq-train`'s stdout, or the `--log-file` it writes).

fairseq logs through its progress bars, one line per `--log-interval` updates and one per
validation and per epoch, each under its logger's name:

    2023-06-13 17:31:08 | INFO | train_inner | epoch 143:     85 / 282 loss=3.147, nll_loss=1.236,
        ppl=8.86, wps=72384.3, ups=1.21, wpb=59997.9, bsz=2186.3, num_updates=40100, lr=0.000157917,
        gnorm=0.489, clip=0, loss_scale=32768, train_wall=48, wall=0
    2023-06-13 17:32:41 | INFO | valid | epoch 143 | valid on 'valid' subset | loss 12.677 | ...
        | bleu 29.52 | wps 88225 | wpb 21176.3 | bsz 666.3 | num_updates 40297 | best_bleu 30.53
    2023-06-13 17:32:53 | INFO | train | epoch 143 | loss 3.14 | nll_loss 1.23 | ... | num_updates
        40297 | lr 0.00015753 | ...

(`--log-format json` prints each as a JSON object after the logger's name instead; fairseq
before 0.10 printed the same without the logging prefix: `| epoch 001:   100 / 1101 loss=...`.)
The step is `num_updates`, the optimizer's updates, which every line prints: `epoch 143: 85 /
282` counts batches within an epoch and the epoch's lines share one epoch number. Names are
those of the json format: a `train_inner` line's as printed (`loss`, `nll_loss`, `lr`), a
validation's under its subset (`valid_loss`, `valid_bleu`; a `--valid-subset test` gives
`test_loss`), an epoch's averages under `train_` (`train_loss`). Throughput and wall-clock
fields (`wps`, `ups`, `wpb`, `bsz`, `wall`, `train_wall`, `gb_free`) are left out, and so is a
validation's `best_bleu` (`best_loss`): the best so far of the checkpoint metric, no reading.
"""

from __future__ import annotations

import json
import re
from typing import Any

from phasewatch.io.lines import BadLine, line_sniffers
from phasewatch.io.source import LogFileSource

FORMAT = "fairseq_console"

# `... | INFO | train_inner | body`, or fairseq < 0.10's `| epoch 001: ...` with no logger
LINE = re.compile(r"(?:\|\s*INFO\s*\|\s*(?P<logger>train_inner|train|valid|[\w-]+)\s*\|\s*"
                  r"|^\|\s*(?=epoch\s+\d+))(?P<body>.*)$")
INNER = re.compile(r"^epoch\s+\d+:\s+\d+\s*/\s*\d+\s+(?P<items>.*)$")
EPOCH_FIELDS = re.compile(r"^epoch\s+\d+\s*\|\s*(?:valid on '(?P<subset>[^']+)' subset\s*\|\s*)?"
                          r"(?P<items>.*)$")
EQUALS_ITEM = re.compile(r"(?P<name>[A-Za-z_][\w/.-]*)=(?P<value>[^,\s]+)")
PIPED_ITEM = re.compile(r"^(?P<name>[A-Za-z_][\w/.-]*)\s+(?P<value>\S+)$")
SNIFF = re.compile(rb"\| (?:INFO \| train_inner \| |)epoch \d+:\s+\d+ / \d+ [\w/.-]+=|"
                   rb"\| INFO \| (?:train_inner|valid|train) \| \{\"epoch\": ")
NOT_MEASURED = frozenset({"wps", "ups", "wpb", "bsz", "wall", "train_wall", "gb_free", "epoch",
                          "update", "num_updates"})
MIN_SNIFF_LINES = 2


sniff, _ = line_sniffers(SNIFF, MIN_SNIFF_LINES)


def _json_items(body: str) -> dict[str, str] | None:
    """A `--log-format json` line's object (parsed as JSON, nothing evaluated), else None."""
    try:
        row = json.loads(body)
    except ValueError:
        return None
    return {str(k): str(v) for k, v in row.items()} if isinstance(row, dict) else None


def _parsed(logger: str | None, body: str) -> tuple[str, dict[str, str]] | None:
    """(the names' prefix, the line's items by their bare names) of a `train_inner`, validation
    or epoch line; None for any other line fairseq logs."""
    if body.startswith("{"):
        items = _json_items(body)
        if items is None:
            return None
        # the json format names a validation's and an epoch's items under their logger already
        prefix = "" if logger in (None, "train_inner") else f"{logger}_"
        return prefix, {k[len(prefix):] if prefix and k.startswith(prefix) else k: v
                        for k, v in items.items()}
    if (inner := INNER.match(body)) is not None:
        return "", {m.group("name"): m.group("value")
                    for m in EQUALS_ITEM.finditer(inner.group("items"))}
    if (fields := EPOCH_FIELDS.match(body)) is None:
        return None
    items = {}
    for field in fields.group("items").split("|"):
        if (item := PIPED_ITEM.match(field.strip())) is not None:
            items[item.group("name")] = item.group("value")
    subset = fields.group("subset")
    if subset is None and logger not in (None, "train"):
        subset = logger  # `| valid | epoch 3 | loss ...` of a fairseq that names no subset
    return f"{subset or 'train'}_", items


class LineParser:
    """One record per `train_inner`, validation or epoch line, at its `num_updates`."""

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if "epoch" not in line or (found := LINE.search(line)) is None:
            return []
        parsed = _parsed(found.group("logger"), found.group("body").strip())
        if parsed is None:
            return []
        prefix, items = parsed
        step = items.get("num_updates")
        if step is None or not step.isdigit():
            raise BadLine("a fairseq line without `num_updates`: no step to place it at")
        # `best_bleu` is the best validation so far (the checkpoint metric's), not a reading
        values = {prefix + name: value for name, value in items.items()
                  if name not in NOT_MEASURED and not name.startswith("best_")}
        return [(int(step), values)] if values else []


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("fairseq's `| train_inner | epoch N:  I / M loss=...` lines, its `valid on 'valid' "
            "subset` lines and its epoch lines")


source = Source.open
read = Source.run_of
