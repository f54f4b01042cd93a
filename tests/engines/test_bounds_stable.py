"""BoundedNetwork.bound_stable: CROWN also on the neurons IBP proves stable (what the milp plugin asks for)."""

from __future__ import annotations

import torch
from torch import nn

from curator.engines.bounds import from_module


def test_bound_stable_ranges_are_tighter_and_sound_and_margins_no_looser():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 4)).eval()
    net = from_module(model, (6,), dtype=torch.float64)
    x, eps, y = torch.rand(3, 6, dtype=torch.float64), 0.15, torch.tensor([0, 1, 2])
    default = net.crown_intermediate(x, "linf", eps)
    margins = net.margin_lower_bounds(x, y, "linf", eps)
    net.bound_stable = True
    every = net.crown_intermediate(x, "linf", eps)
    assert any(bool((e[1] < d[1] - 1e-9).any()) for e, d in zip(every, default, strict=True))  # some stable range narrows
    for (el, eu), (dl, du) in zip(every, default, strict=True):
        assert bool((el >= dl - 1e-12).all() and (eu <= du + 1e-12).all())
        assert bool((((el < 0) & (eu > 0)) <= ((dl < 0) & (du > 0))).all())  # no neuron becomes unstable
    pts = (x[:, None, :] + (torch.rand(3, 4000, 6, dtype=torch.float64) * 2 - 1) * eps).clamp(0, 1)
    with torch.no_grad():
        pre = net.pre_activations(pts.reshape(-1, 6))
    for z, (el, eu) in zip(pre, every, strict=True):
        z = z.reshape(3, 4000, -1)
        assert bool((z >= el[:, None, :] - 1e-12).all() and (z <= eu[:, None, :] + 1e-12).all())
    finite = torch.isfinite(margins)
    assert bool((net.margin_lower_bounds(x, y, "linf", eps)[finite] >= margins[finite] - 1e-9).all())
