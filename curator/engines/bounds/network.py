"""A network as a small DAG of :mod:`curator.engines.bounds.ops` nodes, with IBP and CROWN bounds."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from curator.engines.bounds.inputs import check_norm, concretize_lower, input_box
from curator.engines.bounds.ops import BoundConv2d, BoundOp, Bounds, ReluRelaxation
from curator.engines.bounds.patches import concretize_patches, identity_rows

# Largest number of float elements one backward pass may hold in a single A tensor; the identity
# specification of a wide intermediate layer is split into chunks of rows to stay under it.
DEFAULT_ELEMENT_BUDGET = 1 << 25
# On a CPU, chunks whose A tensors stay near the cache size win over fewer, larger passes: 2^21
# float32 elements (8 MB) made CROWN at batch 32 about 2x faster than 2^25 on the benchmark nets
# (docs/benchmarks.md, ## bounds). A GPU has no such cliff and keeps the larger budget.
CPU_ELEMENT_BUDGET = 1 << 21
PATCH_CPU_ELEMENT_BUDGET = 1 << 19


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
    """A verified-equivalent copy of an ``nn.Sequential`` built by :func:`curator.engines.bounds.from_module`.

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
        self.relu_nodes_set = set(self.relu_nodes)
        # Engine options; all True is the default. False everywhere is the reference dense CROWN
        # (bench/bench_crown_speed.py measures one against the other in one process).
        self.patches = True  # conv layers' intermediate bounds by the patches pass
        self.skip_exact = True  # no CROWN pass where IBP is already exact (one affine op over an ℓ∞ box)
        self.tighten_ibp = True  # IBP of each node from the tightened bounds before it
        # CROWN for the neurons IBP proves stable too: no final bound gains (their relaxation is
        # exact), but a consumer of the ranges themselves does (the MILP's big-M and variable bounds).
        self.bound_stable = False
        # The patches pass's windows are small and its per-chunk work is element-wise: on a CPU, chunks
        # that stay in cache win more than for dense A (docs/benchmarks.md, ## crown speed).
        self.patch_budget_cpu = PATCH_CPU_ELEMENT_BUDGET

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

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> BoundedNetwork:
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
        relax: dict[int, object],
        stop: dict[int, Bounds] | None = None,
    ) -> torch.Tensor:
        """Lower bound ``[B, S]`` of ``C · node[target]`` (``C`` is ``[B, S, *shape]``), dense pass.

        ``relax[r]`` is ``op.relax(pre)`` of ReLU node ``r`` (its relaxation, computed once per layer
        and batch). Nodes listed in ``stop`` are not relaxed further: the linear function reaching
        them is concretized over their interval (this turns the pass into IBP with the affine tail
        folded into the specification).
        """
        A_input, total = self._backward_linear(target, C, x, relax, stop)
        return total if A_input is None else total + concretize_lower(A_input, x, norm, eps)

    def _backward_linear(self, target: int, C: torch.Tensor, x: torch.Tensor, relax: dict[int, object],
                         stop: dict[int, Bounds] | None = None) -> tuple[torch.Tensor | None, torch.Tensor]:
        """:meth:`_backward` before the input set is concretized: ``(A, b)`` with the lower bound
        ``A · x' + b`` (``A`` None when the specification does not reach the input)."""
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
            A_ins, bias = node.op.backward(A, relax.get(k))
            if bias is not None:
                total = total + bias
            for i, Ai in zip(node.inputs, A_ins, strict=True):
                As[i] = As[i] + Ai if i in As else Ai
        return As.get(0), total

    def _patch_chain(self, target: int) -> list[int] | None:
        """The nodes from ``target`` back to the input when the patches pass applies to them: a
        conv target and a single-input chain of ops with ``backward_patches`` on [C, H, W] maps."""
        if not self.patches or not isinstance(self.nodes[target].op, BoundConv2d):
            return None
        chain, k = [], target
        while k != 0:
            node = self.nodes[k]
            if node.op.backward_patches is None or len(node.inputs) != 1 or len(node.shape) != 3:
                return None
            chain.append(k)
            k = node.inputs[0]
        return chain if len(self.nodes[0].shape) == 3 else None

    def _patch_row_elements(self, chain: list[int]) -> int:
        """The largest window (elements per row and sample) of the patches pass over ``chain``."""
        kernel, widest = (1, 1), 0
        for k in chain:
            node = self.nodes[k]
            widest = max(widest, math.prod(node.shape[:1]) * kernel[0] * kernel[1])
            kernel = node.op.patch_kernel(kernel)
            widest = max(widest, self.nodes[node.inputs[0]].shape[0] * kernel[0] * kernel[1])
        return widest

    def _patches_lower(self, chain, idx, x, norm, eps, relax, cache) -> torch.Tensor:
        """Lower bounds ``[B, 2m]`` of ``[+z_idx; −z_idx]`` at ``chain[0]`` by the patches pass."""
        P = identity_rows(idx, self.nodes[chain[0]].shape, x.dtype, x.device)
        P.cache = cache
        total = torch.zeros(x.shape[0], P.coef.shape[1], dtype=x.dtype, device=x.device)
        for k in chain:
            P, bias = self.nodes[k].op.backward_patches(P, relax.get(k))
            if bias is not None:
                total = total + bias
        return total + concretize_patches(P, x, norm, eps)

    def _node_bounds(self, target: int, x, norm, eps, relax: dict[int, object], ibp_bounds: Bounds,
                     select: Bounds | None = None, tighten_mask=None) -> Bounds:
        """CROWN bounds of the neurons of ``node[target]``, intersected with ``ibp_bounds``.

        Only neurons that IBP leaves unstable in some sample of the batch are bounded again: a ReLU's
        relaxation of a stable neuron is exact whatever its bounds, so tightening it cannot help the
        final bound. (``select``, the input-box IBP bounds, adds the neurons unstable there, so that
        no reported bound is looser than with the input-box IBP alone.)
        The identity specification is shared by the batch (no batch dimension until the first
        ReLU) and split into row chunks to keep each A tensor under the element budget. A conv
        target behind a conv/ReLU chain takes the patches pass (same bounds, windows instead of maps).
        """
        lo, hi = ibp_bounds
        B = x.shape[0]
        shape = self.nodes[target].shape
        flat_lo, flat_hi = lo.reshape(B, -1).clone(), hi.reshape(B, -1).clone()
        # tighten_mask: the consumer's own choice (Softplus: every non-degenerate neuron); ReLU: the unstable ones.
        unstable = tighten_mask(flat_lo, flat_hi) if tighten_mask is not None else (flat_lo < 0) & (flat_hi > 0)
        if select is not None:
            sel_lo, sel_hi = select[0].reshape(B, -1), select[1].reshape(B, -1)
            unstable |= tighten_mask(sel_lo, sel_hi) if tighten_mask is not None else (sel_lo < 0) & (sel_hi > 0)
        rows = unstable.any(0).nonzero().flatten()
        if rows.numel() == 0:
            return lo, hi
        n = flat_lo.shape[1]
        chain = self._patch_chain(target)
        if chain is not None:
            widest = self._patch_row_elements(chain)
        else:
            widest = max(math.prod(self.nodes[k].shape) for k in range(target + 1))
        budget = self.element_budget
        if chain is not None and self.device.type == "cpu" and self._element_budget is None:
            budget = min(budget, self.patch_budget_cpu)
        chunk = max(1, budget // max(1, B * 2 * widest))
        cache: dict = {}
        for s in range(0, rows.numel(), chunk):
            idx = rows[s : s + chunk]
            m = idx.numel()
            if chain is not None:
                lb = self._patches_lower(chain, idx, x, norm, eps, relax, cache)
            else:
                sel = torch.zeros(m, n, dtype=x.dtype, device=x.device)
                sel[torch.arange(m, device=x.device), idx] = 1.0
                C = torch.cat([sel, -sel]).reshape(1, 2 * m, *shape)
                lb = self._backward(target, C, x, norm, eps, relax)
            flat_lo[:, idx] = torch.maximum(flat_lo[:, idx], lb[:, :m])
            flat_hi[:, idx] = torch.minimum(flat_hi[:, idx], -lb[:, m:])
        return flat_lo.reshape(B, *shape), flat_hi.reshape(B, *shape)

    def _ibp_exact_nodes(self, norm: str) -> set[int]:
        """Nodes whose IBP bounds are exact over the input set: an ℓ∞ input set is a box, a
        box-preserving op keeps it a box, and the bounds of one affine op over a box are attained
        coordinate by coordinate. (ℓ2/ℓ1 balls are not boxes: CROWN is tighter there.)"""
        if norm != "linf":
            return set()
        box, exact = {0}, set()
        for k, node in enumerate(self.nodes[1:], 1):
            # One input only: a sum of two functions of the same box (Add) is not bounded exactly.
            if len(node.inputs) == 1 and node.inputs[0] in box and (node.op.affine or node.op.box_preserving):
                exact.add(k)
                if node.op.box_preserving:
                    box.add(k)
        return exact

    def _crown_state(self, x, norm, eps, intermediate: str):
        """Pre-activation bounds of every ReLU node (keyed by the ReLU's node index), their
        relaxations, and the interval bounds of every node.

        With ``tighten_ibp`` the interval of each node is IBP from the already-tightened bounds of
        the nodes before it (not from the input box), and each pre-activation is the intersection of
        that interval with CROWN's bounds; every set intersected is sound, so the result is too."""
        self._check(x, norm)
        if intermediate not in ("crown", "ibp"):
            raise ValueError(f"intermediate must be 'crown' or 'ibp', not {intermediate!r}")
        # Input-box IBP: the intervals themselves without tightening, else only to choose the rows.
        box_ibp = self.ibp_all(x, norm, eps)
        plain = box_ibp if not self.tighten_ibp or intermediate == "ibp" else None
        exact = self._ibp_exact_nodes(norm) if self.skip_exact else set()
        # node -> the row choice of the non-linear op it feeds (None: ReLU's unstable neurons)
        feeds_relu = {self.nodes[r].inputs[0]: _every_neuron if self.bound_stable else getattr(self.nodes[r].op, "tighten_mask", None)
                      for r in self.relu_nodes}
        bounds: list[Bounds] = [input_box(x, eps)]
        pre: dict[int, Bounds] = {}
        relax: dict[int, object] = {}
        for k, node in enumerate(self.nodes[1:], 1):
            b = plain[k] if plain is not None else node.op.ibp(*[bounds[i] for i in node.inputs])
            if intermediate == "crown" and k in feeds_relu and k not in exact:
                b = self._node_bounds(k, x, norm, eps, relax, b, None if plain is not None else box_ibp[k],
                                      feeds_relu[k])
            bounds.append(b)
            if k in self.relu_nodes_set:
                pre[k] = bounds[node.inputs[0]]
                relax[k] = node.op.relax(pre[k])
        return pre, relax, bounds

    def _crown_pre(self, x, norm, eps, intermediate: str) -> dict[int, Bounds]:
        return self._crown_state(x, norm, eps, intermediate)[0]

    def crown_intermediate(self, x: torch.Tensor, norm: str, eps, intermediate: str = "crown") -> list[Bounds]:
        """Pre-activation bounds of every ReLU, in order: CROWN bounds of each layer computed from
        the CROWN bounds of the layers before it, intersected with IBP bounds."""
        pre = self._crown_pre(x, norm, eps, intermediate)
        return [pre[r] for r in self.relu_nodes]

    # ------------------------------------------------------------------ specifications
    def spec_lower_bounds(
        self,
        x: torch.Tensor,
        C: torch.Tensor,
        norm: str,
        eps,
        method: str = "crown",
        intermediate: str = "crown",
        with_ibp: bool = False,
        alpha: dict | None = None,
    ) -> torch.Tensor:
        """Lower bound ``[B, S]`` of ``C · f(x')`` over each input set, ``C`` ``[B, S, *output_shape]``.

        ``with_ibp`` (CROWN only): also the IBP bound with the affine tail elided, from the same
        (tightened) intervals, and the larger of the two. ``alpha`` (CROWN only,
        ``{"iterations": n, "lr": r}``): α-CROWN's optimised lower slopes, see :meth:`_alpha_lower`."""
        self._check(x, norm)
        out = len(self.nodes) - 1
        if method == "ibp":
            allb = self.ibp_all(x, norm, eps)
            # Elision of the affine tail (Gowal et al. 2018): the specification is pushed through
            # the affine layers after the last ReLU and concretized on that ReLU's output interval.
            stop = {r: allb[r] for r in self.relu_nodes}
            return self._backward(out, C, x, norm, eps, {}, stop=stop)
        if method != "crown":
            raise ValueError(f"method must be 'crown' or 'ibp', not {method!r}")
        pre, relax, bounds = self._crown_state(x, norm, eps, intermediate)
        if alpha and int(alpha.get("iterations", 0)) > 0:
            lb = self._alpha_lower(out, C, x, norm, eps, relax, int(alpha["iterations"]), float(alpha.get("lr", 0.1)))
        else:
            lb = self._backward(out, C, x, norm, eps, relax)
        if with_ibp:
            stop = {r: bounds[r] for r in self.relu_nodes}
            lb = torch.maximum(lb, self._backward(out, C, x, norm, eps, {}, stop=stop))
        return lb

    def linear_lower_bound(self, x: torch.Tensor, C: torch.Tensor, norm: str, eps,
                           intermediate: str = "crown") -> tuple[torch.Tensor, torch.Tensor]:
        """CROWN's lower bound of ``C · f`` as a linear function of the input: ``(A, b)``, ``A``
        ``[B, S, *input_shape]`` and ``b`` ``[B, S]``, with ``C · f(x') >= A · x' + b`` for every
        ``x'`` in the input set of its row. ``concretize_lower(A, x, norm, eps) + b`` is
        :meth:`spec_lower_bounds`'s CROWN bound; a caller may also read off where ``A`` is minimised."""
        self._check(x, norm)
        _, relax, _ = self._crown_state(x, norm, eps, intermediate)
        A, b = self._backward_linear(len(self.nodes) - 1, C, x, relax)
        if A is None:
            A = torch.zeros(x.shape[0], C.shape[1], *self.input_shape, dtype=x.dtype, device=x.device)
        return A.expand(x.shape[0], *A.shape[1:]), b

    def _alpha_lower(self, out: int, C, x, norm, eps, relax: dict[int, object], iterations: int, lr: float):
        """α-CROWN (Xu et al. 2021): the lower slopes of the unstable ReLUs, one per specification
        row and neuron, optimised by projected gradient ascent (Adam, then clamping to [0, 1]) on the
        sum of the rows' bounds. Intermediate bounds stay CROWN's.

        Guarantee: every slope in [0, 1] gives a sound lower bound (the line lies below the ReLU on
        [l, u]), so every iterate is sound; the best value seen per row is returned, and the first
        iterate is CROWN's adaptive slopes, so the result is never below CROWN's bound."""
        B, S = x.shape[0], C.shape[1]
        best = None  # the first iterate below is CROWN's own bound: its slopes start as CROWN's
        # Only ReLU slopes are optimised; other non-linear ops (Softplus) keep their fixed lines.
        alphas = {r: relax[r].lower_slope.expand(B, S, *relax[r].lower_slope.shape[2:]).detach().clone()
                  for r in self.relu_nodes if isinstance(relax[r], ReluRelaxation)}
        for a in alphas.values():
            a.requires_grad_(True)
        opt = torch.optim.Adam(list(alphas.values()), lr=lr)
        for _ in range(iterations):
            with torch.enable_grad():
                opt.zero_grad()
                tuned = {**relax, **{r: relax[r].with_lower_slope(a) for r, a in alphas.items()}}
                lb = self._backward(out, C, x, norm, eps, tuned)
                (-lb.sum()).backward()
            best = lb.detach() if best is None else torch.maximum(best, lb.detach())
            opt.step()
            with torch.no_grad():
                for a in alphas.values():
                    a.clamp_(0.0, 1.0)
        with torch.no_grad():
            tuned = {**relax, **{r: relax[r].with_lower_slope(a) for r, a in alphas.items()}}
            best = torch.maximum(best, self._backward(out, C, x, norm, eps, tuned))
        return best

    def margin_lower_bounds(
        self,
        x: torch.Tensor,
        labels: torch.Tensor,
        norm: str,
        eps,
        method: str = "crown",
        intermediate: str = "crown",
        with_ibp: bool = False,
        alpha: dict | None = None,
    ) -> torch.Tensor:
        """Lower bounds ``[B, K]`` of ``f_y(x') - f_j(x')`` for every class j (one backward pass with
        the specification matrix ``e_y - e_j``); the entry ``j = y`` is ``+inf``."""
        if len(self.output_shape) != 1:
            raise ValueError(f"margins need a flat output, the network's is {self.output_shape}")
        K = self.output_shape[0]
        labels = labels.to(x.device).long()
        eye = torch.eye(K, dtype=x.dtype, device=x.device)
        C = eye[labels].unsqueeze(1) - eye.unsqueeze(0)  # [B, K, K]: row j = e_y - e_j
        lb = self.spec_lower_bounds(x, C, norm, eps, method=method, intermediate=intermediate,
                                    with_ibp=with_ibp, alpha=alpha)
        return lb.masked_fill(eye[labels].bool(), float("inf"))


def _every_neuron(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    return torch.ones_like(lo, dtype=torch.bool)


def _interval_lower(A: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    B, S = lo.shape[0], A.shape[1]
    A = A.expand(B, *A.shape[1:])
    a = A.reshape(B, S, -1)
    return (a.clamp(min=0).bmm(lo.reshape(B, -1, 1)) + a.clamp(max=0).bmm(hi.reshape(B, -1, 1))).squeeze(-1)
