"""curator.engines.pgd and the bundled ``pgd`` attack: projections, feasibility, real witnesses."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from curator.api import ATTACK_STATUSES, VerifyTask
from curator.api.registry import get_registry
from curator.engines.pgd import in_threat_set, margins, pgd, project, project_l1


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(36, 24), nn.ReLU(), nn.Linear(24, 4)).eval()


def test_l1_projection_is_the_closest_point():
    gen = torch.Generator().manual_seed(0)
    v = torch.randn(6, 20, generator=gen)
    eps = torch.full((6,), 1.5)
    w = project_l1(v, eps)
    assert torch.all(w.abs().sum(1) <= 1.5 + 1e-5)
    # optimality: no random point of the ball is closer to v
    for _ in range(200):
        z = torch.randn(6, 20, generator=gen)
        z = z / z.abs().sum(1, keepdim=True) * 1.5 * torch.rand(6, 1, generator=gen)
        assert torch.all((v - w).norm(dim=1) <= (v - z).norm(dim=1) + 1e-5)
    inside = v / v.abs().sum(1, keepdim=True)
    assert torch.allclose(project_l1(inside, eps), inside)


@pytest.mark.parametrize("norm", ["linf", "l2", "l1"])
def test_projection_then_clip_stays_in_the_set(norm):
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(5, 1, 6, 6, generator=gen)
    x[0] = 0.0
    eps = torch.full((5,), 0.7)
    xa = x + 3 * torch.randn(x.shape, generator=gen)
    xa = (x + project(xa - x, norm, eps)).clamp(0, 1)
    assert in_threat_set(xa, x, norm, 0.7).all()


@pytest.mark.parametrize("norm,eps", [("linf", 0.3), ("l2", 2.0), ("l1", 6.0)])
def test_pgd_lowers_the_margin_and_witnesses_replay(norm, eps):
    model = _model(2)
    x = torch.rand(16, 1, 6, 6, generator=torch.Generator().manual_seed(2))
    y = model(x).argmax(1)
    res = pgd(model, x, y, norm, eps, steps=30, restarts=2, seed=0)
    with torch.no_grad():
        clean = margins(model(x), y)
        replay = margins(model(res.witness), y)
    assert torch.allclose(replay, res.margin, atol=1e-5)
    assert (res.margin <= clean + 1e-6).all()
    assert (res.margin < clean - 1e-3).any()
    assert in_threat_set(res.witness, x, norm, eps).all()


@pytest.mark.parametrize("norm,eps", [("linf", 0.3), ("l2", 2.0), ("l1", 6.0)])
def test_attack_plugin_statuses_and_witnesses(norm, eps):
    model = _model(3)
    x = torch.rand(20, 1, 6, 6, generator=torch.Generator().manual_seed(3))
    y = model(x).argmax(1)
    y[:3] = (y[:3] + 1) % 4  # three samples are misclassified from the start
    seen = []
    task = VerifyTask(model=model, inputs=x, labels=y, indices=list(range(100, 120)), norm=norm, radius=eps,
                      params={"steps": 30, "restarts": 2, "batch_size": 8}, num_classes=4, progress=seen.append)
    res = get_registry().verifier("pgd").verify(task)
    assert sum(seen) == 20 and [r.index for r in res] == list(range(100, 120))
    assert all(r.status in ATTACK_STATUSES for r in res)
    assert [r.status for r in res[:3]] == ["misclassified"] * 3
    broken = [r for r in res if r.status == "broken"]
    assert broken
    for i, r in enumerate(res):
        if r.status in ("broken", "misclassified"):
            w = r.extra["witness"]
            assert w.shape == x[i].shape
            with torch.no_grad():
                assert int(model(w[None]).argmax(1)) != int(y[i])
            assert in_threat_set(w[None], x[i : i + 1], norm, eps).all()
            assert r.extra["margin"] < 0


def test_attack_plugin_times_out():
    model = _model(4)
    x = torch.rand(3, 1, 6, 6)
    y = model(x).argmax(1)
    task = VerifyTask(model=model, inputs=x, labels=y, indices=[0, 1, 2], norm="linf", radius=0.01,
                      params={}, num_classes=4, time_limit=1e-9)
    assert {r.status for r in get_registry().verifier("pgd").verify(task)} == {"timeout"}
