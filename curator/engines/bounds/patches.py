"""Patches: the linear functions of CROWN's backward pass for an identity specification on a conv
layer, stored as one small window per row instead of a dense tensor over the whole feature map.

Row ``r`` of a specification on a conv output neuron ``(c_r, i_r, j_r)`` depends, at any earlier
node of a conv/ReLU/per-channel chain, only on the window of that node's map whose top-left
corner is ``(i_r·S − P, j_r·S − P')`` and whose size is ``kh × kw``, where the stride ``S`` and the
offset ``P`` compose through the convolutions (``S ← S·s``, ``P ← P·s + p``). Each op of the chain
rewrites the window (see ``backward_patches`` in :mod:`curator.engines.bounds.ops`); at the input the
window is concretized over the same window of the input set. The values are those of the dense
backward pass (the same sums, over the window instead of the map), at a fraction of the work:
the dense pass runs a transposed convolution over the whole map for every row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass
class Patches:
    """``coef`` ``[B or 1, R, C, kh, kw]``: row ``r``'s coefficients on the window of a ``[C, H, W]``
    node; the window of row ``r`` starts at ``(pos_r // grid_w · stride − offset)`` (and likewise
    for columns), where ``pos`` ``[R]`` is the row's flat position on the target's ``grid``."""

    coef: torch.Tensor
    stride: tuple[int, int]
    offset: tuple[int, int]
    pos: torch.Tensor
    grid: tuple[int, int]
    # Unfolded node tensors shared by every chunk of one target (slopes, validity masks, input box).
    cache: dict = field(default_factory=dict)

    @property
    def kernel(self) -> tuple[int, int]:
        return tuple(self.coef.shape[-2:])

    def replace(self, coef: torch.Tensor, stride, offset) -> Patches:
        return Patches(coef, tuple(stride), tuple(offset), self.pos, self.grid, self.cache)

    def unfold(self, t: torch.Tensor, key=None) -> torch.Tensor:
        """The windows of ``t`` ``[B, C, H, W]`` for every row: ``[B, R, C, kh, kw]`` (zero outside ``t``).

        The unfolding over the whole grid is cached under ``key`` (its size is the grid's, a few
        times the map's), so only the row selection is paid per chunk."""
        full = self.cache.get(key) if key is not None else None
        if full is None:
            full = _unfold_grid(t, self.kernel, self.stride, self.offset, self.grid)
            if key is not None:
                self.cache[key] = full
        return full.index_select(1, self.pos)

    def valid(self, shape: tuple[int, ...], device, dtype) -> torch.Tensor:
        """``[1, R, 1, kh, kw]``: 1 where the window lies on a node of spatial ``shape``, 0 on its padding."""
        key = ("valid", tuple(shape[-2:]), self.kernel, self.stride, self.offset)
        ones = torch.ones(1, 1, *shape[-2:], device=device, dtype=dtype)
        return self.unfold(ones, key)


def _unfold_grid(t, kernel, stride, offset, grid) -> torch.Tensor:
    """``[B, gh·gw, C, kh, kw]``: the window of every grid position (zero-padded where it leaves ``t``),
    contiguous per position so that selecting rows copies whole windows."""
    B, C, H, W = t.shape
    pads = []
    for size, k, s, o, g in ((W, kernel[1], stride[1], offset[1], grid[1]), (H, kernel[0], stride[0], offset[0], grid[0])):
        right = max(0, (g - 1) * s - o + k - size)
        pads += [o, right]
    padded = F.pad(t, pads)
    cols = F.unfold(padded, kernel, stride=stride)  # [B, C·kh·kw, Lh·Lw]
    Lw = (padded.shape[-1] - kernel[1]) // stride[1] + 1
    Lh = cols.shape[-1] // Lw
    cols = cols.reshape(B, C, kernel[0], kernel[1], Lh, Lw)[..., : grid[0], : grid[1]]
    cols = cols.reshape(B, C, kernel[0], kernel[1], grid[0] * grid[1])
    return cols.permute(0, 4, 1, 2, 3).contiguous()


def identity_rows(rows: torch.Tensor, shape: tuple[int, int, int], dtype, device) -> Patches:
    """The specification ``[+e_r; −e_r]`` for the flat neuron indices ``rows`` of a ``[C, H, W]`` node:
    ``2·len(rows)`` one-by-one windows."""
    C, H, W = shape
    m = rows.numel()
    chan, pos = rows // (H * W), rows % (H * W)
    coef = torch.zeros(1, 2 * m, C, 1, 1, dtype=dtype, device=device)
    ar = torch.arange(m, device=device)
    coef[0, ar, chan, 0, 0] = 1.0
    coef[0, ar + m, chan, 0, 0] = -1.0
    return Patches(coef, (1, 1), (0, 0), torch.cat([pos, pos]), (H, W))


def concretize_patches(P: Patches, x0: torch.Tensor, norm: str, eps) -> torch.Tensor:
    """Lower bound ``[B, R]`` of each row's window function over the input set (ℓp ball ∩ [0,1]).

    The window's part outside the image multiplies zero padding: it is masked out, and the
    remaining coordinates are bounded over the ball's projection onto them (the same ball)."""
    from curator.engines.bounds.inputs import concretize_rows, input_box

    B = x0.shape[0]
    lo, hi = input_box(x0, eps)
    coef = P.coef * P.valid(x0.shape[1:], x0.device, x0.dtype)
    R = coef.shape[1]
    a = coef.expand(B, *coef.shape[1:]).reshape(B, R, -1)
    win = [P.unfold(t, ("input", name, P.kernel, P.stride, P.offset)).reshape(B, R, -1)
           for name, t in (("x", x0), ("lo", lo), ("hi", hi))]
    return concretize_rows(a, win[0], win[1], win[2], norm, eps)
