"""Token figures: the histograms and quantile bands match numpy on the store, invalid log-probs
name their step file."""

from __future__ import annotations

import numpy as np
import pytest
from plot_inputs import make_run, make_store, render

from phasewatch.errors import UsageError
from phasewatch.plot import token_figure
from phasewatch.plot.tokens import token_distributions

# ----------------------------------------------------------------- tokens


def test_token_histograms_match_numpy_and_the_mesh_is_rasterised(tmp_path):
    from phasewatch.tokens import open_store

    store = open_store(make_store(tmp_path / "store"))
    dist = token_distributions(store, bins=20)
    assert dist.steps.tolist() == list(range(0, 110, 10))
    p = np.exp(store.logprobs(50)[:300].astype(np.float64))
    expected = np.histogram(p, bins=dist.edges)[0] / 300
    assert np.allclose(dist.shares["train"][5], expected)
    assert np.allclose(dist.shares["heldout"].sum(axis=1), 1.0)
    held = np.exp(store.logprobs(50)[300:].astype(np.float64))
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):  # exact for float16 stores
        assert dist.quantiles["train"][q][5] == pytest.approx(np.quantile(p, q), rel=1e-9)
        assert dist.quantiles["heldout"][q][5] == pytest.approx(np.quantile(held, q), rel=1e-9)

    fig = token_figure(store, bins=20)
    meshes = [c for ax in fig.axes for c in ax.collections if c.get_gid() == "token-mesh"]
    assert len(meshes) == 2 and all(m.get_rasterized() for m in meshes)
    assert [ax.get_title(loc="left") for ax in fig.axes[:2]] == ["expert tokens, train", "expert tokens, held-out"]
    median = next(line for line in fig.axes[0].lines if line.get_gid() == "token-median")
    assert median.get_ydata()[5] == pytest.approx(np.quantile(p, 0.5), rel=1e-6)
    assert median.get_ydata()[-1] > median.get_ydata()[0] + 0.3  # train tokens are learned
    pdf = render(fig, "pdf")
    assert b"/Subtype /Image" in pdf  # the mesh is a raster image inside the vector PDF


def test_token_quantile_bands_are_ordered(tmp_path):
    fig = token_figure(make_store(tmp_path / "store"), kind="quantiles", size="full")
    for ax in fig.axes:
        bands = [c for c in ax.collections if c.get_gid() == "token-band"]
        assert len(bands) == 2
        outer, inner = (b.get_paths()[0].vertices[:, 1] for b in bands)
        assert outer.min() <= inner.min() and outer.max() >= inner.max()


def test_invalid_log_probs_name_the_step_file(tmp_path):
    from phasewatch.errors import InputError
    from phasewatch.tokens import open_store

    folder = make_store(tmp_path / "store", n_steps=3)
    bad = np.load(folder / "step_00000010.npy")
    bad[7] = np.nan
    np.save(folder / "step_00000010.npy", bad)
    with pytest.raises(InputError, match=r"step_00000010\.npy.*step 10: NaN"):
        token_distributions(open_store(folder))


def test_token_figure_needs_a_store():
    with pytest.raises(UsageError, match="no expert log-prob store"):
        token_figure(make_run())
