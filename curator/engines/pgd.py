"""Projected gradient descent on the margin inside ``B_p(x, ε) ∩ [0,1]^d`` (p ∈ {∞, 2, 1}).

An attack proves nothing when it fails; when it succeeds, its witness is a concrete input that
the caller re-executes. Feasibility of every iterate: the step is projected onto the ℓp ball
around ``x`` and then clipped to [0,1]; clipping coordinate i to [0,1] moves it towards ``x_i``
(which lies in [0,1]), so it never increases ``|x'_i − x_i|`` and the point stays in the ball.
ℓ2/ℓ1 projections use a radius shrunk by a relative 1e-6 so that rounding cannot leave the ball.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

SHRINK = 1.0 - 1e-6


@dataclass
class PGDResult:
    witness: torch.Tensor  # [B, *shape]: the lowest-margin point found per sample
    margin: torch.Tensor  # [B]: f_y - max_{j≠y} f_j at the witness (< 0: misclassified)
    timed_out: bool


def margins(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``f_y − max_{j≠y} f_j`` per row."""
    true = logits.gather(1, labels[:, None]).squeeze(1)
    other = logits.clone()
    other.scatter_(1, labels[:, None], float("-inf"))
    return true - other.max(1).values


def project_l1(delta: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Euclidean projection of each row onto the ℓ1 ball of radius ``eps`` (Duchi et al. 2008)."""
    B = delta.shape[0]
    v = delta.reshape(B, -1)
    a = v.abs()
    inside = a.sum(1) <= eps
    u, _ = a.sort(1, descending=True)
    cs = u.cumsum(1)
    ar = torch.arange(1, v.shape[1] + 1, device=v.device, dtype=v.dtype)
    cond = u - (cs - eps[:, None]) / ar > 0
    rho = cond.to(v.dtype).cumsum(1).argmax(1)  # last index where cond holds (cond is a prefix)
    theta = (cs.gather(1, rho[:, None]).squeeze(1) - eps) / (rho + 1).to(v.dtype)
    w = v.sign() * (a - theta[:, None]).clamp(min=0)
    return torch.where(inside[:, None], v, w).reshape(delta.shape)


def project(delta: torch.Tensor, norm: str, eps: torch.Tensor) -> torch.Tensor:
    B = delta.shape[0]
    view = (B,) + (1,) * (delta.dim() - 1)
    if norm == "linf":
        return torch.maximum(torch.minimum(delta, eps.view(view)), -eps.view(view))
    if norm == "l2":
        n = delta.reshape(B, -1).norm(dim=1).clamp(min=1e-30)
        factor = torch.clamp(eps * SHRINK / n, max=1.0)
        return delta * factor.view(view)
    return project_l1(delta, eps * SHRINK)


def random_start(x: torch.Tensor, norm: str, eps: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    B = x.shape[0]
    view = (B,) + (1,) * (x.dim() - 1)
    if norm == "linf":
        d = (torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype) * 2 - 1) * eps.view(view)
    else:
        d = torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)
        if norm == "l1":
            d = d * (torch.rand(x.shape, generator=gen, device=x.device, dtype=x.dtype) < 0.05)
        p = 2 if norm == "l2" else 1
        n = d.reshape(B, -1).norm(p=p, dim=1).clamp(min=1e-30)
        r = torch.rand(B, generator=gen, device=x.device, dtype=x.dtype)
        d = d * (eps * r / n).view(view)
    return (x + project(d, norm, eps)).clamp(0, 1)


def step_direction(grad: torch.Tensor, x_adv: torch.Tensor, norm: str, l1_sparsity: float) -> torch.Tensor:
    """Steepest ascent direction of unit ℓp norm (for ℓ1: the top coordinates that can still move)."""
    B = grad.shape[0]
    view = (B,) + (1,) * (grad.dim() - 1)
    if norm == "linf":
        return grad.sign()
    if norm == "l2":
        return grad / grad.reshape(B, -1).norm(dim=1).clamp(min=1e-30).view(view)
    movable = ~(((grad > 0) & (x_adv >= 1)) | ((grad < 0) & (x_adv <= 0)))
    g = (grad * movable).reshape(B, -1).abs()
    k = max(1, int(l1_sparsity * g.shape[1]))
    thresh = g.topk(k, dim=1).values[:, -1:]
    mask = (g >= thresh) & (g > 0)
    d = grad.reshape(B, -1).sign() * mask
    return (d / mask.sum(1, keepdim=True).clamp(min=1)).reshape(grad.shape)


def pgd(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    norm: str,
    eps: float,
    steps: int = 50,
    restarts: int = 3,
    step_size: float | None = None,
    seed: int = 0,
    deadline: float | None = None,
    l1_sparsity: float = 0.01,
) -> PGDResult:
    """Minimise the margin with ``restarts`` runs of ``steps`` steps (the first run starts at ``x``,
    the others at random points of the set); keeps the lowest-margin point per sample and stops a
    sample's search as soon as it is misclassified. ``deadline`` is a ``time.perf_counter()`` value."""
    device = x.device
    gen = torch.Generator(device=device).manual_seed(int(seed))
    eps_t = torch.full((x.shape[0],), float(eps), device=device, dtype=x.dtype)
    alpha = float(step_size) if step_size is not None else 2.5 * float(eps) / max(1, steps)
    with torch.no_grad():
        best_m = margins(model(x), labels)
    best_x = x.clone()
    timed_out = False
    for r in range(restarts):
        active = best_m >= 0
        if not bool(active.any()):
            break
        idx = active.nonzero().flatten()
        x0, y = x[idx], labels[idx]
        e = eps_t[idx]
        xa = x0.clone() if r == 0 else random_start(x0, norm, e, gen)
        for _ in range(steps):
            if deadline is not None and time.perf_counter() > deadline:
                timed_out = True
                break
            xa.requires_grad_(True)
            m = margins(model(xa), y)
            (grad,) = torch.autograd.grad(-m.sum(), xa)
            with torch.no_grad():
                _keep_best(best_x, best_m, idx, xa.detach(), m.detach())
                xa = xa.detach() + alpha * step_direction(grad, xa.detach(), norm, l1_sparsity)
                xa = (x0 + project(xa - x0, norm, e)).clamp(0, 1)
        with torch.no_grad():
            _keep_best(best_x, best_m, idx, xa.detach(), margins(model(xa.detach()), y))
        if timed_out:
            break
    return PGDResult(best_x, best_m, timed_out)


def _keep_best(best_x, best_m, idx, xa, m):
    better = m < best_m[idx]
    if bool(better.any()):
        sel = idx[better]
        best_x[sel] = xa[better]
        best_m[sel] = m[better]


def in_threat_set(x_adv: torch.Tensor, x: torch.Tensor, norm: str, eps: float, tol: float = 1e-6) -> torch.Tensor:
    """Whether each row of ``x_adv`` lies in ``B_norm(x, eps) ∩ [0,1]^d`` (up to ``tol``)."""
    B = x.shape[0]
    d = (x_adv - x).reshape(B, -1).double()
    p = {"linf": float("inf"), "l2": 2.0, "l1": 1.0}[norm]
    inside_ball = d.norm(p=p, dim=1) <= eps * (1 + tol) + tol
    inside_box = ((x_adv >= 0) & (x_adv <= 1)).reshape(B, -1).all(1)
    return inside_ball & inside_box
