"""Global Lipschitz bounds of a ReLU network from its layers' operator norms.

For a network converted by :func:`curator.engines.bounds.from_module`, ``‖f(x) − f(x')‖_p ≤ L_p ‖x − x'‖_p``
with ``L_p`` the product of the layers' ``p → p`` operator norms along the graph (ReLU and reshapes
are 1-Lipschitz in every ℓp since they act coordinate-wise / permute — Softplus too, its slope is in (0, 1); a residual Add contributes
``L(body) + L(shortcut)``). Operator norms:

* ℓ∞ → ℓ∞: maximum absolute row sum — exact for Linear; for Conv2d the row sums of the actual
  (padded) operator are computed by convolving a ones-image with ``|W|``, so exact as well.
* ℓ1 → ℓ1: maximum absolute column sum, exact for both (transposed convolution of ones by ``|W|``).
* ℓ2 → ℓ2: the largest singular value. ``method="exact"`` (default): the layer's matrix is
  materialised (up to ``DENSE_LIMIT`` entries) and its spectral norm computed by an SVD in float64,
  times ``1 + 1e-6`` for rounding; larger layers fall back to the Schur bound
  ``σ_max ≤ sqrt(‖W‖_1 ‖W‖_∞)`` (a proof, looser). ``method="power"``: power iteration on
  ``WᵀW`` (through the conv / transposed-conv pair) for ``iterations`` steps, times
  ``1 + safety`` — an estimate from below made larger by a safety margin, **not** a proof.
* Channel affine (BatchNorm eval, Normalize): ``max |scale|`` in every norm.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from curator.engines.bounds.network import BoundedNetwork
from curator.engines.bounds.ops import BoundAdd, BoundChannelAffine, BoundConv2d, BoundLinear, BoundReLU, BoundReshape, BoundSoftplus

DENSE_LIMIT = 1 << 24
ROUNDING = 1.0 + 1e-6


def _dense(op, in_shape: tuple[int, ...]) -> torch.Tensor:
    """The matrix ``M`` (out × in) of a linear op without bias, in float64."""
    if isinstance(op, BoundLinear):
        return op.weight.double().cpu()
    n = math.prod(in_shape)
    eye = torch.eye(n, dtype=torch.float64).reshape(n, *in_shape)
    out = F.conv2d(eye, op.weight.double().cpu(), None, op.stride, op.padding, op.dilation, op.groups)
    return out.reshape(n, -1).T


def _abs_sums(op, in_shape, out_shape) -> tuple[float, float]:
    """(max row sum, max column sum) of |M|: the ℓ∞ and ℓ1 operator norms."""
    if isinstance(op, BoundLinear):
        a = op.weight.double().abs()
        return float(a.sum(1).max()), float(a.sum(0).max())
    w = op.weight.double().abs()
    ones_in = torch.ones(1, *in_shape, dtype=torch.float64, device=w.device)
    rows = F.conv2d(ones_in, w, None, op.stride, op.padding, op.dilation, op.groups)
    ones_out = torch.ones(1, *out_shape, dtype=torch.float64, device=w.device)
    cols = F.conv_transpose2d(ones_out, w, None, op.stride, op.padding, op.output_padding, op.groups, op.dilation)
    return float(rows.max()), float(cols.max())


def _power(op, in_shape, iterations: int, seed: int = 0) -> float:
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(1, *in_shape, generator=gen, dtype=torch.float64)
    w = op.weight.double().cpu()
    sigma = 0.0
    for _ in range(iterations):
        v = v / v.norm()
        if isinstance(op, BoundLinear):
            u = v @ w.T
            v = u @ w
        else:
            u = F.conv2d(v, w, None, op.stride, op.padding, op.dilation, op.groups)
            v = F.conv_transpose2d(u, w, None, op.stride, op.padding, op.output_padding, op.groups, op.dilation)
        sigma = float(u.norm())
    return sigma


def operator_norm(op, in_shape, out_shape, norm: str, method: str = "exact", iterations: int = 200,
                  safety: float = 0.05) -> float:
    """An upper bound on ``‖op‖_{p→p}`` (see the module docstring for which are proofs)."""
    if isinstance(op, (BoundReLU, BoundReshape, BoundSoftplus)):
        # Softplus acts coordinate-wise with slope sigmoid(beta·x) in (0, 1): 1-Lipschitz like ReLU.
        return 1.0
    if isinstance(op, BoundChannelAffine):
        return float(op.scale.abs().max())
    if not isinstance(op, (BoundLinear, BoundConv2d)):
        raise ValueError(f"no operator norm for {type(op).__name__}")
    if norm in ("linf", "l1"):
        rows, cols = _abs_sums(op, in_shape, out_shape)
        return (rows if norm == "linf" else cols) * ROUNDING
    if method == "power":
        return _power(op, in_shape, iterations) * (1.0 + safety)
    if math.prod(in_shape) * math.prod(out_shape) <= DENSE_LIMIT:
        return float(torch.linalg.matrix_norm(_dense(op, in_shape), ord=2)) * ROUNDING
    rows, cols = _abs_sums(op, in_shape, out_shape)
    return math.sqrt(rows * cols) * ROUNDING


def lipschitz_constants(net: BoundedNetwork, norm: str, method: str = "exact", **kw) -> list[float]:
    """A ``p → p`` Lipschitz bound of every node of ``net`` as a function of the network input."""
    consts = [1.0]
    for node in net.nodes[1:]:
        if isinstance(node.op, BoundAdd):
            consts.append(consts[node.inputs[0]] + consts[node.inputs[1]])
            continue
        src = node.inputs[0]
        k = operator_norm(node.op, net.nodes[src].shape, node.shape, norm, method, **kw)
        consts.append(k * consts[src])
    return consts


def margin_lipschitz(net: BoundedNetwork, norm: str, method: str = "exact", **kw) -> torch.Tensor:
    """``K[y, j]``: a bound on the ``p``-Lipschitz constant of the margin ``f_y − f_j``.

    If the output node is a Linear layer ``W h + b`` with ``h`` ``L_h``-Lipschitz, then
    ``|Δ(f_y − f_j)| ≤ ‖W_y − W_j‖_q · L_h · ‖Δx‖_p`` (Hölder, ``q`` the dual of ``p``). Otherwise,
    with ``L`` the whole network's bound, ``‖e_y − e_j‖_q · L``: ``2L`` (ℓ∞), ``√2 L`` (ℓ2), ``L`` (ℓ1).
    """
    consts = lipschitz_constants(net, norm, method, **kw)
    out = net.nodes[-1]
    q = {"linf": 1.0, "l2": 2.0, "l1": float("inf")}[norm]
    if isinstance(out.op, BoundLinear):
        w = out.op.weight.double().cpu()
        diff = w[:, None, :] - w[None, :, :]
        return torch.linalg.vector_norm(diff, ord=q, dim=-1) * consts[out.inputs[0]] * ROUNDING
    K = out.shape[0]
    factor = {"linf": 2.0, "l2": math.sqrt(2.0), "l1": 1.0}[norm]
    return torch.full((K, K), factor * consts[-1], dtype=torch.float64)
