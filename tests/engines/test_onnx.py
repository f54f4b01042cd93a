"""ONNX import: equality with onnx's reference evaluator, clean accuracy, op coverage, errors."""

from __future__ import annotations

import gzip

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator
from torch import nn

from curator.engines.layers import Normalize
from curator.engines.onnx import OnnxImportError, onnx_to_torch

NETS = {"256x2": 0.9808, "256x4": 0.9764, "256x6": 0.9689}  # published clean accuracy


def mnist(shared, n=None):
    base = shared / "artifacts" / "mnist"
    images = np.frombuffer(gzip.open(base / "t10k-images-idx3-ubyte.gz").read()[16:], np.uint8)
    labels = np.frombuffer(gzip.open(base / "t10k-labels-idx1-ubyte.gz").read()[8:], np.uint8)
    images = images.reshape(-1, 1, 28, 28)[:n].astype(np.float32) / 255.0
    return torch.from_numpy(images), torch.from_numpy(labels[:n].astype(np.int64))


@pytest.mark.parametrize("net", sorted(NETS))
def test_vnncomp_net_matches_reference_and_published_accuracy(shared, net):
    path = shared / "artifacts" / "vnncomp2022-mnist_fc" / "onnx" / f"mnist-net_{net}.onnx.gz"
    model = onnx_to_torch(path, input_shape=(1, 28, 28))
    assert all(isinstance(m, (nn.Flatten, nn.Linear, nn.ReLU)) for m in model)
    images, labels = mnist(shared)
    ref = ReferenceEvaluator(onnx.load_from_string(gzip.decompress(path.read_bytes())))
    probe = torch.cat([images[:8], torch.rand(8, 1, 28, 28)])
    with torch.no_grad():
        ours = model(probe).numpy()
    theirs = np.concatenate([ref.run(None, {"0": x.reshape(1, 784, 1).numpy()})[0] for x in probe])
    np.testing.assert_allclose(ours, theirs, atol=1e-5, rtol=0)
    # The graph's own layout [N, 784, 1] is accepted as well.
    native = onnx_to_torch(path)
    with torch.no_grad():
        np.testing.assert_allclose(native(probe.reshape(-1, 784, 1)).numpy(), ours, atol=1e-6)
        accuracy = (model(images).argmax(1) == labels).float().mean().item()
    assert accuracy == pytest.approx(NETS[net], abs=1e-4)  # the full 10,000 images, exact figure


def _graph(nodes, inits, in_shape, out_shape, consts=()):
    graph = helper.make_graph(
        list(consts) + nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _compare(model_proto, in_shape, **kw):
    raw = model_proto.SerializeToString()
    ours = onnx_to_torch(raw, **kw)
    x = np.random.default_rng(0).random((3,) + tuple(in_shape[1:])).astype(np.float32)
    ref = ReferenceEvaluator(model_proto)
    theirs = np.concatenate([ref.run(None, {"x": x[i : i + 1]})[0] for i in range(3)])
    with torch.no_grad():
        # float32 sums of O(10) values: compare relative to the magnitude
        np.testing.assert_allclose(ours(torch.from_numpy(x)).numpy(), theirs, atol=1e-5, rtol=1e-5)
    return ours


def test_conv_net_with_input_normalisation_and_every_supported_op():
    rng = np.random.default_rng(1)  # small weights keep logits O(1)
    inits = {
        "mean": np.array([0.5, 0.4]).reshape(1, 2, 1, 1), "std": np.array([0.2, 0.3]).reshape(1, 2, 1, 1),
        "w1": 0.3 * rng.normal(size=(4, 2, 3, 3)), "b1": rng.normal(size=4),
        "shape": np.array([1, -1]), "w2": 0.3 * rng.normal(size=(4 * 3 * 3, 5)), "b2": rng.normal(size=5),
        "scale": np.array(2.0), "w3": rng.normal(size=(3, 5)), "b3": rng.normal(size=3), "half": np.array(0.5),
    }
    inits["shape"] = inits["shape"].astype(np.int64)
    nodes = [
        helper.make_node("Sub", ["x", "mean"], ["s"]),
        helper.make_node("Div", ["s", "std"], ["n"]),
        helper.make_node("Conv", ["n", "w1", "b1"], ["c"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Reshape", ["r", "shape"], ["f"]),
        helper.make_node("MatMul", ["f", "w2"], ["m"]),
        helper.make_node("Add", ["m", "b2"], ["a"]),
        helper.make_node("Mul", ["a", "scale"], ["a2"]),
        helper.make_node("Identity", ["a2"], ["i"]),
        helper.make_node("Relu", ["i"], ["r2"]),
        helper.make_node("Gemm", ["r2", "w3", "b3"], ["g"], transB=1),
        helper.make_node("Mul", ["g", "k"], ["o"]),
    ]
    const = helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.float32([-1.5]), "k"))
    # int64 shape initialiser must stay integral
    proto = _graph(nodes, {k: v for k, v in inits.items() if k != "shape"}, [1, 2, 6, 6], [1, 3], [const])
    proto.graph.initializer.append(numpy_helper.from_array(inits["shape"], "shape"))
    model = _compare(proto, [1, 2, 6, 6])
    kinds = [type(m) for m in model]
    assert kinds == [Normalize, nn.Conv2d, nn.ReLU, nn.Flatten, nn.Linear, nn.ReLU, nn.Linear]


def test_unsupported_op_is_named():
    nodes = [helper.make_node("Sigmoid", ["x"], ["y"])]
    raw = _graph(nodes, {}, [1, 4], [1, 4]).SerializeToString()
    with pytest.raises(OnnxImportError, match="Sigmoid"):
        onnx_to_torch(raw)


def test_varying_constant_inside_a_channel_is_refused():
    nodes = [helper.make_node("Sub", ["x", "m"], ["y"])]
    raw = _graph(nodes, {"m": np.arange(8.0).reshape(1, 2, 2, 2)}, [1, 2, 2, 2], [1, 2, 2, 2]).SerializeToString()
    with pytest.raises(OnnxImportError, match="varies within a channel"):
        onnx_to_torch(raw)


def test_garbage_size_cap_and_shape_mismatch(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00not a protobuf\xff" * 10)
    with pytest.raises(OnnxImportError, match="bad.onnx"):
        onnx_to_torch(bad)
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["y"], transB=1)]
    proto = _graph(nodes, {"w": np.ones((2, 4))}, [1, 4, 1], [1, 2])
    gz = tmp_path / "m.onnx.gz"
    gz.write_bytes(gzip.compress(proto.SerializeToString()))
    assert isinstance(onnx_to_torch(gz, input_shape=(2, 2))[0], nn.Flatten)
    with pytest.raises(OnnxImportError, match="larger than"):
        onnx_to_torch(gz, max_bytes=16)
    with pytest.raises(OnnxImportError, match="elements"):
        onnx_to_torch(gz, input_shape=(5,))
