"""The console of spaCy's `spacy train` (spaCy 3's `ConsoleLogger`): a table of evaluations.

After `Training pipeline`, spaCy prints a header, a rule, and a row at every evaluation on the
dev corpus (every `training.eval_frequency` steps, the first at step 0, before any update):

    E    #       LOSS TOK2VEC  LOSS NER  ENTS_F  ENTS_P  ENTS_R  SCORE
    ---  ------  ------------  --------  ------  ------  ------  ------
      0       0          0.00     44.28    0.00    0.00    0.00    0.00
      0     200         53.51   2262.98   69.75   71.63   67.97    0.70

`E` is the epoch, `#` the step (the updates made), each `LOSS <PIPE>` that component's training
loss summed since the previous evaluation, then the dev corpus' scores in `score_weights`
(x100, as printed; `SPEED` in words a second) and `SCORE`, their weighted sum (0-1), by which
spaCy keeps `model-best`. Read at the step: `epoch`, `train/loss_<pipe>` (`train/loss_tok2vec`),
`dev/<score>` (`dev/ents_f`, `dev/tag_acc`; a name spaCy cut to 13 characters keeps its
`...`) and `dev/score`, the held-out score analysed (its role: `eval/accuracy`). A header
printed again (a second `spacy train` into the same log) names the rows after it; `✔ Saved
pipeline to output directory` says the run finished.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from phasewatch.io.lines import BadLine, line_sniffers
from phasewatch.io.source import LogFileSource

FORMAT = "spacy_console"

HEADER = re.compile(r"^\s*E\s+#\s+(?P<columns>.*\bSCORE)\s*$")
RULE = re.compile(r"^\s*-{3}(?:\s+-+)+\s*$")
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf"
ROW = re.compile(rf"^\s*(?P<epoch>\d+)\s+(?P<step>\d+)\s+(?P<values>(?:(?:{NUMBER})\s*)+)$")
SNIFF = re.compile(rb"(?m)^[ \t]*E {2,}# {2,}[^\n]*SCORE *\r?\n[ \t]*-{3} {2}-{6}")
SAVED = "Saved pipeline to output directory"

sniff, sniff_text = line_sniffers(SNIFF, 1)


def column_names(columns: str) -> list[str]:
    """The names of a header's columns after `E #`: `LOSS <PIPE>` (two words, one column) as
    `train/loss_<pipe>`, `SCORE` as `dev/score`, any other as `dev/<name>`, in lower case."""
    words = columns.split()
    names = []
    while words:
        word = words.pop(0)
        if word == "LOSS" and words:
            names.append(f"train/loss_{words.pop(0).lower()}")
        else:
            names.append(f"dev/{word.lower()}")
    return names


class LineParser:
    """A row under a header (and its rule) as a record at its step."""

    def __init__(self) -> None:
        self.names: list[str] | None = None  # the columns after `E #` of the last header
        self.pending: list[str] | None = None  # a header's, until its rule

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if "SCORE" in line and (header := HEADER.match(line)) is not None:
            self.pending = column_names(header.group("columns"))
            return []
        if self.pending is not None and RULE.match(line):
            if len(line.split()) != len(self.pending) + 2:
                raise BadLine(f"a rule of {len(line.split())} columns under a header of "
                              f"{len(self.pending) + 2}")
            self.names, self.pending = self.pending, None
            return []
        if self.names is None or (row := ROW.match(line)) is None:
            return []
        cells = row.group("values").split()
        if len(cells) != len(self.names):
            raise BadLine(f"{len(cells) + 2} values under a header of {len(self.names) + 2} "
                          "columns")
        return [(int(row.group("step")),
                 {"epoch": row.group("epoch"), **dict(zip(self.names, cells))})]


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery; `Saved pipeline` ends the run."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = "spaCy's `E  #  LOSS ...  SCORE` table and its rows"

    def end_marker(self, text: str, values: Mapping[str, Any] | None) -> bool:
        return SAVED in text


source = Source.open
read = Source.run_of
