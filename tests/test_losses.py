"""Each loss of the reference trainer against a case computed by hand."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from phasewatch.trainer.losses import (
    chord_loss,
    group_advantages,
    grpo_loss,
    mu_schedule,
    sft_loss,
)

LN = math.log


def test_sft_loss_is_token_mean_nll_over_masked_tokens():
    # Two sequences: tokens with p = 0.5, 0.25 | 0.8 and a padded position (ignored).
    lp = torch.tensor([[LN(0.5), LN(0.25)], [LN(0.8), LN(0.1)]])
    mask = torch.tensor([[True, True], [True, False]])
    expected = (LN(2) + LN(4) + -LN(0.8)) / 3
    assert sft_loss(lp, mask).item() == pytest.approx(expected, rel=1e-6)


def test_chord_phi_weights_each_token_by_p_one_minus_p():
    lp = torch.tensor([[LN(0.5), LN(0.9), LN(0.01)]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    expected = (0.25 * LN(2) + 0.09 * -LN(0.9) + 0.0099 * -LN(0.01)) / 3
    assert sft_loss(lp, mask, "phi").item() == pytest.approx(expected, rel=1e-5)


def test_phi_and_p_weights_are_detached():
    lp = torch.tensor([[LN(0.5)]], requires_grad=True)
    sft_loss(lp, torch.ones(1, 1, dtype=torch.bool), "phi").backward()
    assert lp.grad.item() == pytest.approx(-0.25)  # d/dlp of -w*lp with w constant
    lp.grad = None
    sft_loss(lp, torch.ones(1, 1, dtype=torch.bool), "p").backward()
    assert lp.grad.item() == pytest.approx(-0.5)


def test_sft_is_weights_by_p():
    lp = torch.tensor([[LN(0.5), LN(0.2)]])
    expected = (0.5 * LN(2) + 0.2 * -LN(0.2)) / 2
    assert sft_loss(lp, torch.ones(1, 2, dtype=torch.bool), "p").item() == pytest.approx(expected, rel=1e-6)


def test_group_advantages_normalise_within_each_group():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5])
    adv = group_advantages(rewards, group_size=4)
    # group 1: mean 0.5, population std 0.5 -> +-1; group 2: uniform -> 0
    assert adv.tolist() == pytest.approx([1, -1, -1, 1, 0, 0, 0, 0], abs=1e-5)


def test_grpo_loss_clips_the_ratio_token_mean():
    # Sequence 0 (A = +1): ratios 1.5 (clipped to 1.2) and 1.0; sequence 1 (A = -1): ratio 0.5
    # (min(0.5 * -1, 0.8 * -1) = -0.8) and a masked token.
    old = torch.zeros(2, 2)
    lp = torch.tensor([[LN(1.5), 0.0], [LN(0.5), 5.0]])
    adv = torch.tensor([1.0, -1.0])
    mask = torch.tensor([[True, True], [True, False]])
    expected = -(1.2 + 1.0 - 0.8) / 3
    assert grpo_loss(lp, old, adv, mask, clip_eps=0.2).item() == pytest.approx(expected, rel=1e-6)


def test_grpo_loss_on_policy_gradient_is_advantage_weighted():
    lp = torch.tensor([[-0.3, -1.2]], requires_grad=True)
    grpo_loss(lp, lp.detach(), torch.tensor([2.0]), torch.ones(1, 2, dtype=torch.bool)).backward()
    assert lp.grad[0].tolist() == pytest.approx([-1.0, -1.0])  # -A / n_tokens per token


def test_chord_mixes_with_mu():
    assert chord_loss(torch.tensor(2.0), torch.tensor(4.0), 0.25).item() == pytest.approx(0.75 * 2 + 0.25 * 4)


def test_mu_schedule_warmup_cosine_valley():
    kw = {"peak": 0.9, "valley": 0.05, "warmup_steps": 10, "decay_steps": 100}
    assert mu_schedule(5, **kw) == pytest.approx(0.45)
    assert mu_schedule(10, **kw) == pytest.approx(0.9)
    assert mu_schedule(60, **kw) == pytest.approx(0.05 + 0.85 * 0.5)  # half way: cos(pi/2) = 0
    assert mu_schedule(110, **kw) == pytest.approx(0.05)
    assert mu_schedule(10_000, **kw) == pytest.approx(0.05)
    assert mu_schedule(1, 0.9, 0.05, 0, 200) == pytest.approx(0.05 + 0.85 * 0.5 * (1 + math.cos(math.pi / 200)))
