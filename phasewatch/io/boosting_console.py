"""The evaluation lines XGBoost and LightGBM print while they add trees.

Both print a line per boosting round (every `verbose_eval` / `log_evaluation(period)` rounds):
the round in brackets, then, tab-separated, each evaluation set's metrics in the order the
sets and metrics were given:

    [0]\tvalidation_0-logloss:0.61234\tvalidation_1-logloss:0.62015      XGBoost (0-based)
    [10]\ttraining's binary_logloss: 0.4123\tvalid_1's auc: 0.8312        LightGBM (1-based)

`xgboost.cv` adds each mean's standard deviation over the folds (`test-rmse:0.5+0.01`), read
as its result's columns are named (`test-rmse-mean`, `test-rmse-std`); `lightgbm.cv` prints
`cv_agg's valid auc: 0.83 + 0.01`, read as its result's keys (`valid auc-mean`,
`valid auc-stdv`). A series is named `<set>-<metric>` as XGBoost names its own and as MLflow's
autolog names both libraries' (`validation_1-logloss`, `valid_1-auc`), at the round printed.

Which set is held out only the order says: XGBoost's scikit-learn API names the sets
`validation_0`, `validation_1`... in the order of `eval_set`, and the first is often the
training data. So the metric analysed (`RunInfo.performance_metric`) is the one each library
stops early on, on the last set not named as training data (`train`, `training`, LightGBM's
name for it, `dtrain`, `learn`): XGBoost's last metric, LightGBM's first (`first_metric_only`),
the cross-validation's `-mean`; with no other set, the training set's. Its direction is the
library's: AUC, AUCPR, average precision, MAP, NDCG, precision at k and `auc_mu` are higher-is-
better, every other built-in metric lower (a custom metric's: its name's).

`Stopping. Best iteration:` (XGBoost before 1.3), `Early stopping, best iteration is:` and
`Did not meet early stopping. Best iteration is:` (LightGBM) end the run; the line after them
repeats the best round's values, which is not read again (its round goes to the config,
`best_iteration`). Other lines (`[LightGBM] [Info] ...`, XGBoost's `[12:01:07] WARNING: ...`,
`Will train until ...`) are not records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from phasewatch.io.lines import NUMBER, BadLine, line_sniffers
from phasewatch.io.source import LogFileSource

FORMAT = "boosting_console"

ROUND = re.compile(r"^\[(?P<round>\d+)\]\t(?P<items>.*\S)\s*$")
XGB_ITEM = re.compile(rf"^(?P<set>[^\s:'-]+)-(?P<metric>[^\s:]+):(?P<value>{NUMBER})"
                      rf"(?:\+(?P<std>{NUMBER}))?$")
LGB_ITEM = re.compile(rf"^(?P<set>\S+)'s (?P<metric>[^:\t]+?): (?P<value>{NUMBER})"
                      rf"(?: \+ (?P<std>{NUMBER}))?$")
SNIFF = re.compile(rb"(?m)^\[\d+\]\t(?:[^\s:'-]+-[^\s:]+:[-+]?[\d.n]|\S+'s [^:\t]+: [-+]?[\d.n])")
BEST_FOLLOWS = ("Stopping. Best iteration:", "Early stopping, best iteration is:",
                "Did not meet early stopping. Best iteration is:")
TRAIN_SETS = frozenset({"train", "training", "dtrain", "learn"})
CV_SET = "cv_agg"  # lightgbm.cv's name for its folds' aggregate
# higher-is-better built-in metrics (an `@k` after the name is the cut-off: `ndcg@5`)
HIGHER_IS_BETTER = frozenset({"auc", "aucpr", "map", "ndcg", "pre", "auc_mu",
                              "average_precision", "interval-regression-accuracy"})

sniff, sniff_text = line_sniffers(SNIFF, 2)


def metric_direction(metric: str) -> str:
    """The library's direction of a built-in metric (`ndcg@5`: max; `error@0.7`: min), else
    the name's (`presets.default_direction`: a custom `f1` max, a custom `mae_loss` min)."""
    from phasewatch.presets import default_direction  # (sniffing stays light)

    bare = metric.split("@", 1)[0]
    if bare in HIGHER_IS_BETTER:
        return "max"
    return "min" if bare in BUILT_IN_LOWER else default_direction(metric)


BUILT_IN_LOWER = frozenset({
    "rmse", "rmsle", "mae", "mape", "mphe", "logloss", "error", "merror", "mlogloss",
    "poisson-nloglik", "gamma-nloglik", "cox-nloglik", "gamma-deviance", "tweedie-nloglik",
    "aft-nloglik", "l1", "l2", "l2_root", "quantile", "huber", "fair", "poisson", "gamma",
    "gamma_deviance", "tweedie", "binary_logloss", "binary_error", "multi_logloss",
    "multi_error", "cross_entropy", "xentropy", "cross_entropy_lambda", "kullback_leibler"})


def parse_items(items: str) -> tuple[list[tuple[str, str, str, str | None]], str]:
    """(set, metric, value, std or None) of each tab-separated item of a round's line, in the
    order printed, and the library that prints them so ("xgboost", "lightgbm", or "lightgbm.cv");
    BadLine for an item of neither library's shape."""
    out, library = [], "xgboost"
    for item in items.split("\t"):
        item = item.strip()
        found = LGB_ITEM.match(item) or XGB_ITEM.match(item)
        if found is None:
            raise BadLine(f"{item!r} is neither XGBoost's `set-metric:value` nor LightGBM's "
                          "`set's metric: value`")
        set_name, metric = found.group("set"), found.group("metric")
        if found.re is LGB_ITEM:
            library = "lightgbm.cv" if set_name == CV_SET else "lightgbm"
        if set_name == CV_SET:  # `cv_agg's valid auc`: the set, if named, is the first word
            set_name, _, rest = metric.rpartition(" ")
            metric = rest if set_name else metric
        out.append((set_name, metric, found.group("value"), found.group("std")))
    return out, library


def series_name(set_name: str, metric: str, lightgbm_cv: bool) -> str:
    """The name a series has in the library's own results: `validation_1-logloss`;
    lightgbm.cv's `valid auc` (or, before LightGBM 4, `auc`)."""
    if lightgbm_cv:
        return f"{set_name} {metric}" if set_name else metric
    return f"{set_name}-{metric}"


class LineParser:
    """A record per round; the metric the library stops early on, once the first round is read
    (`declared`)."""

    def __init__(self) -> None:
        self.declared: tuple[str, str] | None = None  # (name, direction)
        self.best_next = False  # the next round's line repeats the best round
        self.best: int | None = None

    @property
    def settings(self) -> dict[str, int | None]:
        """The best round the library named when it stopped, for the run's config."""
        return {"best_iteration": self.best}

    def feed(self, line: str, lineno: int) -> list[tuple[int, dict[str, Any]]]:
        if line.startswith(BEST_FOLLOWS):
            self.best_next = True
            return []
        found = ROUND.match(line)
        if found is None:
            return []
        step = int(found.group("round"))
        if self.best_next:
            self.best_next, self.best = False, step
            return []
        items, library = parse_items(found.group("items"))
        lightgbm_cv = library == "lightgbm.cv"
        values: dict[str, Any] = {}
        for set_name, metric, value, std in items:
            name = series_name(set_name, metric, lightgbm_cv)
            if std is None:
                values[name] = value
            else:
                values[f"{name}-mean"] = value
                values[f"{name}-{'stdv' if lightgbm_cv else 'std'}"] = std
        if self.declared is None:
            self.declared = self._early_stopping_metric(items, library)
        return [(step, values)]

    @staticmethod
    def _early_stopping_metric(items: list[tuple[str, str, str, str | None]],
                               library: str) -> tuple[str, str]:
        """(name, direction) of the metric the library stops early on, on the last set not
        named as training data (the module's docstring)."""
        held = [item for item in items if item[0].lower() not in TRAIN_SETS] or items
        last_set = held[-1][0]
        of_set = [item for item in held if item[0] == last_set]
        set_name, metric, _, std = of_set[-1] if library == "xgboost" else of_set[0]
        name = series_name(set_name, metric, library == "lightgbm.cv")
        return (f"{name}-mean" if std is not None else name), metric_direction(metric)


class Source(LogFileSource):
    """Lines read (and followed) by the shared line machinery; the early-stopping metric is the
    run's performance metric as soon as a round is read."""

    FORMAT, PARSER = FORMAT, LineParser
    WHAT = ("XGBoost's `[N]\\tset-metric:value` or LightGBM's `[N]\\tset's metric: value` "
            "evaluation lines")

    def end_marker(self, text: str, values: Mapping[str, Any] | None) -> bool:
        return text.startswith(BEST_FOLLOWS)


source = Source.open
read = Source.run_of
