"""Load an ONNX model as a plain ``nn.Sequential`` of layers curator's verifiers understand.

Why our own converter rather than onnx2torch: onnx2torch builds a ``torch.fx`` graph of its own
wrapper modules (``OnnxGemm``, ``OnnxBinaryMathOperation``, …) that the bound engine and the MILP
encoder would each have to learn, and it accepts ops we cannot bound. This converter emits only
``nn.Linear``, ``nn.Conv2d``, ``nn.ReLU``, ``nn.Flatten``, ``nn.Unflatten`` and
:class:`curator.engines.layers.Normalize`, folds constant Add/Sub/Mul/Div into the neighbouring affine
layer or into a ``Normalize``, and names the first op (or constant shape) it cannot express. It
reads the protobuf with the ``onnx`` package (no pickle, no code execution) and checks it with
``onnx.checker`` before converting; file size and tensor data are bounded.

Supported graphs are chains: every node consumes the running activation plus constants
(initializers or ``Constant`` nodes). Ops: Gemm, MatMul, Add, Sub, Mul, Div (by constants),
Conv (2-D, symmetric padding), Relu, Flatten, Reshape, Identity, Constant.

Input shape: the returned model takes ``[N, *d]`` where ``d`` is the graph input's shape without
its batch dimension (``[1, 784, 1]`` → ``[N, 784, 1]``). Pass ``input_shape`` to accept another
layout with the same number of elements in row-major order: this is allowed when the graph's
first shape-relevant op flattens (the VNN-COMP mnist_fc nets: ``input_shape=(1, 28, 28)`` gives a
model for ``[N, 1, 28, 28]`` MNIST batches), or when it equals the graph's own layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from curator.api import CuratorError
from curator.api.files import read_capped
from curator.engines.layers import Normalize
from curator.engines.limits import MAX_WEIGHT_LAYERS

MAX_ONNX_BYTES = 512 * 1024 * 1024  # decompressed; the largest VNN-COMP nets are far below this
# Depth caps: CROWN's cost grows with the square of the depth (a 200-layer chain took 76 s per
# batch), so a graph deeper than any network curator verifies is refused before conversion.
MAX_ONNX_NODES = 1024
MAX_ONNX_WEIGHT_LAYERS = MAX_WEIGHT_LAYERS  # Gemm/MatMul/Conv nodes, the cap of any network

__all__ = ["onnx_to_torch", "OnnxImportError", "MAX_ONNX_BYTES", "MAX_ONNX_NODES", "MAX_ONNX_WEIGHT_LAYERS"]


class OnnxImportError(CuratorError):
    """The ONNX file cannot be read or uses an op/shape curator cannot express."""


def _load_model(raw: bytes, name: str):
    import onnx

    try:
        model = onnx.load_from_string(raw)
    except Exception as exc:  # protobuf DecodeError and friends
        raise OnnxImportError(f"{name}: not an ONNX model: {exc}") from exc
    for init in model.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            raise OnnxImportError(f"{name}: initializer {init.name!r} uses external data (not supported)")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        raise OnnxImportError(f"{name}: ONNX checker rejected the model: {exc}") from exc
    return model


def _attrs(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _channel_vector(const: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    """The per-channel (dim 1) vector a constant broadcasts to over ``[1, *shape]``, or an error
    when the constant varies along any other axis (Normalize cannot express that)."""
    full = (1,) + tuple(shape)
    try:
        b = np.broadcast_to(const, full) if const.ndim <= len(full) else None
    except ValueError:
        b = None
    if b is None:
        raise OnnxImportError(f"{what}: constant of shape {list(const.shape)} does not broadcast to {list(full)}")
    vec = b[(0, slice(None)) + (0,) * (len(full) - 2)]
    if not np.array_equal(np.broadcast_to(vec.reshape((1, -1) + (1,) * (len(full) - 2)), full), b):
        raise OnnxImportError(
            f"{what}: constant of shape {list(const.shape)} varies within a channel; only scalar or "
            "per-channel constants are supported"
        )
    if np.all(vec == vec.flat[0]):
        return vec[:1].copy()
    return vec.copy()


class _Builder:
    """Accumulates layers while tracking the per-sample shape of the running activation."""

    def __init__(self, shape: tuple[int, ...]):
        self.layers: list[nn.Module] = []
        self.shape = shape
        self.flattened_first = None  # whether the first shape-relevant op flattens

    def _note_shape_op(self, flattens: bool) -> None:
        if self.flattened_first is None:
            self.flattened_first = flattens

    def _last_affine(self) -> nn.Module | None:
        last = self.layers[-1] if self.layers else None
        return last if isinstance(last, (nn.Linear, nn.Conv2d)) else None

    # ---- elementwise by constants: fold into the previous affine layer or a Normalize
    def add(self, c: np.ndarray, what: str) -> None:
        vec = _channel_vector(c, self.shape, what)
        last = self._last_affine()
        if last is not None and (vec.size == 1 or vec.size == last.weight.shape[0]):
            with torch.no_grad():
                if last.bias is None:
                    last.bias = nn.Parameter(torch.zeros(last.weight.shape[0]))
                last.bias += torch.as_tensor(vec, dtype=torch.float32)
            return
        self._normalize(mean=-vec, std=np.ones_like(vec))

    def mul(self, c: np.ndarray, what: str) -> None:
        vec = _channel_vector(c, self.shape, what)
        last = self._last_affine()
        if last is not None and (vec.size == 1 or vec.size == last.weight.shape[0]):
            scale = torch.as_tensor(vec, dtype=torch.float32)
            with torch.no_grad():
                view = (-1,) + (1,) * (last.weight.dim() - 1)
                last.weight.mul_(scale.view(view) if scale.numel() > 1 else scale)
                if last.bias is not None:
                    last.bias.mul_(scale)
            return
        if np.any(vec <= 0):
            raise OnnxImportError(f"{what}: multiplying the input by a non-positive constant is not supported")
        self._normalize(mean=np.zeros_like(vec), std=1.0 / vec)

    def _normalize(self, mean: np.ndarray, std: np.ndarray) -> None:
        # Compose with a directly preceding Normalize: ((x - m1)/s1 - m2)/s2 = (x - (m1 + m2 s1))/(s1 s2)
        last = self.layers[-1] if self.layers else None
        if isinstance(last, Normalize):
            m1, s1 = last.mean.double().numpy(), last.std.double().numpy()
            mean, std = np.broadcast_arrays(m1 + mean * s1, s1 * std)
            self.layers.pop()
        self.layers.append(Normalize(np.asarray(mean, dtype=np.float64).ravel().tolist(),
                                     np.asarray(std, dtype=np.float64).ravel().tolist()))

    # ---- shape ops
    def flatten(self) -> None:
        self._note_shape_op(True)
        if len(self.shape) != 1:
            self.layers.append(nn.Flatten())
            self.shape = (int(np.prod(self.shape)),)

    def reshape(self, target: Sequence[int], what: str) -> None:
        target = [int(t) for t in target]
        numel = int(np.prod(self.shape))
        if len(target) < 1 or target[0] not in (-1, 0, 1):
            raise OnnxImportError(f"{what}: Reshape to {target} changes the batch dimension")
        rest = target[1:]
        if rest.count(-1) > 1:
            raise OnnxImportError(f"{what}: Reshape to {target} has several -1")
        rest = [self.shape[i] if t == 0 and i < len(self.shape) else t for i, t in enumerate(rest)]
        if -1 in rest:
            known = int(np.prod([t for t in rest if t != -1])) or 1
            rest[rest.index(-1)] = numel // known
        if int(np.prod(rest)) != numel:
            raise OnnxImportError(f"{what}: cannot Reshape {list(self.shape)} to {target}")
        if tuple(rest) == self.shape:
            return
        if len(rest) == 1:
            self.flatten()
            return
        self._note_shape_op(False)
        if len(self.shape) != 1:
            self.layers.append(nn.Flatten())
        self.layers.append(nn.Unflatten(1, tuple(rest)))
        self.shape = tuple(rest)

    # ---- affine layers
    def linear(self, weight: np.ndarray, bias: np.ndarray | None, what: str) -> None:
        """``y = x @ weight.T + bias`` with ``weight`` [out, in]."""
        if len(self.shape) != 1:
            raise OnnxImportError(f"{what}: matrix product on a {len(self.shape) + 1}-D activation "
                                  f"{[None, *self.shape]} (flatten it first)")
        self._note_shape_op(True)
        out_f, in_f = weight.shape
        if in_f != self.shape[0]:
            raise OnnxImportError(f"{what}: weight expects {in_f} inputs, activation has {self.shape[0]}")
        lin = nn.Linear(in_f, out_f, bias=True)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
            b = np.zeros(out_f) if bias is None else np.broadcast_to(bias, (out_f,))
            lin.bias.copy_(torch.as_tensor(np.array(b), dtype=torch.float32))
        self.layers.append(lin)
        self.shape = (out_f,)

    def conv(self, weight: np.ndarray, bias: np.ndarray | None, attrs: dict, what: str) -> None:
        if weight.ndim != 4 or len(self.shape) != 3:
            raise OnnxImportError(f"{what}: only 2-D convolutions on [N, C, H, W] activations are supported")
        self._note_shape_op(False)
        if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise OnnxImportError(f"{what}: Conv auto_pad={attrs['auto_pad']!r} is not supported")
        out_c, in_per_group, kh, kw = weight.shape
        group = int(attrs.get("group", 1))
        strides = list(attrs.get("strides", [1, 1]))
        dil = list(attrs.get("dilations", [1, 1]))
        pads = list(attrs.get("pads", [0, 0, 0, 0]))
        if pads[0] != pads[2] or pads[1] != pads[3]:
            raise OnnxImportError(f"{what}: asymmetric Conv padding {pads} is not supported")
        c, h, w = self.shape
        if in_per_group * group != c:
            raise OnnxImportError(f"{what}: Conv expects {in_per_group * group} channels, activation has {c}")
        conv = nn.Conv2d(c, out_c, (kh, kw), stride=tuple(strides), padding=(pads[0], pads[1]),
                         dilation=tuple(dil), groups=group, bias=True)
        with torch.no_grad():
            conv.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
            conv.bias.copy_(torch.as_tensor(np.zeros(out_c) if bias is None else bias, dtype=torch.float32))
        self.layers.append(conv)
        oh = (h + 2 * pads[0] - dil[0] * (kh - 1) - 1) // strides[0] + 1
        ow = (w + 2 * pads[1] - dil[1] * (kw - 1) - 1) // strides[1] + 1
        self.shape = (out_c, oh, ow)


def _check_depth(graph, name: str) -> None:
    nodes = len(graph.node)
    if nodes > MAX_ONNX_NODES:
        raise OnnxImportError(f"{name}: {nodes} nodes, over curator's limit of {MAX_ONNX_NODES}")
    layers = sum(1 for n in graph.node if n.op_type in ("Gemm", "MatMul", "Conv"))
    if layers > MAX_ONNX_WEIGHT_LAYERS:
        raise OnnxImportError(f"{name}: {layers} weight layers (Gemm/MatMul/Conv), over curator's limit of "
                              f"{MAX_ONNX_WEIGHT_LAYERS}: bound propagation on deeper chains is not affordable")


def onnx_to_torch(source: str | Path | bytes, input_shape: Sequence[int] | None = None,
                  max_bytes: int = MAX_ONNX_BYTES) -> nn.Sequential:
    """Convert an ONNX file (path, ``.onnx.gz`` too, or bytes) to an ``nn.Sequential`` in eval mode.

    ``input_shape`` (per sample, without batch) declares the layout callers will feed; see the
    module docstring for when it may differ from the graph's. Raises :class:`OnnxImportError`
    naming the file and the first op or shape that cannot be converted.
    """
    from onnx import numpy_helper

    raw, name = read_capped(source, max_bytes, OnnxImportError, "ONNX file")
    model = _load_model(raw, name)
    graph = model.graph
    _check_depth(graph, name)

    consts: dict[str, np.ndarray] = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    current, sample_shape = _graph_input(graph, consts, name)
    builder = _Builder(tuple(sample_shape))
    for idx, node in enumerate(graph.node):
        what = f"{name}: node {idx} ({node.op_type} {node.name!r})"
        if node.op_type == "Constant":
            attrs = _attrs(node)
            if "value" not in attrs:
                raise OnnxImportError(f"{what}: only tensor-valued Constant nodes are supported")
            consts[node.output[0]] = numpy_helper.to_array(attrs["value"])
            continue
        _convert_node(builder, node, current, consts, what)
        current = node.output[0]

    outputs = [o.name for o in graph.output]
    if outputs != [current]:
        raise OnnxImportError(f"{name}: graph output {outputs} is not the end of the chain {current!r}")
    seq = nn.Sequential(*_fit_input_shape(builder, sample_shape, input_shape, name))
    seq.eval()
    return seq


def _graph_input(graph, consts: dict[str, np.ndarray], name: str) -> tuple[str, tuple[int, ...]]:
    """The graph's one (non-constant) input: its name and its static per-sample shape."""
    inputs = [i for i in graph.input if i.name not in consts]
    if len(inputs) != 1:
        raise OnnxImportError(f"{name}: expected one graph input, found {[i.name for i in inputs]}")
    dims = inputs[0].type.tensor_type.shape.dim
    graph_shape = tuple(int(d.dim_value) if d.dim_value > 0 else -1 for d in dims)
    if len(graph_shape) < 2 or any(d < 0 for d in graph_shape[1:]):
        raise OnnxImportError(f"{name}: graph input needs a batch dimension and static sizes, got {graph_shape}")
    return inputs[0].name, graph_shape[1:]


def _convert_node(builder: _Builder, node, current: str, consts: dict[str, np.ndarray], what: str) -> None:
    """Append the layers of one chain node, which consumes the running activation ``current``."""
    op = node.op_type
    attrs = _attrs(node)
    ins = list(node.input)
    if current not in ins:
        raise OnnxImportError(f"{what}: does not consume the running activation {current!r}; only "
                              "chain-shaped graphs are supported")
    others = [i for i in ins if i != current and i != ""]
    missing = [i for i in others if i not in consts]
    if missing:
        raise OnnxImportError(f"{what}: inputs {missing} are neither the activation nor constants "
                              "(branching graphs are not supported)")

    def c(i: str) -> np.ndarray:
        return np.asarray(consts[i], dtype=np.float64)

    if op in ("Identity", "Dropout"):
        pass
    elif op == "Relu":
        builder.layers.append(nn.ReLU())
    elif op == "Flatten":
        if int(attrs.get("axis", 1)) != 1:
            raise OnnxImportError(f"{what}: Flatten axis={attrs.get('axis')} (only axis=1 is supported)")
        builder.flatten()
    elif op == "Reshape":
        builder.reshape(consts[ins[1]].astype(np.int64).tolist(), what)
    elif op == "Gemm":
        if ins[0] != current or int(attrs.get("transA", 0)):
            raise OnnxImportError(f"{what}: Gemm must take the activation as A without transA")
        b = c(ins[1])
        weight = b if int(attrs.get("transB", 0)) else b.T
        weight = weight * float(attrs.get("alpha", 1.0))
        bias = c(ins[2]) * float(attrs.get("beta", 1.0)) if len(ins) > 2 and ins[2] else None
        builder.linear(weight, bias, what)
    elif op == "MatMul":
        if ins[0] != current or c(ins[1]).ndim != 2:
            raise OnnxImportError(f"{what}: MatMul must be activation @ constant 2-D matrix")
        builder.linear(c(ins[1]).T, None, what)
    elif op == "Conv":
        if ins[0] != current:
            raise OnnxImportError(f"{what}: Conv must take the activation as X")
        builder.conv(c(ins[1]), c(ins[2]) if len(ins) > 2 and ins[2] else None, attrs, what)
    elif op in ("Add", "Sub", "Mul", "Div"):
        if len(others) != 1:
            raise OnnxImportError(f"{what}: {op} of the activation with itself is not supported")
        _elementwise(builder, op, c(others[0]), activation_first=ins[0] == current, what=what)
    else:
        raise OnnxImportError(f"{what}: unsupported op {op!r}")


def _elementwise(builder: _Builder, op: str, k: np.ndarray, activation_first: bool, what: str) -> None:
    """``x op k`` (or ``k op x``) for a constant ``k``, as the builder's scale and shift."""
    if op == "Add":
        builder.add(k, what)
    elif op == "Sub":
        if not activation_first:  # k - x = (-1)·x + k
            builder.mul(np.array(-1.0), what)
            builder.add(k, what)
        else:
            builder.add(-k, what)
    elif op == "Mul":
        builder.mul(k, what)
    else:
        if not activation_first:
            raise OnnxImportError(f"{what}: dividing a constant by the activation is not supported")
        if np.any(k == 0):
            raise OnnxImportError(f"{what}: division by zero")
        builder.mul(1.0 / k, what)


def _fit_input_shape(builder: _Builder, sample_shape: tuple[int, ...], input_shape: Sequence[int] | None,
                     name: str) -> list[nn.Module]:
    """The layers, fed ``input_shape`` when the caller declares a layout other than the graph's
    (allowed when the graph flattens first: then only the element count matters)."""
    layers = builder.layers
    if input_shape is None:
        return layers
    want = tuple(int(d) for d in input_shape)
    if want == tuple(sample_shape):
        return layers
    if int(np.prod(want)) != int(np.prod(sample_shape)):
        raise OnnxImportError(f"{name}: input_shape {list(want)} has {int(np.prod(want))} elements, the "
                              f"graph input {list(sample_shape)} has {int(np.prod(sample_shape))}")
    if not builder.flattened_first:
        raise OnnxImportError(f"{name}: input_shape {list(want)} differs from the graph's "
                              f"{list(sample_shape)} and the graph does not flatten first")
    if len(sample_shape) == 1:
        return [nn.Flatten()] + layers  # everything after acts on the flat vector
    head = layers[: next(i for i, m in enumerate(layers) if isinstance(m, nn.Flatten))]
    if any(isinstance(m, Normalize) and m.mean.numel() > 1 for m in head):
        raise OnnxImportError(f"{name}: per-channel normalisation before the flatten ties the "
                              f"model to the graph's input layout {list(sample_shape)}")
    return layers
