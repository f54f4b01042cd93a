"""Softplus in the bound engine: the lines and intervals must contain the function everywhere."""

import pytest
import torch
from torch import nn

from curator.engines.bounds import from_module
from curator.engines.bounds.ops import BoundSoftplus


@pytest.mark.parametrize("beta,threshold", [(1.0, 20.0), (2.0, 20.0), (0.5, 5.0), (10.0, 1.0)])
def test_relaxation_lines_contain_softplus_on_random_intervals(beta, threshold):
    torch.manual_seed(0)
    op = BoundSoftplus([(200,)], (200,), beta, threshold)
    lo = torch.randn(1, 200, dtype=torch.float64) * 10
    hi = lo + torch.rand(1, 200, dtype=torch.float64) * torch.tensor([1e-8, 1e-3, 1.0, 30.0]).repeat(50)
    t = torch.linspace(0, 1, 401, dtype=torch.float64).view(-1, 1, 1)
    z = lo + t * (hi - lo)  # [401, 1, 200] dense points of every interval
    f = nn.Softplus(beta, threshold)(z)
    lo_s, lo_i, up_s, up_i = op.relaxation(lo, hi)
    assert bool((lo_s * z + lo_i <= f + 1e-12).all())
    assert bool((up_s * z + up_i >= f - 1e-12).all())
    l_ibp, u_ibp = op.ibp((lo, hi))
    assert bool((f >= l_ibp - 1e-12).all()) and bool((f <= u_ibp + 1e-12).all())


def _net(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(6, 12), nn.Softplus(), nn.Linear(12, 8), nn.Softplus(beta=3.0),
                         nn.Linear(8, 4)).double().eval()


@pytest.mark.parametrize("norm", ["linf", "l2", "l1"])
@pytest.mark.parametrize("method", ["ibp", "crown"])
def test_margin_bounds_hold_on_dense_samples(norm, method):
    for seed in range(3):
        model = _net(seed)
        net = from_module(model, (1, 6), dtype=torch.float64)
        x = torch.rand(4, 1, 6, dtype=torch.float64)
        eps = 0.3
        labels = model(x).argmax(1)
        lb = net.margin_lower_bounds(x, labels, norm, eps, method=method)
        gen = torch.Generator().manual_seed(seed)
        d = torch.randn(4000, 1, 6, generator=gen, dtype=torch.float64)
        if norm == "linf":
            d = torch.rand(4000, 1, 6, generator=gen, dtype=torch.float64) * 2 - 1
            d[:200] = d[:200].sign()  # the corners, where a box's extremes of a near-linear net are
        elif norm == "l2":
            d = d / d.flatten(1).norm(dim=1).view(-1, 1, 1) * torch.rand(4000, 1, 1, generator=gen, dtype=torch.float64) ** (1 / 6)
        else:
            d = d / d.flatten(1).abs().sum(1).view(-1, 1, 1) * torch.rand(4000, 1, 1, generator=gen, dtype=torch.float64)
        for b in range(4):
            xs = (x[b] + eps * d).clamp(0, 1)
            out = model(xs)
            margins = out[:, labels[b]].unsqueeze(1) - out
            others = [j for j in range(4) if j != int(labels[b])]
            assert bool((margins[:, others] >= lb[b, others] - 1e-9).all()), (seed, b)


def test_crown_is_tighter_than_ibp_on_a_softplus_net():
    model = _net(1)
    net = from_module(model, (1, 6), dtype=torch.float64)
    x = torch.rand(8, 1, 6, dtype=torch.float64)
    labels = model(x).argmax(1)
    ib = net.margin_lower_bounds(x, labels, "linf", 0.05, method="ibp")
    cr = net.margin_lower_bounds(x, labels, "linf", 0.05, method="crown")
    finite = torch.isfinite(ib)
    assert bool((cr[finite] >= ib[finite] - 1e-9).mean(dtype=torch.float64) > 0.5)
    assert float((cr[finite] - ib[finite]).mean()) > 0


def test_softplus_converts_with_its_beta_and_threshold():
    model = nn.Sequential(nn.Linear(3, 3), nn.Softplus(beta=2.0, threshold=7.0))
    net = from_module(model, (3,))
    op = net.nodes[-1].op
    assert isinstance(op, BoundSoftplus) and (op.beta, op.threshold) == (2.0, 7.0)
    x = torch.randn(5, 3)
    assert torch.allclose(net(x), model(x))


def test_lipschitz_constant_of_a_softplus_net_bounds_its_slopes():
    from curator.engines.lipschitz import lipschitz_constants

    model = _net(2)
    net = from_module(model, (1, 6), dtype=torch.float64)
    L = lipschitz_constants(net, "l2")[-1]
    a, b = torch.rand(500, 1, 6, dtype=torch.float64), torch.rand(500, 1, 6, dtype=torch.float64)
    ratio = (model(a) - model(b)).norm(dim=1) / (a - b).flatten(1).norm(dim=1)
    assert float(ratio.max()) <= L
