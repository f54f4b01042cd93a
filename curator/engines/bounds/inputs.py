"""Input sets: an ℓp ball (p ∈ {∞, 2, 1}) around ``x0`` intersected with the [0, 1] box.

Every ℓp ball of radius ε (p ≥ 1) lies inside the ℓ∞ ball of the same radius, so the set's
coordinate-wise bounding box is ``[max(x0 - ε, 0), min(x0 + ε, 1)]`` for all three norms; for ℓ∞
the set *is* that box. A linear function ``a · x`` over the set is bounded below by two sound
quantities and we take the larger:

* the box bound ``Σ_i min(a_i lo_i, a_i hi_i)`` (exact for ℓ∞);
* the dual-norm bound ``a · x0 - ε ‖a‖_q`` with ``1/p + 1/q = 1`` (exact for ℓ2/ℓ1 balls
  when the box constraint is inactive).

Better, and used: for ℓ1 the exact minimum over ball ∩ box (a fractional knapsack, solved by a greedy
rule), for ℓ2 a Lagrangian dual bound over ball ∩ box that is tight at its optimal multiplier.
"""

from __future__ import annotations

import torch

NORMS = ("linf", "l2", "l1")


def check_norm(norm: str) -> str:
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; expected one of {', '.join(NORMS)}")
    return norm


def input_box(x0: torch.Tensor, eps: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Coordinate-wise bounding box of ``B_p(x0, eps) ∩ [0, 1]^d`` (the same for every p ≥ 1)."""
    eps_t = _eps_like(x0, eps)
    return (x0 - eps_t).clamp(0.0, 1.0), (x0 + eps_t).clamp(0.0, 1.0)


def _eps_like(x0: torch.Tensor, eps: float | torch.Tensor) -> torch.Tensor:
    """``eps`` as a tensor broadcasting against ``x0`` (a scalar or one radius per sample)."""
    e = torch.as_tensor(eps, dtype=x0.dtype, device=x0.device)
    if e.ndim == 1:
        e = e.reshape(-1, *([1] * (x0.dim() - 1)))
    return e


def concretize_lower(A: torch.Tensor, x0: torch.Tensor, norm: str, eps: float | torch.Tensor) -> torch.Tensor:
    """Lower bound of ``A[b, s] · x`` over the input set of sample ``b``: shape ``[B, S]``.

    ``A`` is ``[B, S, *input_shape]`` (or ``[1, S, ...]``, shared by the batch) and ``x0`` is ``[B, *input_shape]``.
    ℓ∞: the box bound (exact). ℓ1: the exact minimum over ball ∩ box (:func:`_l1_exact`). ℓ2: the best of
    the box bound, the dual-norm bound and the Lagrangian dual bound of :func:`_l2_dual` (all sound).
    """
    check_norm(norm)
    B, S = x0.shape[0], A.shape[1]
    a = A.expand(B, *A.shape[1:]).reshape(B, S, -1)
    lo, hi = input_box(x0, eps)
    return concretize_rows(a, x0.reshape(B, 1, -1), lo.reshape(B, 1, -1), hi.reshape(B, 1, -1), norm, eps)


def concretize_rows(a: torch.Tensor, x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, norm: str, eps) -> torch.Tensor:
    """:func:`concretize_lower` on flattened rows: ``a`` ``[B, S, d]``; centre ``x`` and box ``[lo, hi]``
    ``[B, 1 or S, d]`` (one per row when each row sees its own window of the input, as patches do).

    A coordinate of a row's window outside the input (zero padding) must have ``x = lo = hi = 0``:
    it then adds nothing to any of the bounds, which are those of the coordinates that remain — the
    projection of an ℓp ball onto a subset of coordinates is the ℓp ball of the same radius there.
    """
    if lo.shape[1] == 1:  # one box for every row: matrix products
        box = (a.clamp(min=0).bmm(lo.transpose(1, 2)) + a.clamp(max=0).bmm(hi.transpose(1, 2))).squeeze(-1)
    else:
        box = (a.clamp(min=0) * lo + a.clamp(max=0) * hi).sum(-1)
    if norm == "linf":
        return box
    center = a.bmm(x.transpose(1, 2)).squeeze(-1) if x.shape[1] == 1 else (a * x).sum(-1)
    e = torch.as_tensor(eps, dtype=x.dtype, device=x.device)
    e = e.reshape(-1, 1) if e.ndim == 1 else e.reshape(1, 1)
    if norm == "l1":
        return torch.maximum(box, center + _l1_exact(a, x, lo, hi, e))
    dual = center - e * a.norm(p=2, dim=-1)
    return torch.maximum(torch.maximum(box, dual), center + _l2_dual(a, x, lo, hi, e))


def _l1_exact(a, x, lo, hi, e) -> torch.Tensor:
    """``min a·δ`` s.t. ``‖δ‖_1 ≤ ε`` and ``lo ≤ x + δ ≤ hi``: a fractional knapsack, solved exactly
    by the greedy rule — spend the ℓ1 budget on coordinates in order of decreasing ``|a_i|``, each
    up to its room in the box in the direction ``−sign(a_i)``."""
    room = torch.where(a > 0, x - lo, hi - x)  # [B, S, d]
    mag = a.abs()
    order = mag.argsort(dim=-1, descending=True)
    mag_s, room_s = mag.gather(-1, order), room.gather(-1, order)
    spent_before = room_s.cumsum(-1) - room_s
    amount = torch.minimum((e.unsqueeze(-1) - spent_before).clamp(min=0), room_s)
    return -(mag_s * amount).sum(-1)


def _l2_dual(a, x, lo, hi, e, iterations: int = 30) -> torch.Tensor:
    """A lower bound on ``min a·δ`` s.t. ``‖δ‖_2² ≤ ε²`` and ``lo ≤ x + δ ≤ hi`` by weak duality:
    for every ``λ > 0``, ``g(λ) = Σ_i min_{l_i ≤ δ_i ≤ h_i} (a_i δ_i + λ δ_i²) − λ ε²`` is a lower bound
    (the minimiser is ``δ_i = clip(−a_i / 2λ, l_i, h_i)``). ``λ`` is searched by bisection for
    ``‖δ(λ)‖ = ε``, where the bound is tight; whatever ``λ`` the search ends at, ``g(λ)`` stays sound."""
    d_lo, d_hi = lo - x, hi - x  # bounds on δ (the l_i, h_i above): [B, 1 or S, d]
    e2 = (e * e).unsqueeze(-1)  # [B or 1, 1, 1]
    lam_hi = (a.norm(dim=-1, keepdim=True) / (2 * e.unsqueeze(-1)).clamp(min=1e-12)).clamp(min=1e-20)
    lam_lo = lam_hi * 1e-7

    def delta(lam):
        return torch.minimum(torch.maximum(-a / (2 * lam), d_lo), d_hi)

    for _ in range(iterations):  # geometric bisection: the norm of δ(λ) decreases in λ
        mid = (lam_lo.log() / 2 + lam_hi.log() / 2).exp()
        too_long = (delta(mid) ** 2).sum(-1, keepdim=True) > e2
        lam_lo = torch.where(too_long, mid, lam_lo)
        lam_hi = torch.where(too_long, lam_hi, mid)

    def g(lam):
        d = delta(lam)
        return (a * d + lam * d * d).sum(-1, keepdim=True) - lam * e2

    # An overflow can only make a bound useless, never unsound: NaN becomes -inf (no information).
    return torch.nan_to_num(torch.maximum(g(lam_lo), g(lam_hi)), nan=float("-inf")).squeeze(-1)
