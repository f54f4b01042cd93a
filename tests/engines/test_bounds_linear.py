"""BoundedNetwork.linear_lower_bound: CROWN's bound as a linear function of the input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from curator.engines.bounds import concretize_lower, from_module


@pytest.mark.parametrize("norm", ["linf", "l2", "l1"])
def test_linear_bound_holds_on_the_input_set_and_concretizes_to_crown(norm):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    net = from_module(model, (5,))
    x = torch.rand(2, 5)
    eps = 0.3
    C = torch.randn(2, 4, 3)
    A, b = net.linear_lower_bound(x, C, norm, eps)
    assert A.shape == (2, 4, 5) and b.shape == (2, 4)
    crown = net.spec_lower_bounds(x, C, norm, eps)
    torch.testing.assert_close(concretize_lower(A, x, norm, eps) + b, crown, rtol=0, atol=1e-5)
    # Points of the set (for l2/l1: inside the ball ∩ [0, 1]) never fall below the linear bound.
    delta = torch.rand(2, 2000, 5) * 2 - 1
    delta = delta * eps / delta.norm(p={"linf": float("inf"), "l2": 2, "l1": 1}[norm], dim=-1, keepdim=True).clamp(min=1)
    pts = (x[:, None, :] + delta).clamp(0, 1)
    with torch.no_grad():
        values = torch.einsum("bsk,bnk->bns", C, model(pts))
    linear = torch.einsum("bsd,bnd->bns", A, pts) + b[:, None, :]
    assert bool((values >= linear - 1e-5).all())
