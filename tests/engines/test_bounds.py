"""Soundness of curator.engines.bounds: real values at sampled points of the input set always lie inside."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from curator.api import VerifyTask
from curator.engines.bounds import UnsupportedLayerError, from_module
from curator.engines.bounds.certify import bounded_network
from curator.engines.layers import Normalize, Residual

NORM_EPS = [("linf", 0.08), ("l2", 0.6), ("l1", 1.5)]


def _conv_net(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    bn = nn.BatchNorm2d(4)
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 2.0)
    bn.weight.data.uniform_(-1.0, 1.0)
    bn.bias.data.uniform_(-0.2, 0.2)
    body = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding="same"))
    return nn.Sequential(
        Normalize([0.4], [0.3]),
        nn.Conv2d(1, 4, 3, stride=2, padding=1),
        bn,
        nn.ReLU(),
        Residual(body),
        nn.ReLU(),
        Residual(nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU()), nn.Conv2d(4, 4, 1)),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 16),
        nn.BatchNorm1d(16).eval(),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(16, 5),
    ).eval()


def _mlp(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Identity(), nn.Linear(32, 4)
    ).eval()


def _points(x: torch.Tensor, norm: str, eps: float, n: int, gen: torch.Generator) -> torch.Tensor:
    """``n`` points per sample of the ball ∩ [0,1] box: random directions on the sphere, random
    radii, the box's corners (ℓ∞) and sparse vertices (ℓ1), all clipped to [0, 1]."""
    B = x.shape[0]
    d = torch.randn(n, *x.shape, generator=gen)
    flat = d.reshape(n, B, -1)
    if norm == "linf":
        flat = flat.sign() * eps  # corners of the ℓ∞ ball
    elif norm == "l2":
        flat = flat / flat.norm(dim=-1, keepdim=True) * eps
    else:
        # half on ℓ1-ball vertices (a single coordinate moved by ±eps), half spread out
        k = flat.abs().argmax(-1, keepdim=True)
        vertex = torch.zeros_like(flat).scatter(-1, k, eps * flat.gather(-1, k).sign())
        spread = flat / flat.abs().sum(-1, keepdim=True) * eps
        flat = torch.where(torch.arange(n).reshape(n, 1, 1) % 2 == 0, vertex, spread)
    scale = torch.rand(n, B, 1, generator=gen).pow(0.25)
    scale[: n // 4] = 1.0
    return (x.unsqueeze(0) + (flat * scale).reshape(n, *x.shape)).clamp(0, 1)


def _check_sound(model, input_shape, norm, eps, seed=0, n=300, tol=1e-4):
    gen = torch.Generator().manual_seed(seed)
    net = from_module(model, input_shape)
    x = torch.rand(4, *input_shape, generator=gen)
    x[0] = (x[0] > 0.5).float()  # a sample on the box's corners, where clipping bites hardest
    with torch.no_grad():
        assert torch.allclose(net(x), model(x), atol=1e-5)
        labels = model(x).argmax(1)
        pts = _points(x, norm, eps, n, gen)
        outs = model(pts.reshape(-1, *input_shape)).reshape(n, 4, -1)
        margins = outs.gather(2, labels.reshape(1, 4, 1).expand(n, 4, 1)) - outs
        worst = margins.min(0).values
        pre = [net.pre_activations(p) for p in pts]
        for method, inter in [("ibp", "ibp"), ("crown", "ibp"), ("crown", "crown")]:
            lb = net.margin_lower_bounds(x, labels, norm, eps, method=method, intermediate=inter)
            assert lb.shape == worst.shape
            off = torch.eye(worst.shape[1], dtype=torch.bool)[labels]
            assert torch.isinf(lb[off]).all()
            assert (lb[~off] <= worst[~off] + tol).all(), (method, inter, (lb - worst)[~off].max())
        for bounds in (net.ibp(x, norm, eps), net.crown_intermediate(x, norm, eps)):
            assert len(bounds) == len(net.relu_nodes)
            for layer, (lo, hi) in enumerate(bounds):
                zs = torch.stack([p[layer] for p in pre])
                assert (lo <= hi).all()
                assert (zs >= lo - tol).all() and (zs <= hi + tol).all()
    return net, x, labels


@pytest.mark.parametrize("norm,eps", NORM_EPS)
@pytest.mark.parametrize("seed", [0, 1])
def test_conv_residual_net_bounds_are_sound(norm, eps, seed):
    _check_sound(_conv_net(seed), (1, 16, 16), norm, eps, seed=seed)


@pytest.mark.parametrize("norm,eps", NORM_EPS)
def test_mlp_bounds_are_sound_and_crown_is_tighter_than_ibp(norm, eps):
    model = _mlp(3)
    net, x, labels = _check_sound(model, (1, 8, 8), norm, eps / 4, seed=3)
    ibp_lb = net.margin_lower_bounds(x, labels, norm, eps / 4, method="ibp")
    crown_lb = net.margin_lower_bounds(x, labels, norm, eps / 4, method="crown")
    finite = torch.isfinite(ibp_lb)
    # Not a theorem for every network, but on a small random MLP CROWN is far tighter.
    assert crown_lb[finite].mean() > ibp_lb[finite].mean()
    for (cl, cu), (il, iu) in zip(net.crown_intermediate(x, norm, eps / 4), net.ibp(x, norm, eps / 4), strict=True):
        assert (cl >= il).all() and (cu <= iu).all()  # intersected with IBP by construction


def test_zero_radius_bounds_are_the_exact_margins():
    model = _conv_net(5)
    net = from_module(model, (1, 16, 16))
    x = torch.rand(3, 1, 16, 16)
    with torch.no_grad():
        out = model(x)
    labels = out.argmax(1)
    lb = net.margin_lower_bounds(x, labels, "linf", 0.0)
    exact = out.gather(1, labels[:, None]) - out
    mask = torch.isfinite(lb)
    assert torch.allclose(lb[mask], exact[mask], atol=1e-4)


def test_per_sample_radius_tensor():
    model = _mlp(4)
    net = from_module(model, (1, 8, 8))
    x = torch.rand(2, 1, 8, 8)
    labels = model(x).argmax(1)
    both = net.margin_lower_bounds(x, labels, "l2", torch.tensor([0.0, 0.5]))
    first = net.margin_lower_bounds(x[:1], labels[:1], "l2", 0.0)
    second = net.margin_lower_bounds(x[1:], labels[1:], "l2", 0.5)
    assert torch.allclose(both, torch.cat([first, second]))


def test_chunked_specification_gives_the_same_bounds():
    model = _conv_net(6)
    net = from_module(model, (1, 16, 16))
    x = torch.rand(2, 1, 16, 16)
    labels = model(x).argmax(1)
    ref = net.margin_lower_bounds(x, labels, "linf", 0.03)
    net.element_budget = 5000  # forces many small row chunks
    assert torch.allclose(net.margin_lower_bounds(x, labels, "linf", 0.03), ref, atol=1e-5)


def test_unsupported_layer_is_named():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2))
    with pytest.raises(UnsupportedLayerError, match=r"2 \(Tanh\)"):
        from_module(model, (4,))
    with pytest.raises(UnsupportedLayerError, match="MaxPool2d"):
        from_module(nn.Sequential(nn.MaxPool2d(2)), (1, 4, 4))


def test_bad_norm_and_shape_are_rejected():
    net = from_module(_mlp(0), (1, 8, 8))
    with pytest.raises(ValueError, match="norm"):
        net.ibp(torch.rand(1, 1, 8, 8), "l3", 0.1)
    with pytest.raises(ValueError, match="shape"):
        net.ibp(torch.rand(1, 64), "linf", 0.1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    model = _conv_net(7)
    net = from_module(model, (1, 16, 16))
    x = torch.rand(3, 1, 16, 16)
    labels = model(x).argmax(1)
    ref = net.margin_lower_bounds(x, labels, "linf", 0.02)
    net.to("cuda")
    got = net.margin_lower_bounds(x.cuda(), labels.cuda(), "linf", 0.02).cpu()
    mask = torch.isfinite(ref)
    assert torch.allclose(got[mask], ref[mask], atol=1e-3)


@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_input_set_concretization_is_the_exact_minimum_over_ball_and_box(norm):
    """For a linear function the engine's bound over ℓp-ball ∩ box equals the true minimum (ℓ1: an
    LP solved by scipy's HiGHS; ℓ2: a feasible point that attains it) and beats both simple bounds."""
    from scipy.optimize import linprog

    from curator.engines.bounds.inputs import concretize_lower

    gen = torch.Generator().manual_seed(0)
    d = 12
    x0 = torch.rand(3, d, generator=gen, dtype=torch.float64)
    x0[0, :6] = 0.0  # on the box's faces
    A = torch.randn(3, 4, d, generator=gen, dtype=torch.float64)
    eps = 0.9
    got = concretize_lower(A, x0, norm, eps)
    lo, hi = (x0 - eps).clamp(0, 1), (x0 + eps).clamp(0, 1)
    for b in range(3):
        for s in range(4):
            a = A[b, s]
            if norm == "l1":
                # variables δ+ ≥ 0, δ- ≥ 0: min a·(δ+ − δ-) s.t. Σ δ+ + δ- ≤ ε, lo ≤ x0 + δ+ − δ- ≤ hi
                c = torch.cat([a, -a]).numpy()
                bounds = [(0, float(hi[b, i] - x0[b, i])) for i in range(d)] + [
                    (0, float(x0[b, i] - lo[b, i])) for i in range(d)]
                res = linprog(c, A_ub=[[1.0] * (2 * d)], b_ub=[eps], bounds=bounds, method="highs")
                exact = float(a @ x0[b]) + res.fun
                assert abs(float(got[b, s]) - exact) < 1e-6
            else:
                # a feasible point: δ(t) = clip(−t a) into the box, t bisected until ‖δ(t)‖ = ε;
                # its value upper-bounds the minimum. a and the box are bound as defaults so that delta reads
                # this iteration's values by construction, not by when it happens to be called.
                def delta(t, a=a, box_lo=lo[b] - x0[b], box_hi=hi[b] - x0[b]):
                    return torch.minimum(torch.maximum(-t * a, box_lo), box_hi)

                t_lo, t_hi = 0.0, 1e6
                for _ in range(200):
                    t_mid = (t_lo + t_hi) / 2
                    t_lo, t_hi = (t_mid, t_hi) if delta(t_mid).norm() <= eps else (t_lo, t_mid)
                best = float(a @ (x0[b] + delta(t_lo)))
                assert float(got[b, s]) <= best + 1e-9
                assert best - float(got[b, s]) < 1e-3 * max(1.0, abs(best))
            box = float(a.clamp(min=0) @ lo[b] + a.clamp(max=0) @ hi[b])
            dual = float(a @ x0[b]) - eps * float(a.norm(p=2 if norm == "l2" else float("inf")))
            assert float(got[b, s]) >= max(box, dual) - 1e-9


def test_element_budget_follows_the_device():
    from curator.engines.bounds.network import CPU_ELEMENT_BUDGET, DEFAULT_ELEMENT_BUDGET, element_budget_for

    assert element_budget_for("cpu") == CPU_ELEMENT_BUDGET < DEFAULT_ELEMENT_BUDGET
    assert element_budget_for("cuda:0") == DEFAULT_ELEMENT_BUDGET
    model = _conv_net(6)
    x = torch.rand(3, 1, 16, 16)
    task = VerifyTask(model=model, inputs=x, labels=model(x).argmax(1), indices=[0, 1, 2], norm="linf", radius=0.02,
                      params={}, num_classes=int(model(x).shape[1]))
    assert bounded_network(task).element_budget == CPU_ELEMENT_BUDGET
