"""The token figure: how the policy's probability p of each expert token moves over training.

One panel per split (train, held-out), sharing both axes:
- "heatmap" (default): step x p, the colour is the share of the split's expert tokens in each
  p bin at that step (log colour scale: the mass piles up near p = 0 and p = 1, and the
  interesting tokens are the few in between). The mesh is rasterised (`rasterized=True`), so a
  vector PDF stays small whatever the number of steps; axes and text remain vector.
- "quantiles": nested bands (5-95 %, 25-75 %) and the median of p: fully vector, and readable in
  greyscale.
In both, the median (and quartiles) are computed like `phasewatch.tokens` summaries, exact for
float16 stores. Divergent tokens (p < 0.05) are the ones CHORD-phi's weight p(1-p) turns down.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import patheffects
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from phasewatch.errors import InputError, UsageError
from phasewatch.plot import _draw
from phasewatch.plot.layout import freeze_layout
from phasewatch.plot.style import OKABE_ITO, figure_size, paper_style
from phasewatch.run import Run
from phasewatch.xaxis import axis_label, step_unit

KINDS = ("heatmap", "quantiles")
SPLIT_TITLES = {"train": "expert tokens, train", "heldout": "expert tokens, held-out"}
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HIST_FLOOR = 1e-3  # lowest share shown in colour; rarer bins are left blank
CHUNK_TOKENS = 1 << 20


@dataclass
class TokenDistributions:
    """Per step and split: the share of expert tokens in each p bin, and quantiles of p."""

    steps: np.ndarray
    edges: np.ndarray  # p bin edges, 0..1
    shares: dict[str, np.ndarray]  # split -> (n_steps, bins), rows sum to 1
    quantiles: dict[str, dict[float, np.ndarray]]  # split -> q -> (n_steps,)


def token_distributions(store, bins: int = 40, quantiles=QUANTILES) -> TokenDistributions:
    """One streaming pass over the store: per step, per split, a 65,536-bin histogram of the
    16-bit keys of the stored values (`np.bincount` over memory-mapped windows, so memory stays
    flat), turned into p-bin shares by a lookup table and into quantiles by the same code as
    `phasewatch.tokens` summaries (exact for float16 stores; for float32 each value is known to
    2**-8 relative in log p, so only tokens that close to a bin edge can change bin).
    NaN, infinite or positive log-probs are an InputError naming the step file.
    """
    from phasewatch.tokens.keys import N_KEYS, codec_for
    from phasewatch.tokens.stats import (
        SummaryConfig,
        histogram_tables,
        quantile_label,
        stats_from_histogram,
    )

    codec = codec_for(store.dtype.name)
    config = SummaryConfig(quantiles=tuple(quantiles))
    tables = histogram_tables(codec, config)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Same bins as np.histogram: [e_i, e_i+1), the last one closed.
    p_of_key = np.exp(np.where(codec.valid, codec.values, -np.inf))
    bin_of_key = np.clip(np.searchsorted(edges, p_of_key, side="right") - 1, 0, bins - 1)
    shares = {split: np.zeros((store.n_steps, bins)) for split in store.splits}
    qs = {split: {q: np.full(store.n_steps, np.nan) for q in quantiles} for split in store.splits}
    for i, step in enumerate(store.steps):
        counts = {split: np.zeros(N_KEYS, dtype=np.int64) for split in store.splits}
        for start, stop, split in store.segments:
            for a in range(start, stop, CHUNK_TOKENS):
                window = store.logprobs(int(step), a, min(stop, a + CHUNK_TOKENS))
                counts[split] += np.bincount(codec.keys(window), minlength=N_KEYS)
        for split, c in counts.items():
            if codec.has_invalid(c):
                raise InputError(f"step {int(step)}: NaN, infinite or positive log-probs in the "
                                 f"{split} tokens (log-probs must be finite and <= 0)",
                                 store.file_for(int(step)).path)
            per_bin = np.bincount(bin_of_key, weights=np.where(codec.valid, c, 0), minlength=bins)
            shares[split][i] = per_bin / max(per_bin.sum(), 1)
            stats = stats_from_histogram(c, int(step), split, tables, config)
            for q in quantiles:
                qs[split][q][i] = stats.p_quantiles[quantile_label(q)]
    return TokenDistributions(store.steps, edges, shares, qs)


def _open(source):
    from phasewatch.tokens import TokenStore, open_store

    if isinstance(source, TokenStore):
        return source, []
    if isinstance(source, Run):
        if source.token_store is None:
            raise UsageError(
                f"{source.source}: this run has no expert log-prob store (expert_logprobs/); "
                "the token figure needs one (see phasewatch.tokens.TokenStoreWriter)"
            )
        return open_store(source.token_store), list(source.events)
    return open_store(Path(source)), []


def _step_edges(steps: np.ndarray) -> np.ndarray:
    """Cell edges halfway between stored steps, so uneven spacing is drawn truthfully."""
    steps = steps.astype(np.float64)
    if steps.size == 1:
        return np.array([steps[0] - 0.5, steps[0] + 0.5])
    mid = (steps[1:] + steps[:-1]) / 2
    return np.concatenate([[steps[0] - (mid[0] - steps[0])], mid, [steps[-1] + (steps[-1] - mid[-1])]])


def token_figure(
    source,
    *,
    kind: str = "heatmap",
    bins: int = 40,
    size: str | tuple[float, float] = "single",
    events=None,
    title: str | None = None,
    xlim: tuple[float, float] | None = None,
) -> Figure:
    """Distribution of expert-token probabilities over training; returns the Figure.

    `source`: a Run with a token store, a run folder / store folder, or an open TokenStore.
    `xlim` fixes the step axis (`--xlim`), as in the other figures.
    """
    if kind not in KINDS:
        raise UsageError(f"token figure kind must be one of {KINDS}, got {kind!r}")
    store, run_events = _open(source)
    events = run_events if events is None else list(events)
    dist = token_distributions(store, bins)
    splits = store.splits

    # Side by side at full width; stacked in a single column.
    full = size == "full" or (isinstance(size, tuple) and size[0] > 5)
    nrows, ncols = (1, len(splits)) if full else (len(splits), 1)
    width, height = figure_size(size, n_panels=0 if full else len(splits) - 1)
    with paper_style():
        fig = _draw.new_figure(width, height)
        axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel().tolist()
        mesh = None
        x = dist.steps.astype(np.float64)
        x_edges = _step_edges(dist.steps)
        handles = []
        for ax, split in zip(axes, splits):
            q = dist.quantiles[split]
            if kind == "heatmap":
                # Empty and rare bins take the lowest colour (the colour bar says "<= 0.1 %").
                shares = np.maximum(dist.shares[split], HIST_FLOOR)
                mesh = ax.pcolormesh(x_edges, dist.edges, shares.T, norm=LogNorm(HIST_FLOOR, 1.0),
                                     cmap="viridis", rasterized=True, shading="flat", gid="token-mesh")
                line_color = "white"
                outline = [patheffects.withStroke(linewidth=2.2, foreground="#1a1a1a")]
                thin_outline = [patheffects.withStroke(linewidth=1.3, foreground="#1a1a1a")]
            else:
                ax.fill_between(x, q[0.05], q[0.95], color=OKABE_ITO["sky_blue"],
                                alpha=0.35, linewidth=0, gid="token-band")
                ax.fill_between(x, q[0.25], q[0.75], color=OKABE_ITO["blue"],
                                alpha=0.45, linewidth=0, gid="token-band")
                line_color = "#1a1a1a"
                outline = []
            ax.plot(x, q[0.5], color=line_color, linewidth=1.1, gid="token-median",
                    path_effects=outline)
            if kind == "heatmap":
                for quartile in (q[0.25], q[0.75]):
                    ax.plot(x, quartile, color=line_color, linewidth=0.5,
                            path_effects=thin_outline, gid="token-quartile")
            ax.set_title(SPLIT_TITLES.get(split, split), loc="left")
            ax.set_ylim(0, 1)
            ax.set_xlim(*((x_edges[0], x_edges[-1]) if kind == "heatmap" else (x[0], x[-1])))
        for ax in axes:
            spec = ax.get_subplotspec()
            if spec.is_first_col():
                ax.set_ylabel("p (expert token)")
            if spec.is_last_row():  # a store's steps are training steps; a run says otherwise
                ax.set_xlabel(axis_label(step_unit(source)))
        event_handles = _draw.draw_events(axes, events, color="white" if kind == "heatmap" else None)
        _draw.apply_limits(axes, xlim)
        seen = _draw.in_view(axes)  # the legend names only the events the limits left in view
        event_handles = {label: h for label, h in event_handles.items() if f"event:{label}" in seen}
        if kind == "heatmap":
            cbar = fig.colorbar(mesh, ax=axes, shrink=0.9, pad=0.02, aspect=25)
            cbar.set_label("share of tokens per p bin")
            cbar.set_ticks([1e-3, 1e-2, 1e-1, 1], labels=["\u22640.1%", "1%", "10%", "100%"])
            cbar.ax.tick_params(labelsize=6)
            handles += [Line2D([], [], color=line_color, linewidth=1.1, path_effects=outline,
                               label="median p"),
                        Line2D([], [], color=line_color, linewidth=0.5,
                               path_effects=thin_outline, label="quartiles")]
        else:
            handles += [Line2D([], [], color=line_color, linewidth=1.1, label="median p"),
                        Patch(color=OKABE_ITO["blue"], alpha=0.45, label="25-75 %"),
                        Patch(color=OKABE_ITO["sky_blue"], alpha=0.35, label="5-95 %")]
        for handle in event_handles.values():
            handle.set_color("#1a1a1a")
            handles.append(handle)
        _draw.fit_legend(fig, handles, max_cols=4)
        if title:
            _draw.fit_suptitle(fig, title)
        freeze_layout(fig)
    return fig
