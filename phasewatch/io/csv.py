"""CSV / TSV tables with a step-like column, including W&B's "Export CSV" files, and the
`;`-separated CSV a spreadsheet writes where the decimal mark is a comma ('0,5' read as 0.5).

The header names the columns; one of them is the step (`step`, `global_step`, `Step`, `_step`,
`iteration`, ... see `lines.STEP_KEYS`). Empty cells are absent values (sparse keys stay sparse).
A table with no step column whose header is all names and whose rows are all numbers is read
with the row number (0, 1, 2, ...) as the step, and a warning says so, as a JSON-lines log
without steps is (`io.jsonl`): OpenAI Baselines' logger (`baselines/logger.py`,
`CSVOutputFormat`, and the many scripts that copy it) writes one row per `dumpkvs()` with the
keys the script logged and nothing else, so a script that logs no `total_timesteps`
(`GAIL_PPO`'s `progress.csv`: `agent acc,demo acc,...,mean 100 episode reward,...`) leaves a
table whose only order is its rows'.
A table whose step column is `epoch` (Keras' CSVLogger) has epochs for steps, and the run says
so (`Run.step_unit`; a fractional epoch in ten-thousandths: `csv_epochs`). A title line above
the header, a pandas index column, fastai's CSVLogger, sentence-transformers' evaluator CSVs and
a file named for its split (`valid.csv`: its bare `loss` read as `valid_loss`) are layouts of
their own (`csv_layouts`).

W&B panel exports name their columns `"<run name> - <metric>"` with companion
`"<run name> - <metric>__MIN"` / `__MAX` columns (the range of the points W&B's sampling
merged into each plotted point). With one run in the file the run-name prefix is dropped
(and becomes the run's name); with several runs the prefixes are kept so the runs stay apart.
The __MIN/__MAX columns are kept as metrics of their own, under the same rule.

TensorBoard's "Download CSV" gives `Wall time,Step,Value` for one tag: the value is named
after the file (`run-x-tag-train_loss.csv` -> `train_loss` after "-tag-") and the wall time,
a clock reading rather than a metric, is left out.

Lightning's CSVLogger writes `metrics.csv` with `hparams.yaml` beside it: the run's config
(`io.lightning_folder`); a `trainer.validate()` after `fit` that evaluates weights the curve
already has a point for is left out of the curve (`io.lightning_after_fit`). Ultralytics YOLO
writes `results.csv` with `args.yaml` (YOLOv5: `opt.yaml`) beside it: the run's config, its
planned epochs with it (`io.ultralytics_folder`).

This module is the format: its sniffing, and what a file's folder and run add to the records;
the lines themselves are read by `csv_parser.LineParser` (the header and its layouts, the rows).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from phasewatch.io.csv_cells import delimiter_of, numbered_table, split_cells
from phasewatch.io.csv_epochs import fractional_ahead
from phasewatch.io.csv_layouts import title_line
from phasewatch.io.csv_parser import LineParser
from phasewatch.io.jsonlines import head_lines
from phasewatch.io.lightning_after_fit import AfterFit
from phasewatch.io.lightning_folder import take_hparams
from phasewatch.io.lines import find_step_key
from phasewatch.io.post_training import PostTrainingEvaluations, replace_notes
from phasewatch.io.source import LineRecordSource, collect
from phasewatch.io.ultralytics_folder import RESULTS, best_pt_again, take_ultralytics_args
from phasewatch.run import Run

FORMAT = "csv"


def sniff(path: Path, head: bytes) -> bool:
    if not path.is_file():
        return False
    found = header_of(head)
    if found is None:
        return False
    names, delimiter, second = found
    if find_step_key(names) is not None:
        return True
    return bool(second) and second[0][1] \
        and numbered_table(names, split_cells(second[0][0], delimiter))


def header_of(head: bytes) -> tuple[list[str], str, list[tuple[str, bool]]] | None:
    """(the header's column names, its delimiter, the line after it) of a table's first
    bytes, a title line above it skipped; None where the first line is no header."""
    lines = head_lines(head, limit=3)
    if not lines or lines[0][0].startswith(("{", "[")):
        return None
    hinted = title_line(lines[0][0]) if len(lines) > 1 else None  # `csv_layouts`: a title
    if hinted is not None:
        lines = lines[1:]
    header = lines[0][0]
    delimiter = hinted or delimiter_of(header)  # the one Excel's `sep=|` names, as `feed` reads
    if delimiter not in header:
        return None
    return [c.strip() for c in split_cells(header, delimiter)], delimiter, lines[1:2]


LIGHTNING_CSV = "metrics.csv"  # CSVLogger's file in its version_N/


class Source(LineRecordSource):
    cut_line_may_parse = True  # '100,0.009,0.' (cut from 0.512) is still a valid row

    def __init__(self, path: Path, follow: bool = False, notice=None):
        value_name = path.stem.rsplit("-tag-", 1)[-1]
        super().__init__(path, FORMAT, lambda: LineParser(value_name, path.name),
                         follow=follow, notice=notice)
        self.info.name = path.stem
        self.after_fit = AfterFit(self.file.name)  # Lightning's validate() after fit
        # an HF Trainer's log_history exported to CSV: its trainer.evaluate() after train()
        self.post_training = PostTrainingEvaluations()
        self._after_fit_notes: list[str] = []
        self.trainer_end = None  # a YOLO run's last row (`take_ultralytics_args`)
        self._last_row: int | None = None  # a results.csv's last epoch read (`best_pt_again`)
        self._looked_ahead = False  # the file looked through for a fractional epoch

    def read(self, final: bool = True):
        if self.path.name == LIGHTNING_CSV:  # CSVLogger's version_N/: its hparams.yaml beside
            take_hparams(self, self.path.parent)
        elif self.path.name == RESULTS:  # an Ultralytics YOLO run's folder: its args.yaml
            take_ultralytics_args(self, self.path.parent)
        if not self._looked_ahead:
            self._looked_ahead = True
            self._look_ahead()
        for record in super().read(final):
            if (again := best_pt_again(record.step, record.values, self._last_row)) is not None:
                self.warn(again, record.line)
                continue
            self._last_row = record.step if self.path.name == RESULTS else None
            if self.trainer_end is not None and not self.info.finished \
                    and self.trainer_end.reached(record.step, record.values):
                self.info.finished = True  # the trainer's final epoch, or its early stop
                if (said := self.trainer_end.said(record.step)) is not None:
                    self.warn(said)
            kept = self.post_training.kept(record.step, record.values, record.line)
            if kept:
                yield from self.after_fit.take(record if kept is record.values
                                              else replace(record, values=kept))
        yield from self.after_fit.end(final)
        self._after_fit_notes = replace_notes(self.warnings, self._after_fit_notes,
                                              [self.after_fit.check, self.post_training])
        # a W&B export's run name, else the name given (the file's stem, or its folder's)
        self.info.name = self.parser.run_name or self.info.name

    def _look_ahead(self) -> None:
        """Before the first read: whether an `epoch` step column holds a fractional epoch
        anywhere in the file as it is now, which then places every row (`io.csv_epochs`)."""
        if not self.file.is_file():  # a follow that waits for the file: nothing ahead
            return
        from phasewatch.follow import LineTail

        tail = LineTail(self.file)
        try:
            self.parser.fractional_epochs = fractional_ahead(self.parser_factory(),
                                                             tail.read(final=True))
        finally:
            tail.close()

    def end_marker(self, text, values) -> bool:
        return bool(values) and "train_runtime" in values


def source(path: Path, follow: bool = False, notice=None) -> Source:
    return Source(Path(path), follow=follow, notice=notice)


def read(path: Path) -> Run:
    return collect(source(path))
