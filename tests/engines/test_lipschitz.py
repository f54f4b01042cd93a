"""curator.engines.lipschitz and the ``lipschitz`` verifier: operator norms against dense matrices, and
the margin bound holds on sampled pairs of points."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from curator.api import VerifyTask
from curator.api.registry import get_registry
from curator.engines.bounds import from_module
from curator.engines.layers import Normalize, Residual
from curator.engines.lipschitz import _dense, margin_lipschitz, operator_norm


def _net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        Normalize([0.5], [0.5]),
        nn.Conv2d(1, 3, 3, stride=2, padding=1), nn.ReLU(),
        Residual(nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.ReLU())),
        nn.AvgPool2d(2), nn.Flatten(), nn.Linear(12, 10), nn.ReLU(), nn.Linear(10, 3),
    ).eval()


@pytest.mark.parametrize("norm", ["linf", "l1", "l2"])
def test_conv_operator_norms_match_the_dense_matrix(norm):
    net = from_module(_net(1), (1, 8, 8))
    for node in net.nodes[1:]:
        if type(node.op).__name__ not in ("BoundConv2d", "BoundLinear"):
            continue
        shape = net.nodes[node.inputs[0]].shape
        M = _dense(node.op, shape)
        exact = {"linf": M.abs().sum(1).max(), "l1": M.abs().sum(0).max(),
                 "l2": torch.linalg.matrix_norm(M, ord=2)}[norm]
        got = operator_norm(node.op, shape, node.shape, norm)
        assert float(exact) <= got <= float(exact) * (1 + 1e-5)
        if norm == "l2":
            est = operator_norm(node.op, shape, node.shape, "l2", method="power", iterations=500, safety=0.0)
            assert abs(est - float(exact)) <= 1e-3 * float(exact)


@pytest.mark.parametrize("norm", ["linf", "l2", "l1"])
def test_margin_lipschitz_bound_holds_on_sampled_pairs(norm):
    model = _net(2)
    net = from_module(model, (1, 8, 8))
    K = margin_lipschitz(net, norm)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 8, 8, generator=gen)
    d = torch.randn(64, 1, 8, 8, generator=gen) * 0.05
    p = {"linf": float("inf"), "l2": 2.0, "l1": 1.0}[norm]
    with torch.no_grad():
        f0, f1 = model(x).double(), model(x + d).double()
    dist = d.flatten(1).double().norm(p=p, dim=1)
    for y in range(3):
        for j in range(3):
            change = ((f1[:, y] - f1[:, j]) - (f0[:, y] - f0[:, j])).abs()
            assert (change <= K[y, j] * dist + 1e-6).all()


def test_lipschitz_verifier_certifies_a_small_lipschitz_network():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3)).eval()
    with torch.no_grad():
        model[1].weight.mul_(0.2)
    x = torch.rand(40, 1, 4, 4)
    y = model(x).argmax(1)
    reg = get_registry()
    for norm, radius in (("linf", 0.07), ("l2", 0.45), ("l1", 0.5)):
        task = VerifyTask(model=model, inputs=x, labels=y, indices=list(range(40)), norm=norm, radius=radius,
                          params={}, num_classes=3)
        res = reg.verifier("lipschitz").verify(task)
        certified = [r for r in res if r.status == "certified"]
        assert certified and len(certified) < 40
        # A Lipschitz certificate is a proof, so the attack cannot break it, and crown (tighter) agrees.
        pgd = reg.verifier("pgd").verify(task)
        crown = reg.verifier("crown").verify(task)
        for r, a, c in zip(res, pgd, crown, strict=True):
            if r.status == "certified":
                assert a.status == "not_broken" and c.status == "certified"


def test_constants_are_reused_per_model_and_renewed_when_weights_change():
    import copy

    from curator_plugins.lipschitz import _CONSTANTS

    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3)).eval()
    x = torch.rand(30, 1, 4, 4)
    y = model(x).argmax(1)
    lip = get_registry().verifier("lipschitz")

    def slack(m):
        task = VerifyTask(model=m, inputs=x, labels=y, indices=list(range(30)), norm="l2", radius=0.05,
                          params={}, num_classes=3)
        return [r.extra["margin_slack"] for r in lip.verify(task)]

    first = slack(model)
    assert slack(model) == first and len(_CONSTANTS[model][1]) == 1
    with torch.no_grad():  # a weight change in place must not reuse the old constant
        model[1].weight.mul_(3.0)
    changed = slack(model)
    assert changed == pytest.approx(slack(copy.deepcopy(model)))
    assert changed != pytest.approx(first)
