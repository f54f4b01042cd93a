"""The fast paths of curator.engines.bounds against the dense reference CROWN: the patches pass for conv
layers and skipping CROWN where IBP is exact give the same bounds (to 1e-5); IBP from tightened
bounds is never looser; α-CROWN is never looser than CROWN and stays sound."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from curator.engines.bounds import from_module
from curator.engines.layers import Normalize
from mnist_idx import mnist_test, wong_kolter_model

NORM_EPS = [("linf", 0.05), ("l2", 0.5), ("l1", 1.0)]
TOL = 1e-5


def _net(model, shape, patches=True, skip_exact=True, tighten_ibp=False):
    net = from_module(model, shape)
    net.patches, net.skip_exact, net.tighten_ibp = patches, skip_exact, tighten_ibp
    return net


def _reference(model, shape):
    return _net(model, shape, patches=False, skip_exact=False, tighten_ibp=False)


def _random_conv(seed: int, variant: str) -> tuple[nn.Sequential, tuple[int, int, int]]:
    torch.manual_seed(seed)
    if variant == "stride-pad":
        layers = [nn.Conv2d(2, 6, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(6, 8, 4, stride=2, padding=2),
                  nn.ReLU(), nn.Conv2d(8, 4, 3, stride=1, padding=0), nn.ReLU()]
        shape = (2, 13, 13)
    elif variant == "dilation-groups":
        layers = [nn.Conv2d(2, 4, 3, padding=2, dilation=2), nn.ReLU(), nn.Conv2d(4, 8, 3, stride=2, groups=2),
                  nn.ReLU(), nn.Conv2d(8, 6, 2, stride=1, padding=1), nn.ReLU()]
        shape = (2, 11, 11)
    else:  # per-channel ops and average pooling inside the conv chain, an even map
        bn = nn.BatchNorm2d(5)
        bn.running_mean.uniform_(-0.3, 0.3)
        bn.running_var.uniform_(0.5, 2.0)
        layers = [Normalize([0.5, 0.4], [0.3, 0.2]), nn.Conv2d(2, 5, 5, stride=3, padding=2), bn, nn.ReLU(),
                  nn.AvgPool2d(2), nn.Conv2d(5, 6, 3, padding=1), nn.ReLU()]
        shape = (2, 12, 12)
    body = nn.Sequential(*layers).eval()
    with torch.no_grad():
        flat = body(torch.zeros(1, *shape)).numel()
    return nn.Sequential(body, nn.Flatten(), nn.Linear(flat, 12), nn.ReLU(), nn.Linear(12, 4)).eval(), shape


def _assert_same(fast, ref, x, labels, norm, eps):
    with torch.no_grad():
        for (fl, fu), (rl, ru) in zip(fast.crown_intermediate(x, norm, eps), ref.crown_intermediate(x, norm, eps), strict=True):
            assert (fl - rl).abs().max() <= TOL and (fu - ru).abs().max() <= TOL
        a = fast.margin_lower_bounds(x, labels, norm, eps)
        b = ref.margin_lower_bounds(x, labels, norm, eps)
    finite = torch.isfinite(b)
    assert torch.equal(finite, torch.isfinite(a))
    assert (a[finite] - b[finite]).abs().max() <= TOL


@pytest.mark.parametrize("variant", ["stride-pad", "dilation-groups", "channel-pool"])
@pytest.mark.parametrize("norm,eps", NORM_EPS)
def test_patches_equal_the_dense_pass_on_random_conv_nets(variant, norm, eps):
    model, shape = _random_conv(3, variant)
    fast = _net(model, shape)
    assert any(fast._patch_chain(k) for k in range(len(fast.nodes)))  # the patches pass is really taken
    x = torch.rand(3, *shape)
    labels = model(x).argmax(1)
    _assert_same(fast, _reference(model, shape), x, labels, norm, eps)


def test_patches_equal_the_dense_pass_in_small_chunks_and_float64():
    model, shape = _random_conv(5, "stride-pad")
    x = torch.rand(2, *shape, dtype=torch.float64)
    fast = _net(model, shape).to("cpu", torch.float64)
    fast.element_budget = 3000  # many chunks share the unfolded slopes
    ref = _reference(model, shape).to("cpu", torch.float64)
    _assert_same(fast, ref, x, model(x.float()).argmax(1), "linf", 0.05)


def test_patches_equal_the_dense_pass_on_wong_kolter(shared):
    model = wong_kolter_model(shared)
    x, _ = mnist_test(shared, 4)
    _assert_same(_net(model, (1, 28, 28)), _reference(model, (1, 28, 28)), x, model(x).argmax(1), "linf", 0.1)


@pytest.mark.parametrize("norm,eps", [("l2", 1.0), ("l1", 4.0)])
def test_ibp_is_not_taken_as_exact_for_l2_l1_balls(shared, norm, eps):
    # One affine layer over an ℓ2/ℓ1 ball ∩ box: CROWN is tighter than the box's IBP, so no shortcut.
    model = wong_kolter_model(shared)
    net = _net(model, (1, 28, 28))
    x, _ = mnist_test(shared, 2)
    assert net._ibp_exact_nodes(norm) == set() and 1 in net._ibp_exact_nodes("linf")
    with torch.no_grad():
        (cl, cu), (il, iu) = net.crown_intermediate(x, norm, eps)[0], net.ibp(x, norm, eps)[0]
    assert (cl > il + 1e-3).any() and (cu <= iu + TOL).all()


def _vnn_256x4(shared):
    from curator.engines.onnx import onnx_to_torch

    path = shared / "artifacts/vnncomp2022-mnist_fc/onnx/mnist-net_256x4.onnx.gz"
    return onnx_to_torch(path, input_shape=(1, 28, 28))


@pytest.mark.parametrize("which", ["wong-kolter", "mnist_fc-256x4"])
def test_tightened_ibp_is_never_looser(shared, which):
    model = wong_kolter_model(shared) if which == "wong-kolter" else _vnn_256x4(shared)
    eps = 0.1 if which == "wong-kolter" else 0.03
    x, _ = mnist_test(shared, 8)
    old = _net(model, (1, 28, 28), tighten_ibp=False)
    new = _net(model, (1, 28, 28), tighten_ibp=True)
    labels = model(x).argmax(1)
    with torch.no_grad():
        for (nl, nu), (ol, ou) in zip(new.crown_intermediate(x, "linf", eps), old.crown_intermediate(x, "linf", eps), strict=True):
            assert (nl >= ol - TOL).all() and (nu <= ou + TOL).all()
        a = new.margin_lower_bounds(x, labels, "linf", eps, with_ibp=True)
        b = old.margin_lower_bounds(x, labels, "linf", eps, with_ibp=True)
        plain_ibp = old.margin_lower_bounds(x, labels, "linf", eps, method="ibp")
    finite = torch.isfinite(b)
    assert (a[finite] >= b[finite] - TOL).all() and (a[finite] >= plain_ibp[finite] - TOL).all()


def _tiny(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)).eval()


def test_alpha_crown_never_looser_than_crown_and_below_the_true_minimum():
    """Brute force on a 2-d input: the margin's minimum over a fine grid of the box is an upper bound
    on its true minimum, so a sound lower bound must lie below it."""
    model = _tiny(2)
    net = from_module(model, (2,))
    x = torch.tensor([[0.4, 0.6], [0.5, 0.5], [0.2, 0.7]])
    eps = 0.3
    labels = model(x).argmax(1)
    g = torch.linspace(-eps, eps, 301)
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    gained = 0.0
    with torch.no_grad():
        crown = net.margin_lower_bounds(x, labels, "linf", eps)
        alpha = net.margin_lower_bounds(x, labels, "linf", eps, alpha={"iterations": 40, "lr": 0.2})
        for b in range(len(x)):
            pts = (x[b] + grid).clamp(0, 1)
            out = model(pts)
            margins = out[:, labels[b]].unsqueeze(1) - out  # [P, K]
            true_min = margins.min(0).values
            for j in range(3):
                if j == int(labels[b]):
                    continue
                assert alpha[b, j] >= crown[b, j] - 1e-6
                assert alpha[b, j] <= true_min[j] + 1e-5, (b, j, float(alpha[b, j]), float(true_min[j]))
                gained = max(gained, float(alpha[b, j] - crown[b, j]))
    assert gained > 1e-3  # the optimisation really moves the bound


def test_alpha_crown_certificates_agree_with_milp_and_pgd(shared):
    from curator.api import VerifyTask
    from curator.api.registry import get_registry

    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 24), nn.ReLU(), nn.Linear(24, 24), nn.ReLU(),
                          nn.Linear(24, 10)).eval()
    x, _ = mnist_test(shared, 12)
    y = model(x).argmax(1)  # robustness of the network's own prediction
    reg = get_registry()
    found = {"crown": 0, "alpha": 0}
    for eps in (0.002, 0.006):
        def task(params, radius=eps):
            return VerifyTask(model=model, inputs=x, labels=y, indices=list(range(len(y))), norm="linf",
                              radius=radius, params=params, num_classes=10, time_limit=60)

        crown = reg.verifier("crown").verify(task({}))
        alpha = reg.verifier("crown").verify(task({"alpha_iterations": 30, "alpha_lr": 0.2}))
        milp = reg.verifier("milp").verify(task({}))
        pgd = reg.verifier("pgd").verify(task({}))
        for c, a, m, p in zip(crown, alpha, milp, pgd, strict=True):
            assert a.extra["margin_lower_bound"] >= c.extra["margin_lower_bound"] - 1e-6
            if a.status == "certified":
                assert m.status == "certified" and p.status != "attacked", (eps, a.index)
            found["crown"] += c.status == "certified"
            found["alpha"] += a.status == "certified"
    assert found["alpha"] >= found["crown"] > 0, found
