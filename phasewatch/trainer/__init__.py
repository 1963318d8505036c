"""Reference trainer (needs torch: `pip install 'phasewatch[trainer]'`).

Real SFT / GRPO / SFT-then-RL / CHORD-mu / CHORD-phi runs of a small GRU on a toy addition task,
written as native run folders (see docs/trainer.md).
"""

from phasewatch.trainer.config import ALGORITHMS, PRESETS, TrainConfig, preset

__all__ = ["ALGORITHMS", "PRESETS", "TrainConfig", "preset", "train"]


def train(*args, **kwargs):
    """`phasewatch.trainer.loop.train` (imported lazily: it pulls in torch)."""
    from phasewatch.trainer.loop import train as _train

    return _train(*args, **kwargs)
