"""Input sets: an ℓp ball (p ∈ {∞, 2, 1}) around ``x0`` intersected with the [0, 1] box.

Every ℓp ball of radius ε (p ≥ 1) lies inside the ℓ∞ ball of the same radius, so the set's
coordinate-wise bounding box is ``[max(x0 - ε, 0), min(x0 + ε, 1)]`` for all three norms; for ℓ∞
the set *is* that box. A linear function ``a · x`` over the set is bounded below by two sound
quantities and we take the larger:

* the box bound ``Σ_i min(a_i lo_i, a_i hi_i)`` (exact for ℓ∞);
* the dual-norm bound ``a · x0 - ε ‖a‖_q`` with ``1/p + 1/q = 1`` (exact for ℓ2/ℓ1 balls
  when the box constraint is inactive).
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
    """
    check_norm(norm)
    B, S = x0.shape[0], A.shape[1]
    a = A.expand(B, *A.shape[1:]).reshape(B, S, -1)
    lo, hi = input_box(x0, eps)
    lo, hi = lo.reshape(B, -1, 1), hi.reshape(B, -1, 1)
    box = (a.clamp(min=0).bmm(lo) + a.clamp(max=0).bmm(hi)).squeeze(-1)
    if norm == "linf":
        return box
    center = a.bmm(x0.reshape(B, -1, 1)).squeeze(-1)
    dual = a.norm(p=2, dim=-1) if norm == "l2" else a.abs().amax(dim=-1)
    e = torch.as_tensor(eps, dtype=x0.dtype, device=x0.device)
    e = e.reshape(-1, 1) if e.ndim == 1 else e
    return torch.maximum(box, center - e * dual)
