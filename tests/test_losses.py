"""losses.py: each distance against an independent computation; loss dropout properties."""

import math

import numpy as np
import pytest
import torch

from jepa_lab.objective.losses import (
    jepa_distance,
    jepa_dropped,
    total_loss,
    variance_covariance_penalty,
)


@pytest.fixture
def emb():
    g = torch.Generator().manual_seed(0)
    return torch.randn(5, 8, generator=g), torch.randn(5, 8, generator=g)


def test_cosine_l2_mse_match_numpy(emb):
    p, t = (x.numpy().astype(np.float64) for x in emb)
    cos = (p * t).sum(1) / np.linalg.norm(p, axis=1) / np.linalg.norm(t, axis=1)
    assert jepa_distance(*emb, "cosine").item() == pytest.approx((1 - cos).mean(), rel=1e-5)
    assert jepa_distance(*emb, "l2").item() == pytest.approx(
        np.linalg.norm(p - t, axis=1).mean(), rel=1e-5
    )
    assert jepa_distance(*emb, "mse").item() == pytest.approx(((p - t) ** 2).mean(), rel=1e-5)


def test_infonce_matches_explicit_softmax(emb):
    p, t = emb
    tau = 0.1
    pn, tn = p / p.norm(dim=1, keepdim=True), t / t.norm(dim=1, keepdim=True)
    expected = 0.0
    for i in range(len(p)):
        scores = [math.exp(float(pn[i] @ tn[j]) / tau) for j in range(len(t))]
        expected += -math.log(scores[i] / sum(scores))
    assert jepa_distance(p, t, "infonce", tau).item() == pytest.approx(expected / len(p), rel=1e-4)


def test_distances_vanish_on_identical_inputs(emb):
    p, _ = emb
    for kind in ("cosine", "l2", "mse", "centered_cosine"):
        assert jepa_distance(p, p.clone(), kind).item() == pytest.approx(0.0, abs=1e-5)


def test_centered_cosine_ignores_a_shared_constant(emb):
    p, t = emb
    shift = torch.full((8,), 50.0)
    # a huge shared offset makes plain cosine ~0 but leaves the centred one unchanged
    assert jepa_distance(p + shift, t + shift, "cosine").item() < 0.01
    assert jepa_distance(p + shift, t + shift, "centered_cosine").item() == pytest.approx(
        jepa_distance(p, t, "centered_cosine").item(), rel=1e-4
    )


def test_var_cov_penalises_collapse():
    collapsed = torch.ones(16, 4) + 1e-4 * torch.randn(16, 4)
    spread = torch.randn(4096, 4, generator=torch.Generator().manual_seed(1)) * 1.5
    assert variance_covariance_penalty(collapsed).item() > 0.9
    assert variance_covariance_penalty(spread).item() < 0.1


def test_total_and_bad_input(emb):
    assert total_loss(torch.tensor(2.0), torch.tensor(3.0), 0.5, 2.0).item() == 7.0
    with pytest.raises(ValueError, match="unknown distance"):
        jepa_distance(*emb, "cosh")
    with pytest.raises(ValueError, match=r"\[B, H\]"):
        jepa_distance(emb[0], emb[1][:3])


def test_loss_dropout_rate_and_determinism():
    steps = range(20000)
    for rate in (0.0, 0.25, 0.75, 1.0):
        dropped = [jepa_dropped(s, rate, seed=3) for s in steps]
        assert abs(sum(dropped) / len(dropped) - rate) < 0.015
        assert dropped == [jepa_dropped(s, rate, seed=3) for s in steps]  # resumable
    a = [jepa_dropped(s, 0.5, seed=1) for s in range(200)]
    b = [jepa_dropped(s, 0.5, seed=2) for s in range(200)]
    assert a != b
    with pytest.raises(ValueError, match="loss_dropout"):
        jepa_dropped(0, 1.5)
