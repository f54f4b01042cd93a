"""``from_module``: an ``nn.Sequential`` of supported layers → :class:`BoundedNetwork`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from curator.engines.bounds.network import BoundedNetwork, Node
from curator.engines.bounds.ops import (
    BoundAdd,
    BoundChannelAffine,
    BoundConv2d,
    BoundLinear,
    BoundReLU,
    BoundReshape,
    BoundSoftplus,
)
from curator.engines.layers import Normalize, Residual

SUPPORTED = (
    "Linear, Conv2d, ReLU, Softplus, Flatten, Unflatten, BatchNorm1d/2d (eval), AvgPool2d, "
    "curator.engines.layers.Normalize, curator.engines.layers.Residual, Identity, Dropout (eval), nested Sequential"
)


class UnsupportedLayerError(ValueError):
    """The model holds a layer the bound engine has no relaxation for."""


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


class _Builder:
    def __init__(self, input_shape: tuple[int, ...], dtype: torch.dtype):
        self.nodes: list[Node] = [Node(None, [], tuple(input_shape), "input")]
        self.values: list[torch.Tensor] = [torch.zeros(1, *input_shape, dtype=dtype)]

    def add(self, op_cls, inputs: list[int], module: nn.Module, label: str, *args) -> int:
        # The output shape comes from running the real torch module on the node's dummy input.
        with torch.no_grad():
            out = module(*[self.values[i] for i in inputs])
        op = op_cls([self.nodes[i].shape for i in inputs], tuple(out.shape[1:]), *args)
        self.nodes.append(Node(op, list(inputs), tuple(out.shape[1:]), label))
        self.values.append(out)
        return len(self.nodes) - 1

    def convert(self, module: nn.Module, src: int, path: str) -> int:
        shape = self.nodes[src].shape
        label = f"{path} ({type(module).__name__})"
        if isinstance(module, nn.Sequential):
            for name, child in module.named_children():
                src = self.convert(child, src, f"{path}.{name}" if path else name)
            return src
        if isinstance(module, Residual):
            a = self.convert(module.body, src, f"{path}.body")
            b = self.convert(module.shortcut, src, f"{path}.shortcut")
            return self.add(BoundAdd, [a, b], _Add(), label)
        if isinstance(module, (nn.Identity, nn.Dropout)):
            return src  # no node needed: identity in eval mode
        if isinstance(module, nn.ReLU):
            return self.add(BoundReLU, [src], module, label)
        if isinstance(module, nn.Softplus):
            return self.add(BoundSoftplus, [src], module, label, module.beta, module.threshold)
        if isinstance(module, nn.Linear):
            if len(shape) != 1:
                raise UnsupportedLayerError(f"{label}: Linear on a {len(shape) + 1}-d input (flatten it first)")
            return self.add(BoundLinear, [src], module, label, module.weight.data, module.bias)
        if isinstance(module, nn.Conv2d):
            if module.padding_mode != "zeros":
                raise UnsupportedLayerError(f"{label}: padding_mode {module.padding_mode!r} (only 'zeros')")
            padding = module.padding
            if isinstance(padding, str):
                # 'same' pads dilation·(k-1) in total per side pair; odd totals pad asymmetrically.
                totals = [d * (k - 1) for d, k in zip(_pair(module.dilation), module.kernel_size, strict=True)]
                if padding == "same" and any(t % 2 for t in totals):
                    raise UnsupportedLayerError(f"{label}: asymmetric 'same' padding is not supported")
                padding = tuple(t // 2 for t in totals) if padding == "same" else (0, 0)
            return self.add(
                BoundConv2d, [src], module, label, module.weight.data, module.bias,
                _pair(module.stride), _pair(padding), _pair(module.dilation), module.groups,
            )
        if isinstance(module, (nn.Flatten, nn.Unflatten)):
            return self.add(BoundReshape, [src], module, label)
        if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if module.training:
                raise UnsupportedLayerError(f"{label}: BatchNorm in training mode (call model.eval())")
            if module.running_mean is None or module.running_var is None:
                raise UnsupportedLayerError(f"{label}: BatchNorm without running statistics")
            scale = 1.0 / torch.sqrt(module.running_var + module.eps)
            shift = -module.running_mean * scale
            if module.affine:
                scale, shift = scale * module.weight.data, shift * module.weight.data + module.bias.data
            if isinstance(module, nn.BatchNorm1d) and len(shape) != 1:
                raise UnsupportedLayerError(f"{label}: BatchNorm1d on a {len(shape) + 1}-d input")
            return self.add(BoundChannelAffine, [src], module, label, scale, shift)
        if isinstance(module, Normalize):
            return self.add(BoundChannelAffine, [src], module, label, 1.0 / module.std, -module.mean / module.std)
        if isinstance(module, nn.AvgPool2d):
            return self._avgpool(module, src, label)
        raise UnsupportedLayerError(
            f"{label}: layer type {type(module).__name__} is not supported by curator's bound engine "
            f"(supported: {SUPPORTED})"
        )

    def _avgpool(self, module: nn.AvgPool2d, src: int, label: str) -> int:
        k, s, p = _pair(module.kernel_size), _pair(module.stride or module.kernel_size), _pair(module.padding)
        if module.ceil_mode or module.divisor_override is not None or (any(p) and not module.count_include_pad):
            raise UnsupportedLayerError(
                f"{label}: AvgPool2d with ceil_mode, divisor_override or count_include_pad=False is not supported"
            )
        # Average pooling with every window counted in full is a depthwise convolution with 1/(k·k).
        channels = self.nodes[src].shape[0]
        weight = torch.full((channels, 1, *k), 1.0 / (k[0] * k[1]), dtype=self.values[src].dtype)
        return self.add(BoundConv2d, [src], module, label, weight, None, s, p, (1, 1), channels)


class _Add(nn.Module):
    def forward(self, a, b):
        return a + b


def from_module(model: nn.Module, input_shape: Sequence[int], dtype: torch.dtype = torch.float32) -> BoundedNetwork:
    """Convert ``model`` (a Sequential of supported layers, see ``SUPPORTED``) for a batch of inputs
    of shape ``[B, *input_shape]``. Raises :class:`UnsupportedLayerError` naming the first layer the
    engine cannot bound. The returned network holds copies of the weights on CPU in ``dtype``; move
    it with ``.to(device, dtype)``."""
    model_device = next((p.device for p in model.parameters()), torch.device("cpu"))
    if model_device.type != "cpu" or any(p.dtype != dtype for p in model.parameters()):
        import copy

        model = copy.deepcopy(model).to(device="cpu", dtype=dtype)
    builder = _Builder(tuple(int(d) for d in input_shape), dtype)
    builder.convert(model, 0, "")
    return BoundedNetwork(builder.nodes)
