"""The NLL-gap overfit signal: held-out expert NLL rising from its minimum while train expert
NLL keeps falling significantly (the model memorises the expert set; often the first sign)."""

from __future__ import annotations

from phasewatch.online.config import MonitorConfig
from phasewatch.online.series import Series
from phasewatch.online.state import NllGapState


class NllGap:
    """Held-out expert NLL rising from its minimum while train expert NLL keeps falling."""

    def __init__(self, train: str, heldout: str, cfg: MonitorConfig):
        self.train = Series(train, -1.0, cfg, performance=False)
        self.heldout = Series(heldout, -1.0, cfg, performance=False)
        self.cfg = cfg
        self.restart()

    def restart(self) -> None:
        """A known boundary: the minimum is sought again (RL does not train on the expert set)."""
        self.best: float | None = None
        self.best_step: int | None = None
        self.train_at_best: float | None = None
        self.streak = 0
        self.fired = False

    def update(self, step: int, train: float | None, heldout: float | None):
        if train is not None:
            self.train.add(step, train)
        if heldout is None:
            return None
        h = self.heldout
        h.add(step, heldout)
        if self.train.level is None:
            return None
        if self.best is None or h.level > self.best:
            self.best, self.best_step = h.level, h.level_step
            self.train_at_best = self.train.level
        if self.fired or h.n < self.cfg.warmup or self.train.n < self.cfg.warmup:
            return None
        rise = self.best - h.level
        fall = self.train.level - self.train_at_best
        t_thr = self.train.threshold(self.train_at_best, self.train.se_level, cautious=True)
        if rise > h.threshold(self.best, h.se_level, cautious=True) and fall > t_thr:
            self.streak += 1
        else:
            self.streak = 0
        if self.streak < self.cfg.confirm:
            return None
        self.fired = True
        return ("overfit", self.best_step,
                (f"{h.label} rose {h.gap_text(rise, h.se_level)} from its minimum {-self.best:.4g} "
                 f"(step {self.best_step}) while {self.train.label} fell "
                 f"{self.train.gap_text(fall, self.train.se_level)} further: the model memorises "
                 "the expert set"))

    def state(self) -> NllGapState:
        return NllGapState(train=self.train.state(), heldout=self.heldout.state(), best=self.best,
                           best_step=self.best_step, train_at_best=self.train_at_best,
                           streak=self.streak, fired=self.fired)

    def load(self, st: NllGapState) -> None:
        self.train.load(st.train)
        self.heldout.load(st.heldout)
        self.best, self.best_step, self.train_at_best = st.best, st.best_step, st.train_at_best
        self.streak, self.fired = st.streak, st.fired
