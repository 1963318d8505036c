"""Whether a YOLO run that ends before its planned epochs was ended by its trainer's early
stopping, as its results.csv and arguments show it.

Ultralytics (`utils/torch_utils.py` `EarlyStopping`, called as `self.stopper(epoch + 1,
self.fitness)`: results.csv's epoch) and YOLOv5 (`utils/torch_utils.py`, called with the loop's
epoch, results.csv's own) stop once `epoch - best_epoch >= patience`, `best_epoch` the epoch of
the highest fitness so far: the first of equals where a new best must be higher (`>`,
Ultralytics), the last where it may equal it (`>=`, YOLOv5 and early Ultralytics). A patience of
0 disables it. So a run whose last epoch is `patience` epochs after the epoch of its highest
fitness (either of equals) was stopped by it: the log's early end is then said as what it is,
where it was "stopped early (an early-stopping callback, a crash) or still training"
(wheat-weed's YOLOv8 run, patience 100, best fitness at epoch 2 of 150 planned, ends at epoch
102). The fitness is computed from results.csv's rounded values (`yolo_weights.Fitness`).
Read row by row (`LiveEarlyStop`, for the CSV reader's `io.ultralytics_folder.TrainerEnd`), the
row it stops at is the run's end, where the answer is sure: on the corpus's 25 YOLO runs with
their own arguments, 5 of the 6 that end early end by it, 4 of them surely so (the fifth: a
fitness the release decides, which only one of the two fits), and no run ends at a row before
its last.
"""

from __future__ import annotations

from phasewatch.yolo_weights import trained


def patience_best(scored: list[tuple[float, int]], last: int, patience: int,
                  either: bool = True) -> int | None:
    """The epoch of the highest fitness among `scored` ((fitness, epoch)) that lies `patience`
    epochs before `last`, the first or the last of equals (`either`; else only where they are
    one epoch: no tie to tell the releases apart); None where there is none."""
    if not scored:
        return None
    top = max(v for v, _ in scored)
    ties = [e for v, e in scored if v >= top - 1e-12]
    if not either and min(ties) != max(ties):
        return None
    return next((best for best in sorted({min(ties), max(ties)}) if last - best == patience),
                None)


def _patience(config: dict) -> int | None:
    patience = config.get("patience")
    if isinstance(patience, bool) or not isinstance(patience, int) or patience <= 0:
        return None
    return patience


def early_stop_reason(run) -> str | None:
    """'the trainer's early stopping ended it (patience 100 in args.yaml: no higher ... in the
    100 epochs after epoch 2)' where the run's last epoch says so; else None."""
    found = trained(run)
    if found is None or not found.epochs or (patience := _patience(found.config)) is None:
        return None
    for fitness in found.fitnesses:
        scored = [(v, e) for e in found.epochs
                  if (v := fitness.of(found.columns, e)) is not None]
        best = patience_best(scored, found.epochs[-1], patience)
        if best is not None:
            return (f"the trainer's early stopping ended it "
                    f"({stop_words(patience, found.arguments, fitness, best)})")
    return None


def stop_words(patience: int, arguments: str, fitness, best: int) -> str:
    """'patience 100 in args.yaml: no higher Ultralytics' fitness, 0.1 mAP50 + 0.9 mAP50-95,
    in the 100 epochs after epoch 2'."""
    return (f"patience {patience} in {arguments}: no higher {fitness.trainer}, "
            f"{fitness.formula}, in the {patience} epochs after epoch {best}")


class LiveEarlyStop:
    """Whether the latest results.csv row is the one the trainer's early stopping stopped at,
    row by row as a follow reads them: only where every fitness the trainer may have used
    (two where args.yaml does not date the Ultralytics release) stops there, and with no tie
    at the highest (the releases keep the first or the last of equals), so a run that goes on
    is never ended."""

    def __init__(self, args: dict, arguments: str, patience: int) -> None:
        self.args, self.arguments, self.patience = args, arguments, patience
        self.v5 = arguments == "opt.yaml"
        self.known: list | None = None  # the fitnesses, from the first row's columns
        self.scored: list[list[tuple[float, int]]] = []
        self.words: str | None = None  # `stop_words`, once it stopped

    def reached(self, epoch: int, values: dict) -> bool:
        from phasewatch.values import to_float
        from phasewatch.yolo_weights import fitnesses

        columns = {name: {epoch: number} for name, value in values.items()
                   if (number := to_float(value)) is not None}
        if self.known is None:
            self.known = fitnesses(columns, self.v5, None if self.v5 else self.args)
            self.scored = [[] for _ in self.known]
        stops = []
        for fitness, scored in zip(self.known, self.scored):
            if (value := fitness.of(columns, epoch)) is not None:
                scored.append((value, epoch))
            stops.append(patience_best(scored, epoch, self.patience, either=False))
        if not stops or None in stops:
            return False
        self.words = stop_words(self.patience, self.arguments, self.known[0], stops[0])
        return True


def live_early_stop(config: dict, arguments: str) -> LiveEarlyStop | None:
    """`LiveEarlyStop` for a run whose arguments file (`args.yaml`, YOLOv5's `opt.yaml`) sets a
    patience; None where it sets none (0 disables the trainer's early stopping)."""
    patience = _patience(config)
    return None if patience is None else LiveEarlyStop(config, arguments, patience)
