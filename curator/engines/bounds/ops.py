"""One class per layer type: forward, interval propagation and the backward linear relaxation.

Backward convention (CROWN, Zhang et al. 2018): a linear function of a node's output is carried as
``A`` of shape ``[B, S, *node_shape]`` (``S`` specification rows). ``backward(A, pre)`` rewrites it
as a function of the node's input(s): it returns one ``A`` per input and a bias ``[B, S]`` such that
for every input value consistent with the bounds ``pre`` (the op's ``relax(pre)``, computed once per
layer and batch: the pre-activation bounds for most ops, the slopes of the relaxation for ReLU)::

    A · op(z) >= sum_i A_i · z_i + bias        (a lower bound on A · op(z))

For affine ops this is an equality; for ReLU it uses the triangle relaxation's upper line where
``A < 0`` and an adaptive lower line (slope 1 if u >= -l else 0) where ``A > 0``; any lower slope in
[0, 1] is sound, which α-CROWN uses.

``backward_patches(P, pre)`` is the same rewrite on :class:`curator.engines.bounds.patches.Patches` (one
window per row); an op without it makes the engine use the dense pass. ``box_preserving`` ops map
an axis-aligned box exactly onto a box (so IBP after them stays exact).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

Bounds = tuple[torch.Tensor, torch.Tensor]


def _bsum(t: torch.Tensor) -> torch.Tensor:
    """Sum over every dimension after [B, S]."""
    return t.flatten(2).sum(-1)


class BoundOp:
    """A graph node's operation. ``in_shapes``/``out_shape`` exclude the batch dimension."""

    name = "op"
    affine = True
    box_preserving = False  # maps a box exactly onto a box (elementwise, monotone per coordinate)
    backward_patches = None  # set by ops that can rewrite a Patches window

    def __init__(self, in_shapes: list[tuple[int, ...]], out_shape: tuple[int, ...]):
        self.in_shapes = in_shapes
        self.out_shape = out_shape

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def ibp(self, *bounds: Bounds) -> Bounds:  # pragma: no cover - interface
        raise NotImplementedError

    def relax(self, pre: Bounds | None):
        """What ``backward`` needs of the pre-activation bounds (computed once per layer and batch)."""
        return pre

    def backward(self, A: torch.Tensor, pre) -> tuple[list[torch.Tensor], torch.Tensor | None]:
        raise NotImplementedError  # pragma: no cover - interface

    def to(self, device: torch.device | str, dtype: torch.dtype) -> BoundOp:
        for key, value in list(vars(self).items()):
            if isinstance(value, torch.Tensor):
                setattr(self, key, value.to(device=device, dtype=dtype))
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_shapes} -> {self.out_shape})"


class BoundReshape(BoundOp):
    """Flatten / Reshape / Unflatten: a pure relabelling of the same values."""

    name = "reshape"
    box_preserving = True

    def forward(self, x):
        return x.reshape(x.shape[0], *self.out_shape)

    def ibp(self, b):
        return self.forward(b[0]), self.forward(b[1])

    def backward(self, A, pre):
        return [A.reshape(A.shape[0], A.shape[1], *self.in_shapes[0])], None


class BoundLinear(BoundOp):
    name = "linear"

    def __init__(self, in_shapes, out_shape, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__(in_shapes, out_shape)
        self.weight = weight.detach().clone()
        self.bias = bias.detach().clone() if bias is not None else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def ibp(self, b):
        mid, rad = (b[1] + b[0]) / 2, (b[1] - b[0]) / 2
        c = F.linear(mid, self.weight, self.bias)
        r = F.linear(rad, self.weight.abs())
        return c - r, c + r

    def backward(self, A, pre):
        A_in = A.matmul(self.weight)
        bias = A.matmul(self.bias) if self.bias is not None else None
        return [A_in], bias


class BoundConv2d(BoundOp):
    name = "conv2d"

    def __init__(self, in_shapes, out_shape, weight, bias, stride, padding, dilation, groups):
        super().__init__(in_shapes, out_shape)
        self.weight = weight.detach().clone()
        self.bias = bias.detach().clone() if bias is not None else None
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        # conv_transpose2d needs output_padding to land exactly on the input's spatial size.
        op = []
        for i in range(2):
            full = (out_shape[1 + i] - 1) * stride[i] - 2 * padding[i] + dilation[i] * (weight.shape[2 + i] - 1) + 1
            op.append(in_shapes[0][1 + i] - full)
        self.output_padding = tuple(op)

    def _conv(self, x, weight, bias):
        return F.conv2d(x, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, x):
        return self._conv(x, self.weight, self.bias)

    def ibp(self, b):
        mid, rad = (b[1] + b[0]) / 2, (b[1] - b[0]) / 2
        c = self._conv(mid, self.weight, self.bias)
        r = self._conv(rad, self.weight.abs(), None)
        return c - r, c + r

    def backward(self, A, pre):
        B, S = A.shape[:2]
        flat = A.reshape(B * S, *self.out_shape)
        A_in = F.conv_transpose2d(
            flat, self.weight, None, self.stride, self.padding, self.output_padding, self.groups, self.dilation
        ).reshape(B, S, *self.in_shapes[0])
        bias = A.sum((3, 4)).matmul(self.bias) if self.bias is not None else None
        return [A_in], bias

    def backward_patches(self, P, pre):
        """Window on the output → window on the input: a transposed convolution of each small
        window (no padding: the window grows to ``(k−1)·s + d·(K−1) + 1``)."""
        coef = P.coef * P.valid(self.out_shape, P.coef.device, P.coef.dtype)
        Bc, R, C, kh, kw = coef.shape
        bias = None
        if self.bias is not None:
            bias = (coef.sum((3, 4)) * self.bias).sum(-1)
        out_kernel = self.patch_kernel((kh, kw))
        M = self._window_matrix((kh, kw), coef.device, coef.dtype)
        if M is not None:
            new = coef.reshape(Bc * R, -1).matmul(M)
        else:
            new = F.conv_transpose2d(coef.reshape(Bc * R, C, kh, kw), self.weight, None, self.stride, 0, 0,
                                     self.groups, self.dilation)
        new = new.reshape(Bc, R, self.in_shapes[0][0], *out_kernel)
        stride = (P.stride[0] * self.stride[0], P.stride[1] * self.stride[1])
        offset = (P.offset[0] * self.stride[0] + self.padding[0], P.offset[1] * self.stride[1] + self.padding[1])
        return P.replace(new, stride, offset), bias

    # Largest window-to-window matrix kept per conv (float elements); beyond it the transposed
    # convolution of the windows is used instead.
    WINDOW_MATRIX_LIMIT = 1 << 22

    def _window_matrix(self, kernel, device, dtype) -> torch.Tensor | None:
        """The transposed convolution of a ``kernel``-sized window as a matrix (rows: output-window
        coefficients, columns: input-window coefficients): one GEMM per chunk instead of many small
        transposed convolutions. Cached per window size, device and dtype."""
        out_kernel = self.patch_kernel(kernel)
        n_in = self.weight.shape[0] * kernel[0] * kernel[1]
        if n_in * self.in_shapes[0][0] * out_kernel[0] * out_kernel[1] > self.WINDOW_MATRIX_LIMIT:
            return None
        cache = self.__dict__.setdefault("_matrices", {})
        key = (tuple(kernel), str(device), dtype)
        if key not in cache:
            eye = torch.eye(n_in, device=device, dtype=dtype).reshape(n_in, self.weight.shape[0], *kernel)
            w = self.weight.to(device=device, dtype=dtype)
            cache[key] = F.conv_transpose2d(eye, w, None, self.stride, 0, 0, self.groups, self.dilation).reshape(n_in, -1)
        return cache[key]

    def patch_kernel(self, kernel: tuple[int, int]) -> tuple[int, int]:
        """The size of an input window for an output window of size ``kernel``."""
        return tuple((k - 1) * s + d * (K - 1) + 1
                     for k, s, d, K in zip(kernel, self.stride, self.dilation, self.weight.shape[2:], strict=True))


class BoundChannelAffine(BoundOp):
    """``x * scale + shift`` per channel (dim 1): BatchNorm in eval mode and curator's Normalize."""

    name = "channel_affine"
    box_preserving = True

    def __init__(self, in_shapes, out_shape, scale: torch.Tensor, shift: torch.Tensor):
        super().__init__(in_shapes, out_shape)
        shape = in_shapes[0]
        view = (-1,) + (1,) * (len(shape) - 1) if scale.numel() > 1 else (1,) * len(shape)
        self.scale = scale.detach().clone().reshape(view)
        self.shift = shift.detach().clone().reshape(view)

    def forward(self, x):
        return x * self.scale + self.shift

    def ibp(self, b):
        mid, rad = (b[1] + b[0]) / 2, (b[1] - b[0]) / 2
        c = mid * self.scale + self.shift
        r = rad * self.scale.abs()
        return c - r, c + r

    def backward(self, A, pre):
        return [A * self.scale], _bsum(A * self.shift)

    def backward_patches(self, P, pre):
        if len(self.in_shapes[0]) != 3:
            raise TypeError("patches need a [C, H, W] node")
        coef = P.coef * P.valid(self.out_shape, P.coef.device, P.coef.dtype)
        scale = self.scale.reshape(-1, 1, 1)
        shift = self.shift.reshape(-1, 1, 1)
        return P.replace(coef * scale, P.stride, P.offset), (coef * shift).flatten(2).sum(-1)

    def patch_kernel(self, kernel):
        return kernel


@dataclass
class ReluRelaxation:
    """The linear bounds of ReLU on ``[l, u]``: ``lower_slope·z <= relu(z) <= upper_slope·z + upper_intercept``.

    Tensors are ``[B, 1, *shape]`` (shared by every specification row) or, for α-CROWN's
    optimised lower slopes, ``[B, S, *shape]``."""

    lower_slope: torch.Tensor
    upper_slope: torch.Tensor
    upper_intercept: torch.Tensor
    unstable: torch.Tensor

    def with_lower_slope(self, alpha: torch.Tensor) -> ReluRelaxation:
        """The same relaxation with ``alpha`` (clamped to [0, 1]) as the lower slope of the unstable
        neurons: every such line lies below the ReLU on [l, u] with l < 0 < u, so the bound stays sound."""
        slope = torch.where(self.unstable, alpha.clamp(0.0, 1.0), self.lower_slope)
        return ReluRelaxation(slope, self.upper_slope, self.upper_intercept, self.unstable)


class BoundReLU(BoundOp):
    name = "relu"
    affine = False
    box_preserving = True

    def forward(self, x):
        return x.clamp(min=0)

    def ibp(self, b):
        return b[0].clamp(min=0), b[1].clamp(min=0)

    @staticmethod
    def relaxation(lower: torch.Tensor, upper: torch.Tensor):
        """(lower slope, upper slope, upper intercept) of the adaptive triangle relaxation."""
        active = lower >= 0
        unstable = (lower < 0) & (upper > 0)
        denom = (upper - lower).clamp(min=1e-12)
        up_slope = torch.where(unstable, upper / denom, active.to(lower.dtype))
        up_icpt = torch.where(unstable, -lower * upper / denom, torch.zeros_like(lower))
        lo_slope = torch.where(unstable, (upper >= -lower).to(lower.dtype), active.to(lower.dtype))
        return lo_slope, up_slope, up_icpt

    def relax(self, pre):
        assert pre is not None, "ReLU backward needs pre-activation bounds"
        lo_slope, up_slope, up_icpt = self.relaxation(pre[0], pre[1])
        unstable = (pre[0] < 0) & (pre[1] > 0)
        return ReluRelaxation(lo_slope.unsqueeze(1), up_slope.unsqueeze(1), up_icpt.unsqueeze(1), unstable.unsqueeze(1))

    def backward(self, A, relax: ReluRelaxation):
        if not isinstance(relax, ReluRelaxation):
            relax = self.relax(relax)
        A_pos, A_neg = A.clamp(min=0), A.clamp(max=0)
        A_in = A_pos * relax.lower_slope + A_neg * relax.upper_slope
        return [A_in], _bsum(A_neg * relax.upper_intercept)

    def backward_patches(self, P, relax: ReluRelaxation):
        if len(self.in_shapes[0]) != 3 or relax.lower_slope.shape[1] != 1:
            raise TypeError("patches need a [C, H, W] node and slopes shared by the rows")
        geom = (P.kernel, P.stride, P.offset)
        lo, up, icpt = (P.unfold(t.squeeze(1), (id(t),) + geom)
                        for t in (relax.lower_slope, relax.upper_slope, relax.upper_intercept))
        c_pos, c_neg = P.coef.clamp(min=0), P.coef.clamp(max=0)
        return P.replace(c_pos * lo + c_neg * up, P.stride, P.offset), (c_neg * icpt).flatten(2).sum(-1)

    def patch_kernel(self, kernel):
        return kernel


class BoundAdd(BoundOp):
    """The residual Add: ``a + b``."""

    name = "add"

    def forward(self, a, b):
        return a + b

    def ibp(self, a, b):
        return a[0] + b[0], a[1] + b[1]

    def backward(self, A, pre):
        return [A, A], None


class BoundSoftplus(BoundOp):
    """``torch.nn.Softplus(beta, threshold)``: ``log(1 + exp(beta·x)) / beta``, and ``x`` where
    ``beta·x > threshold`` (torch's switch to the identity, which undercuts softplus by at most
    ``delta = log1p(exp(-threshold)) / beta``; every bound below is widened by ``delta``).

    Softplus is increasing, so IBP maps the interval's ends. It is convex, so on ``[l, u]`` the chord
    through ``(l, sp(l))`` and ``(u, sp(u))`` lies above it and any tangent lies below it; the lower
    line is the tangent at the midpoint."""

    name = "softplus"
    affine = False

    def __init__(self, in_shapes, out_shape, beta: float = 1.0, threshold: float = 20.0):
        super().__init__(in_shapes, out_shape)
        self.beta, self.threshold = float(beta), float(threshold)
        self.delta = float(torch.log1p(torch.exp(torch.tensor(-self.threshold, dtype=torch.float64)))) / self.beta

    def _sp(self, x):
        # The exact softplus, stable for any x (no overflow of exp for large beta·x).
        return x.clamp(min=0) + torch.log1p(torch.exp(-self.beta * x.abs())) / self.beta

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def ibp(self, b):
        return self._sp(b[0]) - self.delta, self._sp(b[1])

    @staticmethod
    def tighten_mask(lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
        """Neurons whose relaxation a tighter pre-activation interval improves: all non-degenerate ones."""
        return upper > lower

    def relaxation(self, lower: torch.Tensor, upper: torch.Tensor):
        """(lower slope, lower intercept, upper slope, upper intercept) of the lines around softplus."""
        width = upper - lower
        narrow = width < 1e-6
        sp_l, sp_u = self._sp(lower), self._sp(upper)
        # Chord above; on a (numerically) degenerate interval the constant sp(u), also above.
        up_slope = torch.where(narrow, torch.zeros_like(width), (sp_u - sp_l) / width.clamp(min=1e-6))
        up_icpt = torch.where(narrow, sp_u, sp_l - up_slope * lower) + self.delta
        mid = (lower + upper) / 2
        lo_slope = torch.sigmoid(self.beta * mid)
        lo_icpt = self._sp(mid) - lo_slope * mid - self.delta
        return lo_slope, lo_icpt, up_slope, up_icpt

    def backward(self, A, pre):
        assert pre is not None, "Softplus backward needs pre-activation bounds"
        lo_slope, lo_icpt, up_slope, up_icpt = self.relaxation(pre[0], pre[1])
        A_pos, A_neg = A.clamp(min=0), A.clamp(max=0)
        A_in = A_pos * lo_slope.unsqueeze(1) + A_neg * up_slope.unsqueeze(1)
        bias = _bsum(A_pos * lo_icpt.unsqueeze(1) + A_neg * up_icpt.unsqueeze(1))
        return [A_in], bias
