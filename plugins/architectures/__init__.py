"""Bundled architectures: the standard small networks of the certified-robustness literature.

Every network is a plain ``nn.Sequential`` of Linear, Conv2d, ReLU, Flatten, BatchNorm (eval),
AvgPool2d and :class:`curator.layers.Residual`, the vocabulary curator's bound engine
understands. Layer indices match the published code where weights exist (e.g. the Wong & Kolter
2018 MNIST model's ``0.weight … 7.bias``), so published state_dicts load unchanged. Sources are
listed in docs/architectures.md.
"""

from __future__ import annotations

from typing import Any, Callable

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

    def __init__(self, name: str, description: str, schema: dict[str, Any], factory: Callable[..., Any]):
        self.name = name
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

    from curator.layers import Residual

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
        "Small ResNet with curator.layers.Residual: 3 stages (w, 2w, 4w), `blocks` basic blocks each, AvgPool, FC 100.",
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
]


@hookimpl
def register_architectures(register):
    for arch in ARCHITECTURES:
        register(arch)
