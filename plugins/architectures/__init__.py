"""Bundled architectures: the standard small networks of the certified-robustness literature.

Every network is a plain ``nn.Sequential`` of Linear, Conv2d, ReLU, Flatten, BatchNorm (eval),
AvgPool2d and :class:`curator.engines.layers.Residual`, the vocabulary curator's bound engine
understands. Layer indices match the published code where weights exist (e.g. the Wong & Kolter
2018 MNIST model's ``0.weight … 7.bias``), so published state_dicts load unchanged. Sources are
listed in docs/architectures.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from curator.api import Architecture, hookimpl

__version__ = "1.0.0"

_IMAGE = {
    "in_channels": {"type": "integer", "minimum": 1, "maximum": 64, "default": 1},
    "in_size": {"type": "integer", "minimum": 4, "maximum": 1024, "default": 28},
    "num_classes": {"type": "integer", "minimum": 2, "maximum": 100000, "default": 10},
}


def _schema(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        schema["required"] = required
    return schema


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    out = (size + 2 * padding - kernel) // stride + 1
    if out < 1:
        raise ValueError(f"input size {size} is too small for this network")
    return out


class _Arch(Architecture):
    """An architecture whose build fills in the schema's defaults before calling ``factory``."""

    def __init__(self, name: str, description: str, schema: dict[str, Any], factory: Callable[..., Any],
                 takes_input_shape: bool = False):
        self.name = name
        # True: kwargs.input_shape defaults to the claim's model.input_shape (the host's architecture_kwargs).
        self.takes_input_shape = takes_input_shape
        self.version = __version__
        self.description = description
        self.kwargs_schema = schema
        self._factory = factory

    def build(self, **kwargs: Any):
        params = {k: v["default"] for k, v in self.kwargs_schema["properties"].items() if "default" in v}
        params.update(kwargs)
        return self._factory(**params)


# --------------------------------------------------------------------------- builders


def build_fc(input_shape: list[int], hidden: list[int], num_classes: int):
    from torch import nn

    d = 1
    for s in input_shape:
        d *= int(s)
    layers: list[nn.Module] = [nn.Flatten()]
    prev = d
    for h in hidden:
        layers += [nn.Linear(prev, int(h)), nn.ReLU()]
        prev = int(h)
    layers.append(nn.Linear(prev, num_classes))
    return nn.Sequential(*layers)


def build_wong_kolter_small(in_channels: int, in_size: int, num_classes: int, width: int = 1):
    from torch import nn

    s = _conv_out(_conv_out(in_size, 4, 2, 1), 4, 2, 1)
    return nn.Sequential(
        nn.Conv2d(in_channels, 16 * width, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16 * width, 32 * width, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(32 * width * s * s, 100 * width),
        nn.ReLU(),
        nn.Linear(100 * width, num_classes),
    )


def _conv_large_features(in_channels: int, in_size: int, c1: int, c2: int):
    from torch import nn

    s = in_size
    s = _conv_out(s, 3, 1, 1)
    s = _conv_out(s, 4, 2, 1)
    s = _conv_out(s, 3, 1, 1)
    s = _conv_out(s, 4, 2, 1)
    layers = [
        nn.Conv2d(in_channels, c1, 3, stride=1, padding=1),
        nn.ReLU(),
        nn.Conv2d(c1, c1, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(c1, c2, 3, stride=1, padding=1),
        nn.ReLU(),
        nn.Conv2d(c2, c2, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Flatten(),
    ]
    return layers, c2 * s * s


def build_wong_kolter_large(in_channels: int, in_size: int, num_classes: int):
    from torch import nn

    layers, flat = _conv_large_features(in_channels, in_size, 32, 64)
    layers += [nn.Linear(flat, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, num_classes)]
    return nn.Sequential(*layers)


def build_cnn_b(in_channels: int, in_size: int, num_classes: int):
    from torch import nn

    layers, flat = _conv_large_features(in_channels, in_size, 16, 32)
    layers += [nn.Linear(flat, 512), nn.ReLU(), nn.Linear(512, num_classes)]
    return nn.Sequential(*layers)


def build_cnn_7layer(in_channels: int, in_size: int, num_classes: int, width: int, linear_size: int):
    from torch import nn

    w = width
    s = _conv_out(in_size, 3, 2, 1)
    convs = [(in_channels, w, 1), (w, w, 1), (w, 2 * w, 2), (2 * w, 2 * w, 1), (2 * w, 2 * w, 1)]
    layers: list[nn.Module] = []
    for cin, cout, stride in convs:
        layers += [nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
    layers += [
        nn.Flatten(),
        nn.Linear(2 * w * s * s, linear_size),
        nn.BatchNorm1d(linear_size),
        nn.ReLU(),
        nn.Linear(linear_size, num_classes),
    ]
    return nn.Sequential(*layers)


def build_resnet_small(in_channels: int, in_size: int, num_classes: int, width: int, blocks: int, batchnorm: bool):
    from torch import nn

    from curator.api.nn import Residual

    def conv_bn(cin: int, cout: int, stride: int) -> list[nn.Module]:
        mods: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride=stride, padding=1)]
        if batchnorm:
            mods.append(nn.BatchNorm2d(cout))
        return mods

    def block(cin: int, cout: int, stride: int) -> nn.Module:
        body = nn.Sequential(*conv_bn(cin, cout, stride), nn.ReLU(), *conv_bn(cout, cout, 1))
        shortcut = None if (cin == cout and stride == 1) else nn.Conv2d(cin, cout, 1, stride=stride)
        return Residual(body, shortcut)

    layers: list[nn.Module] = [*conv_bn(in_channels, width, 1), nn.ReLU()]
    s = in_size
    channels = width
    for stage, cout in enumerate((width, 2 * width, 4 * width)):
        for b in range(blocks):
            stride = 2 if (stage > 0 and b == 0) else 1
            layers += [block(channels, cout, stride), nn.ReLU()]
            if stride == 2:
                s = _conv_out(s, 3, 2, 1)
            channels = cout
    layers += [nn.AvgPool2d(2), nn.Flatten()]
    s = s // 2
    if s < 1:
        raise ValueError(f"input size {in_size} is too small for resnet-small")
    layers += [nn.Linear(channels * s * s, 100), nn.ReLU(), nn.Linear(100, num_classes)]
    return nn.Sequential(*layers)


def _pair(v: Any) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _sequential_layer(spec: dict[str, Any], shape: tuple[int, ...], pos: int):
    """One layer of ``sequential`` and its output shape, from the layer's spec and input shape."""
    from torch import nn

    kind = spec["type"]
    if kind in ("conv2d", "avgpool2d", "batchnorm") and len(shape) != 3 and not (kind == "batchnorm" and len(shape) == 1):
        raise ValueError(f"layers[{pos}] ({kind}) needs a [C, H, W] input, gets {list(shape)}")
    if kind == "conv2d":
        k, st, pd = _pair(spec["kernel_size"]), _pair(spec.get("stride", 1)), _pair(spec.get("padding", 0))
        out = (int(spec["out_channels"]), _conv_out(shape[1], k[0], st[0], pd[0]), _conv_out(shape[2], k[1], st[1], pd[1]))
        return nn.Conv2d(shape[0], out[0], k, stride=st, padding=pd, bias=spec.get("bias", True)), out
    if kind == "linear":
        if len(shape) != 1:
            raise ValueError(f"layers[{pos}] (linear) needs a flat input, gets {list(shape)}: add a flatten layer")
        return nn.Linear(shape[0], int(spec["out_features"]), bias=spec.get("bias", True)), (int(spec["out_features"]),)
    if kind == "relu":
        return nn.ReLU(), shape
    if kind == "softplus":
        return nn.Softplus(beta=float(spec.get("beta", 1.0))), shape
    if kind == "flatten":
        d = 1
        for s in shape:
            d *= s
        return nn.Flatten(), (d,)
    if kind == "batchnorm":
        cls = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
        return cls(shape[0], eps=float(spec.get("eps", 1e-5))), shape
    if kind == "avgpool2d":
        k = _pair(spec["kernel_size"])
        st = _pair(spec.get("stride", spec["kernel_size"]))
        out = (shape[0], _conv_out(shape[1], k[0], st[0], 0), _conv_out(shape[2], k[1], st[1], 0))
        return nn.AvgPool2d(k, stride=st), out
    raise ValueError(f"layers[{pos}]: unknown layer type {kind!r}")  # the schema's enum stops this first


def build_sequential(input_shape: list[int], layers: list[dict[str, Any]]):
    """``nn.Sequential`` of the listed layers; each layer's in-shape is the previous one's out-shape.
    Module names are the layer's ``name`` when given, else its position — so state_dict keys are
    ``<position>.weight`` (torch's own Sequential numbering) or ``<name>.weight``."""
    from collections import OrderedDict

    from torch import nn

    shape = tuple(int(d) for d in input_shape)
    mods: OrderedDict[str, nn.Module] = OrderedDict()
    for pos, spec in enumerate(layers):
        module, shape = _sequential_layer(spec, shape, pos)
        key = spec.get("name", str(pos))
        if key in mods:
            raise ValueError(f"layers[{pos}]: name {key!r} is used twice")
        mods[key] = module
    return nn.Sequential(mods)


def build_cascade(stages: list[dict[str, Any]], input_shape: list[int] | None = None):
    """A :class:`curator.engines.cascade.Cascade` of registered architectures (stage ``i``'s weights are
    state_dict ``i`` of the checkpoint's list, see ``model.state_dict_key``)."""
    from curator.api.nn import Cascade, build_architecture
    from curator.api.registry import get_registry

    registry = get_registry()
    built = []
    for i, stage in enumerate(stages):
        if stage["name"] == "cascade":
            raise ValueError(f"stages[{i}]: a cascade cannot be a stage of a cascade")
        kwargs = dict(stage.get("kwargs") or {})
        if input_shape is not None and getattr(registry.architecture(stage["name"]), "takes_input_shape", False):
            kwargs.setdefault("input_shape", list(input_shape))
        built.append(build_architecture(registry, stage["name"], kwargs))
    return Cascade(built)


_SIZE = {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 64},
                   {"type": "array", "minItems": 2, "maxItems": 2, "items": {"type": "integer", "minimum": 0, "maximum": 64}}]}
_LAYER = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"enum": ["conv2d", "linear", "relu", "softplus", "flatten", "batchnorm", "avgpool2d"]},
                   "name": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$"}},
    "allOf": [
        {"if": {"properties": {"type": {"const": "conv2d"}}},
         "then": {"required": ["out_channels", "kernel_size"],
                  "properties": {"out_channels": {"type": "integer", "minimum": 1, "maximum": 65536},
                                 "kernel_size": _SIZE, "stride": _SIZE, "padding": _SIZE, "bias": {"type": "boolean"}}}},
        {"if": {"properties": {"type": {"const": "linear"}}},
         "then": {"required": ["out_features"],
                  "properties": {"out_features": {"type": "integer", "minimum": 1, "maximum": 1048576}, "bias": {"type": "boolean"}}}},
        {"if": {"properties": {"type": {"const": "softplus"}}},
         "then": {"properties": {"beta": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000}}}},
        {"if": {"properties": {"type": {"const": "batchnorm"}}},
         "then": {"properties": {"eps": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}}}},
        {"if": {"properties": {"type": {"const": "avgpool2d"}}},
         "then": {"required": ["kernel_size"], "properties": {"kernel_size": _SIZE, "stride": _SIZE}}},
    ],
}
_INPUT_SHAPE = {"type": "array", "minItems": 1, "maxItems": 4, "items": {"type": "integer", "minimum": 1, "maximum": 4096}}

ARCHITECTURES = [
    _Arch(
        "fc",
        "Fully-connected ReLU net: Flatten, Linear+ReLU per hidden size, Linear to num_classes.",
        _schema(
            {
                "input_shape": {"type": "array", "minItems": 1, "maxItems": 4, "items": {"type": "integer", "minimum": 1, "maximum": 4096}},
                "hidden": {"type": "array", "maxItems": 64, "items": {"type": "integer", "minimum": 1, "maximum": 65536}},
                "num_classes": {"type": "integer", "minimum": 2, "maximum": 100000, "default": 10},
            },
            ["input_shape", "hidden"],
        ),
        build_fc,
    ),
    _Arch(
        "wong-kolter-small",
        "Wong & Kolter 2018 small conv net (SoK 'CNNa'): 2 convs 4x4/2 (16, 32) + FC 100.",
        _schema({**_IMAGE, "width": {"type": "integer", "minimum": 1, "maximum": 16, "default": 1}}),
        build_wong_kolter_small,
    ),
    _Arch(
        "cnn-a",
        "SoK benchmark CNNa = Wong & Kolter 2018 small conv net (alias of wong-kolter-small).",
        _schema(dict(_IMAGE)),
        build_wong_kolter_small,
    ),
    _Arch(
        "wong-kolter-large",
        "Wong et al. 2018 'Scaling provable adversarial defenses' large conv net (SoK 'CNNc'): 4 convs (32,32,64,64) + FC 512, 512.",
        _schema(dict(_IMAGE)),
        build_wong_kolter_large,
    ),
    _Arch(
        "cnn-b",
        "SoK benchmark CNNb: half-width Wong et al. 2018 large net, 4 convs (16,16,32,32) + FC 512.",
        _schema(dict(_IMAGE)),
        build_cnn_b,
    ),
    _Arch(
        "cnn-7layer",
        "CNN7 of Shi et al. 2021 (also SABR, TAPS): 5 conv+BN+ReLU (64,64,128,128,128; one stride 2) + FC 512 with BN.",
        _schema(
            {
                **_IMAGE,
                "in_channels": {**_IMAGE["in_channels"], "default": 3},
                "in_size": {**_IMAGE["in_size"], "default": 32},
                "width": {"type": "integer", "minimum": 1, "maximum": 1024, "default": 64},
                "linear_size": {"type": "integer", "minimum": 1, "maximum": 65536, "default": 512},
            }
        ),
        build_cnn_7layer,
    ),
    _Arch(
        "resnet-small",
        "Small ResNet with curator.engines.layers.Residual: 3 stages (w, 2w, 4w), `blocks` basic blocks each, AvgPool, FC 100.",
        _schema(
            {
                **_IMAGE,
                "in_channels": {**_IMAGE["in_channels"], "default": 3},
                "in_size": {**_IMAGE["in_size"], "default": 32},
                "width": {"type": "integer", "minimum": 1, "maximum": 256, "default": 16},
                "blocks": {"type": "integer", "minimum": 1, "maximum": 8, "default": 1},
                "batchnorm": {"type": "boolean", "default": False},
            }
        ),
        build_resnet_small,
    ),
    _Arch(
        "sequential",
        "Any stack of conv2d/linear/relu/softplus/flatten/batchnorm/avgpool2d layers given one by one in `layers`; "
        "in-shapes inferred from input_shape (default: the claim's model.input_shape).",
        _schema({"input_shape": _INPUT_SHAPE, "layers": {"type": "array", "minItems": 1, "maxItems": 64, "items": _LAYER}},
                ["input_shape", "layers"]),
        build_sequential,
        takes_input_shape=True,
    ),
    _Arch(
        "cascade",
        "Wong et al. 2018 cascade: `stages` (registered architectures), sample routed to the first stage that "
        "certifies it; certified with curator.engines.cascade's sound rule (docs/verifiers.md).",
        _schema({"input_shape": _INPUT_SHAPE,
                 "stages": {"type": "array", "minItems": 1, "maxItems": 16,
                            "items": {"type": "object", "additionalProperties": False, "required": ["name"],
                                      "properties": {"name": {"type": "string"}, "kwargs": {"type": "object"}}}}},
                ["stages"]),
        build_cascade,
        takes_input_shape=True,
    ),
]


@hookimpl
def register_architectures(register):
    for arch in ARCHITECTURES:
        register(arch)
