"""A network as a small DAG of :mod:`curator.bounds.ops` nodes, with IBP and CROWN bounds."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .inputs import check_norm, concretize_lower, input_box
from .ops import BoundOp, BoundReLU, Bounds

# Largest number of float elements one backward pass may hold in a single A tensor; the identity
# specification of a wide intermediate layer is split into chunks of rows to stay under it.
DEFAULT_ELEMENT_BUDGET = 1 << 25
# On a CPU, chunks whose A tensors stay near the cache size win over fewer, larger passes: 2^21
# float32 elements (8 MB) made CROWN at batch 32 about 2x faster than 2^25 on the benchmark nets
# (docs/benchmarks.md, ## bounds). A GPU has no such cliff and keeps the larger budget.
CPU_ELEMENT_BUDGET = 1 << 21


def element_budget_for(device: torch.device | str) -> int:
    """The element budget that suits ``device``."""
    return CPU_ELEMENT_BUDGET if torch.device(device).type == "cpu" else DEFAULT_ELEMENT_BUDGET


@dataclass
class Node:
    op: BoundOp | None  # None for the input node
    inputs: list[int]
    shape: tuple[int, ...]
    label: str = ""


class BoundedNetwork:
    """A verified-equivalent copy of an ``nn.Sequential`` built by :func:`curator.bounds.from_module`.

    Node 0 is the input; nodes are stored in topological order and the last node is the output.
    All bound methods take ``x`` ``[B, *input_shape]`` in [0, 1], a norm (``"linf" | "l2" | "l1"``)
    and a radius ``eps`` (a float or a ``[B]`` tensor); the input set of row ``b`` is
    ``{x : ||x - x[b]||_norm <= eps} ∩ [0, 1]^d``. Every returned bound is sound for every point of
    that set, up to floating-point rounding of the dtype in use.
    """

    def __init__(self, nodes: list[Node], element_budget: int | None = None):
        self.nodes = nodes
        self.device = torch.device("cpu")  # where from_module builds it; to() moves it
        self._element_budget = element_budget
        # Every non-affine node (ReLU, Softplus) needs pre-activation bounds; the name stays for callers.
        self.relu_nodes = [i for i, n in enumerate(nodes) if n.op is not None and not n.op.affine]

    @property
    def element_budget(self) -> int:
        """Largest A tensor (float elements) of one backward pass: the value set, else the device's."""
        return self._element_budget if self._element_budget is not None else element_budget_for(self.device)

    @element_budget.setter
    def element_budget(self, value: int | None) -> None:
        self._element_budget = value

    # ------------------------------------------------------------------ basics
    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.nodes[0].shape

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.nodes[-1].shape

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> "BoundedNetwork":
        self.device = torch.device(device or "cpu")
        for node in self.nodes:
            if node.op is not None:
                node.op.to(self.device, dtype)
        return self

    def forward_all(self, x: torch.Tensor) -> list[torch.Tensor]:
        vals: list[torch.Tensor] = [x]
        for node in self.nodes[1:]:
            vals.append(node.op.forward(*[vals[i] for i in node.inputs]))
        return vals

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_all(x)[-1]

    __call__ = forward

    def pre_activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The input of every ReLU, in order (the quantity the bound lists describe)."""
        vals = self.forward_all(x)
        return [vals[self.nodes[r].inputs[0]] for r in self.relu_nodes]

    def _check(self, x: torch.Tensor, norm: str) -> None:
        check_norm(norm)
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"input shape {tuple(x.shape[1:])} does not match the network's {self.input_shape}")

    # ------------------------------------------------------------------ IBP
    def ibp_all(self, x: torch.Tensor, norm: str, eps) -> list[Bounds]:
        """Interval bounds of every node (the input set replaced by its bounding box)."""
        self._check(x, norm)
        bounds: list[Bounds] = [input_box(x, eps)]
        for node in self.nodes[1:]:
            bounds.append(node.op.ibp(*[bounds[i] for i in node.inputs]))
        return bounds

    def ibp(self, x: torch.Tensor, norm: str, eps) -> list[Bounds]:
        """IBP bounds (Gowal et al. 2018) of the pre-activation of every ReLU, in order."""
        allb = self.ibp_all(x, norm, eps)
        return [allb[self.nodes[r].inputs[0]] for r in self.relu_nodes]

    # ------------------------------------------------------------------ CROWN
    def _backward(
        self,
        target: int,
        C: torch.Tensor,
        x: torch.Tensor,
        norm: str,
        eps,
        pre: dict[int, Bounds],
        stop: dict[int, Bounds] | None = None,
    ) -> torch.Tensor:
        """Lower bound ``[B, S]`` of ``C · node[target]`` (``C`` is ``[B, S, *shape]``).

        ``pre[r]`` are the pre-activation bounds of ReLU node ``r``. Nodes listed in ``stop`` are
        not relaxed further: the linear function reaching them is concretized over their interval
        (this turns the pass into IBP with the affine tail folded into the specification).
        """
        B, S = x.shape[0], C.shape[1]
        As: dict[int, torch.Tensor] = {target: C}
        total = torch.zeros(B, S, dtype=C.dtype, device=C.device)
        for k in range(target, 0, -1):
            A = As.pop(k, None)
            if A is None:
                continue
            if stop is not None and k in stop:
                lo, hi = stop[k]
                total = total + _interval_lower(A, lo, hi)
                continue
            node = self.nodes[k]
            A_ins, bias = node.op.backward(A, pre.get(k))
            if bias is not None:
                total = total + bias
            for i, Ai in zip(node.inputs, A_ins):
                As[i] = As[i] + Ai if i in As else Ai
        if 0 in As:
            total = total + concretize_lower(As[0], x, norm, eps)
        return total

    def _node_bounds(self, target: int, x, norm, eps, pre: dict[int, Bounds], ibp_bounds: Bounds,
                     tighten_mask=None) -> Bounds:
        """CROWN bounds of the neurons of ``node[target]``, intersected with ``ibp_bounds``.

        Only neurons that IBP leaves unstable in some sample of the batch are bounded again: a ReLU's
        relaxation of a stable neuron is exact whatever its bounds, so tightening it cannot help.
        The identity specification is shared by the batch (no batch dimension until the first
        ReLU) and split into row chunks to keep each A tensor under the element budget.
        """
        lo, hi = ibp_bounds
        B = x.shape[0]
        shape = self.nodes[target].shape
        flat_lo, flat_hi = lo.reshape(B, -1).clone(), hi.reshape(B, -1).clone()
        # tighten_mask: the consumer's own choice (Softplus: every non-degenerate neuron).
        mask = tighten_mask(flat_lo, flat_hi) if tighten_mask is not None else (flat_lo < 0) & (flat_hi > 0)
        rows = mask.any(0).nonzero().flatten()
        if rows.numel() == 0:
            return lo, hi
        n = flat_lo.shape[1]
        widest = max(math.prod(self.nodes[k].shape) for k in range(target + 1))
        chunk = max(1, self.element_budget // max(1, B * 2 * widest))
        for s in range(0, rows.numel(), chunk):
            idx = rows[s : s + chunk]
            m = idx.numel()
            sel = torch.zeros(m, n, dtype=x.dtype, device=x.device)
            sel[torch.arange(m, device=x.device), idx] = 1.0
            C = torch.cat([sel, -sel]).reshape(1, 2 * m, *shape)
            lb = self._backward(target, C, x, norm, eps, pre)
            flat_lo[:, idx] = torch.maximum(flat_lo[:, idx], lb[:, :m])
            flat_hi[:, idx] = torch.minimum(flat_hi[:, idx], -lb[:, m:])
        return flat_lo.reshape(B, *shape), flat_hi.reshape(B, *shape)

    def _crown_pre(self, x, norm, eps, intermediate: str) -> dict[int, Bounds]:
        """Pre-activation bounds of every ReLU node, keyed by the ReLU's node index."""
        self._check(x, norm)
        ibp_b = self.ibp_all(x, norm, eps)
        pre: dict[int, Bounds] = {}
        for r in self.relu_nodes:
            p = self.nodes[r].inputs[0]
            lo, hi = ibp_b[p]
            if intermediate == "crown":
                # CROWN and IBP bounds are both sound, so their intersection is too.
                lo, hi = self._node_bounds(p, x, norm, eps, pre, (lo, hi),
                                           getattr(self.nodes[r].op, "tighten_mask", None))
            elif intermediate != "ibp":
                raise ValueError(f"intermediate must be 'crown' or 'ibp', not {intermediate!r}")
            pre[r] = (lo, hi)
        return pre

    def crown_intermediate(self, x: torch.Tensor, norm: str, eps, intermediate: str = "crown") -> list[Bounds]:
        """Pre-activation bounds of every ReLU, in order: CROWN bounds of each layer computed from
        the CROWN bounds of the layers before it, intersected with IBP bounds."""
        pre = self._crown_pre(x, norm, eps, intermediate)
        return [pre[r] for r in self.relu_nodes]

    # ------------------------------------------------------------------ specifications
    def spec_lower_bounds(
        self, x: torch.Tensor, C: torch.Tensor, norm: str, eps, method: str = "crown", intermediate: str = "crown"
    ) -> torch.Tensor:
        """Lower bound ``[B, S]`` of ``C · f(x')`` over each input set, ``C`` ``[B, S, *output_shape]``."""
        self._check(x, norm)
        out = len(self.nodes) - 1
        if method == "ibp":
            allb = self.ibp_all(x, norm, eps)
            # Elision of the affine tail (Gowal et al. 2018): the specification is pushed through
            # the affine layers after the last ReLU and concretized on that ReLU's output interval.
            stop = {r: allb[r] for r in self.relu_nodes}
            return self._backward(out, C, x, norm, eps, {}, stop=stop)
        if method == "crown":
            pre = self._crown_pre(x, norm, eps, intermediate)
            return self._backward(out, C, x, norm, eps, pre)
        raise ValueError(f"method must be 'crown' or 'ibp', not {method!r}")

    def margin_lower_bounds(
        self,
        x: torch.Tensor,
        labels: torch.Tensor,
        norm: str,
        eps,
        method: str = "crown",
        intermediate: str = "crown",
    ) -> torch.Tensor:
        """Lower bounds ``[B, K]`` of ``f_y(x') - f_j(x')`` for every class j (one backward pass with
        the specification matrix ``e_y - e_j``); the entry ``j = y`` is ``+inf``."""
        if len(self.output_shape) != 1:
            raise ValueError(f"margins need a flat output, the network's is {self.output_shape}")
        K = self.output_shape[0]
        labels = labels.to(x.device).long()
        eye = torch.eye(K, dtype=x.dtype, device=x.device)
        C = eye[labels].unsqueeze(1) - eye.unsqueeze(0)  # [B, K, K]: row j = e_y - e_j
        lb = self.spec_lower_bounds(x, C, norm, eps, method=method, intermediate=intermediate)
        return lb.masked_fill(eye[labels].bool(), float("inf"))


def _interval_lower(A: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    B, S = lo.shape[0], A.shape[1]
    A = A.expand(B, *A.shape[1:])
    a = A.reshape(B, S, -1)
    return (a.clamp(min=0).bmm(lo.reshape(B, -1, 1)) + a.clamp(max=0).bmm(hi.reshape(B, -1, 1))).squeeze(-1)
