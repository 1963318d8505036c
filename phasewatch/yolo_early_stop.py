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
"""

from __future__ import annotations

from phasewatch.yolo_weights import trained


def early_stop_reason(run) -> str | None:
    """'the trainer's early stopping ended it (patience 100 in args.yaml: no higher ... in the
    100 epochs after epoch 2)' where the run's last epoch says so; else None."""
    found = trained(run)
    if found is None or not found.epochs:
        return None
    patience = found.config.get("patience")
    if isinstance(patience, bool) or not isinstance(patience, int) or patience <= 0:
        return None
    last = found.epochs[-1]
    for fitness in found.fitnesses:
        scored = [(v, e) for e in found.epochs
                  if (v := fitness.of(found.columns, e)) is not None]
        if not scored:
            continue
        top = max(v for v, _ in scored)
        ties = [e for v, e in scored if v >= top - 1e-12]
        for best in sorted({min(ties), max(ties)}):
            if last - best == patience:
                return (f"the trainer's early stopping ended it (patience {patience} in "
                        f"{found.arguments}: no higher {fitness.trainer}, {fitness.formula}, in "
                        f"the {patience} epochs after epoch {best})")
    return None
