"""The ``sequential`` architecture: published layer lists, inferred in-shapes, the bound engine."""

import pytest
import torch
from torch import nn

from curator.api.registry import get_registry
from curator.engines.bounds import from_module
from curator.verify.models import ModelError, build_architecture


def conv(c, k, s=1, p=0, **kw):
    return {"type": "conv2d", "out_channels": c, "kernel_size": k, "stride": s, "padding": p, **kw}


RELU, FLAT = {"type": "relu"}, {"type": "flatten"}


def lin(n, **kw):
    return {"type": "linear", "out_features": n, **kw}


# Layer lists as the papers' code defines them (docs/architectures.md has the sources).
PUBLISHED = {
    # ERAN ConvSmall (MNIST): two 4x4 stride-2 convolutions without padding, FC 100.
    "eran-convsmall": ([1, 28, 28], [conv(16, 4, 2), RELU, conv(32, 4, 2), RELU, FLAT, lin(100), RELU, lin(10)], 800),
    # OVAL base and deep (CIFAR-10).
    "oval-base": ([3, 32, 32], [conv(8, 4, 2, 1), RELU, conv(16, 4, 2, 1), RELU, FLAT, lin(100), RELU, lin(10)], 1024),
    "oval-deep": ([3, 32, 32], [conv(8, 4, 2, 1), RELU, conv(8, 3, 1, 1), RELU, conv(8, 3, 1, 1), RELU, conv(8, 4, 2, 1),
                                RELU, FLAT, lin(100), RELU, lin(10)], 512),
    # COLT ConvMed (CIFAR-10, width1=2, width2=4, linear_size=250).
    "colt-convmed": ([3, 32, 32], [conv(32, 5, 2, 2), RELU, conv(128, 4, 2, 1), RELU, FLAT, lin(250), RELU, lin(10)], 8192),
}


@pytest.fixture(scope="module")
def registry():
    return get_registry()


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_layer_lists_build_and_bound_exactly(registry, name):
    shape, layers, flat = PUBLISHED[name]
    net = build_architecture(registry, "sequential", {"input_shape": shape, "layers": layers}).eval()
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert linears[0].in_features == flat
    torch.manual_seed(0)
    x = torch.rand(3, *shape)
    bounded = from_module(net, shape)
    assert torch.allclose(bounded(x), net(x), atol=1e-5)
    lb = bounded.margin_lower_bounds(x, net(x).argmax(1), "linf", 0.0, method="crown")
    # At radius 0 the margin bound is the margin itself.
    out = net(x)
    margins = out.gather(1, out.argmax(1, keepdim=True)) - out
    finite = torch.isfinite(lb)
    assert torch.allclose(lb[finite], margins[finite], atol=1e-4)


def test_state_dict_keys_are_positions_or_names(registry):
    layers = [FLAT, lin(8, name="fc1"), {"type": "softplus"}, lin(3, name="fc2")]
    net = build_architecture(registry, "sequential", {"input_shape": [2, 2], "layers": layers})
    assert sorted(net.state_dict()) == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]
    net = build_architecture(registry, "sequential", {"input_shape": [2, 2], "layers": [FLAT, lin(3), RELU, lin(2)]})
    assert sorted(net.state_dict()) == ["1.bias", "1.weight", "3.bias", "3.weight"]


def test_wong_kolter_checkpoint_loads_into_the_same_layer_list(registry, shared):
    state = torch.load(shared / "artifacts/models/wong-kolter-2018/mnist.pth", weights_only=True, map_location="cpu")
    layers = [conv(16, 4, 2, 1), RELU, conv(32, 4, 2, 1), RELU, FLAT, lin(100), RELU, lin(10)]
    net = build_architecture(registry, "sequential", {"input_shape": [1, 28, 28], "layers": layers})
    net.load_state_dict(state, strict=True)


def test_batchnorm_and_avgpool_layers(registry):
    layers = [conv(4, 3, 1, 1), {"type": "batchnorm"}, RELU, {"type": "avgpool2d", "kernel_size": 2}, FLAT, lin(6),
              {"type": "batchnorm"}, RELU, lin(3)]
    net = build_architecture(registry, "sequential", {"input_shape": [1, 8, 8], "layers": layers}).eval()
    assert isinstance(net[1], nn.BatchNorm2d) and isinstance(net[6], nn.BatchNorm1d)
    x = torch.rand(2, 1, 8, 8)
    assert torch.allclose(from_module(net, (1, 8, 8))(x), net(x), atol=1e-5)


@pytest.mark.parametrize("layers,fragment", [
    ([lin(3)], "flatten"),
    ([FLAT, conv(3, 2)], "[C, H, W]"),
    ([conv(3, 40), FLAT, lin(2)], "too small"),
    ([FLAT, lin(3, name="a"), RELU, lin(2, name="a")], "twice"),
])
def test_impossible_layer_lists_are_model_errors(registry, layers, fragment):
    with pytest.raises(ModelError, match="could not be built") as info:
        build_architecture(registry, "sequential", {"input_shape": [1, 8, 8], "layers": layers})
    assert fragment in str(info.value)


def test_unknown_layer_type_is_refused_by_the_schema(registry):
    with pytest.raises(ModelError, match="invalid kwargs"):
        build_architecture(registry, "sequential", {"input_shape": [1, 8, 8], "layers": [{"type": "maxpool"}]})
