"""Inputs of the figure tests built by hand: runs with known phases, analyses, token stores,
and the lookups the tests use to find what a figure drew (`gids`) and the bytes it saves
(`render`)."""

from __future__ import annotations

import io

import numpy as np

from phasewatch.plot.style import output_format
from phasewatch.results import Analysis, ChangePoint, Phase
from phasewatch.run import Event, RecordCollector


def make_run(name="sft_then_rl", n=200, seed=0, switch=None, extras=True):
    """A run whose accuracy dips, recovers and slowly declines, with the optional panels' metrics;
    its config names its seed (runs of one arm and different seeds are a seed group)."""
    rng = np.random.default_rng(seed)
    collector = RecordCollector(f"mem:{name}", "test")
    steps = np.arange(n) * 5
    t = steps / steps[-1]
    acc = 0.5 - 0.25 * np.exp(-((t - 0.12) / 0.07) ** 2) + 0.3 / (1 + np.exp(-(t - 0.35) * 20))
    acc -= 0.1 * np.clip(t - 0.6, 0, None) + rng.normal(0, 0.02, n)
    for i, step in enumerate(steps):
        record = {"eval/accuracy": acc[i]}
        if extras:
            record["expert/nll_train"] = 2 * np.exp(-3 * t[i]) + 0.05
            record["expert/nll_heldout"] = 2 * np.exp(-3 * t[i]) + 0.6 * max(t[i] - 0.5, 0) + 0.3
            record["train/entropy"] = 1.0 - 0.5 * t[i]
            record["eval/response_length"] = 10 + 20 * t[i]
        collector.add(int(step), record)
    events = [Event(int(switch), "sft_to_rl")] if switch is not None else []
    return collector.build(name=name, algorithm=name, performance_metric="eval/accuracy",
                           direction="max", events=events, config={"seed": seed})


def make_analysis(run, phases=None, stop=450):
    phases = phases or [("disruption", 0, 120), ("readaptation", 120, 450), ("overfit", 450, 995)]
    cps = [ChangePoint(start, start - 10, start + 15) for _, start, _ in phases[1:]]
    return Analysis(source=run.source, metric="eval/accuracy", direction="max", baseline=0.5,
                    changepoints=cps, phases=[Phase(*p) for p in phases],
                    recommended_stop_step=stop)


def make_store(folder, n_steps=11, seed=0):
    from phasewatch.tokens import TokenStoreWriter

    rng = np.random.default_rng(seed)
    sequences = ([{"id": f"t{i}", "split": "train", "length": 10} for i in range(30)]
                 + [{"id": f"h{i}", "split": "heldout", "length": 10} for i in range(20)])
    difficulty = rng.normal(0, 2.0, 500)
    rate = np.where(np.arange(500) < 300, 0.1, 0.04)
    with TokenStoreWriter(folder, sequences) as writer:
        for k in range(n_steps):
            logit = -2 + rate * k * 10 - difficulty
            writer.append(k * 10, -np.logaddexp(0, -logit))
    return folder


def gids(fig_or_ax, gid, kind="patches"):
    out = []
    axes = fig_or_ax.axes if hasattr(fig_or_ax, "axes") and not hasattr(fig_or_ax, "patches") else [fig_or_ax]
    for ax in axes:
        out += [a for a in getattr(ax, kind) if a.get_gid() == gid]
    return out


def render(fig, fmt, dpi=100):
    buffer = io.BytesIO()
    path = f"/dev/null.{fmt}"  # only the extension matters to output_format
    output_format(path)
    from phasewatch.plot.style import SAVE_METADATA, paper_style

    with paper_style():
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=SAVE_METADATA[fmt])
    return buffer.getvalue()


def make_other_run(name="trl", n=50, event_steps=(80, 160)):
    """A run with another performance metric (a reward) and its own events (epochs)."""
    rng = np.random.default_rng(3)
    collector = RecordCollector(f"mem:{name}", "test")
    for step in range(5, 5 * n + 1, 5):
        collector.add(step, {"train/reward": 0.5 + step / 1000 + rng.normal(0, 0.05)})
    return collector.build(name=name, algorithm=name, performance_metric="train/reward",
                           direction="max", events=[Event(s, "epoch") for s in event_steps])
