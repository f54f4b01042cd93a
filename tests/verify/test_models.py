from pathlib import Path

import pytest
import torch
from torch import nn

from curator.api.registry import get_registry
from curator.engines.layers import Normalize
from curator.verify.models import ModelError, build_architecture, load_model, load_state_dict_file, resolve_device

WK_SHA256 = "95014ab0c04c73f48b3be0cb7acc42aff60ce4420c6c43bec25e9a1447279e08"
WK_BLOCK = {
    "format": "state_dict",
    "architecture": {"name": "wong-kolter-small", "kwargs": {"in_channels": 1, "in_size": 28}},
    "input_shape": [1, 28, 28],
    "num_classes": 10,
}


@pytest.fixture(scope="module")
def registry():
    return get_registry()


@pytest.fixture(scope="module")
def wk_path(shared):
    return shared / "artifacts/models/wong-kolter-2018/mnist.pth"


def test_wong_kolter_clean_accuracy(registry, wk_path, shared, tmp_path):
    from curator.verify.artifacts import fetch

    # Through the real artifact path: file:// URL, pinned hash, cache.
    path = fetch(wk_path.as_uri(), WK_SHA256, tmp_path, progress=False)
    model = load_model(WK_BLOCK, path, registry)
    split = registry.dataset("mnist").load(shared / "artifacts/mnist", tmp_path, progress=False)
    x, y = split.take(list(range(1000)))
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    # Published clean error 1.8% on the full set; the first 1000 images are a little easier.
    assert 0.975 <= acc <= 0.995, acc
    assert not model.training and all(not p.requires_grad for p in model.parameters())


def test_safetensors_round_trip_with_normalization(registry, tmp_path):
    from safetensors.torch import save_file

    kwargs = {"input_shape": [1, 8, 8], "hidden": [16], "num_classes": 10}
    net = build_architecture(registry, "fc", kwargs)
    torch.manual_seed(0)
    for p in net.parameters():
        nn.init.normal_(p)
    path = tmp_path / "m.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    block = {
        "format": "safetensors",
        "architecture": {"name": "fc", "kwargs": kwargs},
        "normalization": {"mean": [0.5], "std": [0.25]},
        "input_shape": [1, 8, 8],
        "num_classes": 10,
    }
    model = load_model(block, path, registry)
    assert isinstance(model[0], Normalize)
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(model(x), net((x - 0.5) / 0.25), atol=1e-6)


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        # Unpickling would call open(marker, "w"), creating the marker file.
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("wrap", [False, True])
def test_pickle_payload_is_refused_never_executed(registry, tmp_path, wrap):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = _Payload(marker)
    obj = {"state_dict": {"0.weight": torch.zeros(1)}, "extra": payload} if wrap else payload
    torch.save(obj, path)
    assert not marker.exists()
    with pytest.raises(ModelError, match="never executed"):
        load_model(WK_BLOCK, path, registry)
    assert not marker.exists()


def test_wrappers_and_module_prefix(tmp_path, wk_path):
    state = torch.load(wk_path, weights_only=True, map_location="cpu")
    for i, obj in enumerate([{"state_dict": state}, {"model": state, "epoch": 3}, {"module." + k: v for k, v in state.items()}]):
        p = tmp_path / f"w{i}.pth"
        torch.save(obj, p)
        assert set(load_state_dict_file(p)) == set(state)


def test_key_and_shape_mismatch_named(registry, tmp_path, wk_path):
    state = torch.load(wk_path, weights_only=True, map_location="cpu")
    del state["7.bias"]
    state["9.weight"] = torch.zeros(1)
    p = tmp_path / "bad.pth"
    torch.save(state, p)
    with pytest.raises(ModelError) as info:
        load_model(WK_BLOCK, p, registry)
    assert "missing keys: 7.bias" in str(info.value) and "unexpected keys: 9.weight" in str(info.value)
    block = {**WK_BLOCK, "architecture": {"name": "wong-kolter-small", "kwargs": {"in_channels": 3, "in_size": 32}}}
    with pytest.raises(ModelError, match="shape mismatches: 0.weight"):
        load_model(block, wk_path, registry)


def test_output_shape_checked(registry, wk_path):
    with pytest.raises(ModelError, match=r"expected \[1, 100\]"):
        load_model({**WK_BLOCK, "num_classes": 100}, wk_path, registry)
    with pytest.raises(ModelError, match="does not accept input_shape"):
        load_model({**WK_BLOCK, "input_shape": [1, 20, 20]}, wk_path, registry)


def test_kwargs_validated(registry):
    with pytest.raises(ModelError, match="invalid kwargs"):
        build_architecture(registry, "wong-kolter-small", {"in_chanels": 1})
    with pytest.raises(ModelError, match="invalid kwargs"):
        build_architecture(registry, "fc", {"hidden": [10]})


# Parameter counts published in the SoK benchmark (MNIST / CIFAR-10) for the nets they name.
@pytest.mark.parametrize(
    "name,kwargs,shape,params",
    [
        ("fc", {"input_shape": [1, 28, 28], "hidden": [20, 20]}, [1, 28, 28], 16330),  # FCNNa
        ("fc", {"input_shape": [3, 32, 32], "hidden": [20, 20]}, [3, 32, 32], 62090),
        ("cnn-a", {}, [1, 28, 28], 166406),
        ("cnn-a", {"in_channels": 3, "in_size": 32}, [3, 32, 32], 214918),
        ("cnn-b", {}, [1, 28, 28], 833786),
        ("cnn-b", {"in_channels": 3, "in_size": 32}, [3, 32, 32], 1079834),
        ("wong-kolter-large", {}, [1, 28, 28], 1974762),  # CNNc
        ("wong-kolter-large", {"in_channels": 3, "in_size": 32}, [3, 32, 32], 2466858),
        ("cnn-7layer", {"width": 8, "linear_size": 32}, [3, 32, 32], None),
        ("resnet-small", {"width": 4, "batchnorm": True}, [3, 32, 32], None),
        ("resnet-small", {"in_channels": 1, "in_size": 28, "width": 4, "blocks": 2}, [1, 28, 28], None),
    ],
)
def test_architectures_build(registry, name, kwargs, shape, params):
    net = build_architecture(registry, name, kwargs).eval()
    if params is not None:
        assert sum(p.numel() for p in net.parameters()) == params
    with torch.no_grad():
        assert net(torch.rand([2, *shape])).shape == (2, 10)


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    from curator.core.errors import CuratorError

    with pytest.raises(CuratorError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(CuratorError):
            resolve_device("cuda")


def test_onnx_format_uses_converter(registry, shared, tmp_path):
    pytest.importorskip("curator.engines.onnx")
    pytest.importorskip("onnx")
    import gzip

    raw = gzip.decompress((shared / "artifacts/vnncomp2022-mnist_fc/onnx/mnist-net_256x2.onnx.gz").read_bytes())
    p = tmp_path / "net.onnx"
    p.write_bytes(raw)
    model = load_model({"format": "onnx", "architecture": {"name": "onnx"}, "input_shape": [1, 28, 28], "num_classes": 10}, p, registry)
    split = registry.dataset("mnist").load(shared / "artifacts/mnist", tmp_path, progress=False)
    x, y = split.take(list(range(200)))
    with torch.no_grad():
        assert (model(x).argmax(1) == y).float().mean() > 0.95


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_load_on_cuda_matches_cpu(registry, wk_path):
    cpu = load_model(WK_BLOCK, wk_path, registry, "cpu")
    gpu = load_model(WK_BLOCK, wk_path, registry, resolve_device("auto"))
    assert next(gpu.parameters()).is_cuda
    x = torch.rand(8, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(cpu(x), gpu(x.cuda()).cpu(), atol=1e-4)


# --------------------------------------------------------------------------- wrapped checkpoints

BOARD = "artifacts/models/board"
CASCADE_URL = "https://raw.githubusercontent.com/locuslab/convex_adversarial/2cd8149249b9e90383af10fc7e9b9fe90166813e/models_scaled/mnist_small_0_3.pth"


def _board_file(shared, name):
    path = shared / BOARD / name
    if not path.is_file():
        pytest.skip(f"{name} not in ../shared")
    return path


def _small_fc_state(seed):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    return net, {k: v.clone() for k, v in net.state_dict().items()}


FC_BLOCK = {"url": "https://example.org/weights.pth", "format": "state_dict", "input_shape": [1, 2, 2], "num_classes": 3,
            "architecture": {"name": "fc", "kwargs": {"input_shape": [1, 2, 2], "hidden": [5], "num_classes": 3}}}


def test_state_dict_key_selects_a_nested_state_dict_and_key_map_renames(registry, tmp_path):
    net, sd = _small_fc_state(0)
    wrapped = {"epoch": 3, "checkpoint": {"weights": [{"module.net." + k: v for k, v in sd.items()}]}}
    path = tmp_path / "w.pth"
    torch.save(wrapped, path)
    block = {**FC_BLOCK, "state_dict_key": ["checkpoint", "weights", 0], "key_map": [["module.net.", ""]]}
    model = load_model(block, path, registry)
    x = torch.rand(2, 1, 2, 2)
    assert torch.allclose(model(x), net(x))


@pytest.mark.parametrize("key_path,fragment", [
    (["nothing"], "/model/state_dict_key/0"),
    (["checkpoint", "weights", 4], "/model/state_dict_key/2"),
    (["checkpoint"], "/model/state_dict_key: "),
])
def test_a_wrong_state_dict_key_names_the_field_and_the_url(registry, tmp_path, key_path, fragment):
    _, sd = _small_fc_state(0)
    path = tmp_path / "w.pth"
    torch.save({"checkpoint": {"weights": [sd]}}, path)
    with pytest.raises(ModelError) as info:
        load_model({**FC_BLOCK, "state_dict_key": key_path}, path, registry)
    msg = str(info.value)
    assert fragment in msg and FC_BLOCK["url"] in msg and str(path) not in msg


def test_an_unwrapped_lookup_failure_names_the_url_and_suggests_state_dict_key(registry, tmp_path):
    _, sd = _small_fc_state(0)
    path = tmp_path / "w.pth"
    torch.save({"state_dict": [sd, sd]}, path)
    with pytest.raises(ModelError, match="state_dict_key") as info:
        load_model(FC_BLOCK, path, registry)
    assert FC_BLOCK["url"] in str(info.value) and str(path) not in str(info.value)


def test_key_map_collisions_are_errors(registry, tmp_path):
    _, sd = _small_fc_state(0)
    path = tmp_path / "w.pth"
    torch.save({**{"a." + k: v for k, v in sd.items()}, **{"b." + k: v for k, v in sd.items()}}, path)
    with pytest.raises(ModelError, match="/model/key_map"):
        load_model({**FC_BLOCK, "key_map": [["a.", ""], ["b.", ""]]}, path, registry)


def test_a_list_of_state_dicts_needs_a_cascade(registry, tmp_path):
    _, sd = _small_fc_state(0)
    path = tmp_path / "w.pth"
    torch.save({"state_dict": [sd, sd]}, path)
    with pytest.raises(ModelError, match="only a cascade"):
        load_model({**FC_BLOCK, "state_dict_key": ["state_dict"]}, path, registry)
    stage = {"name": "fc", "kwargs": FC_BLOCK["architecture"]["kwargs"]}
    block = {**FC_BLOCK, "state_dict_key": ["state_dict"], "architecture": {"name": "cascade", "kwargs": {"stages": [stage] * 3}}}
    with pytest.raises(ModelError, match="holds 2 state_dicts, the cascade has 3"):
        load_model(block, path, registry)


def test_real_wrapped_checkpoints_load(registry, shared, tmp_path):
    from curator.engines.cascade import find_cascade

    cascade = load_model({"url": CASCADE_URL, "format": "state_dict", "state_dict_key": ["state_dict"],
                          "architecture": {"name": "cascade", "kwargs": {"stages": [{"name": "wong-kolter-small"}] * 3}},
                          "input_shape": [1, 28, 28], "num_classes": 10},
                         _board_file(shared, "wong2018-scaling-mnist_small_0_3.pth"), registry)
    assert len(find_cascade(cascade)[1].stages) == 3
    robustra = load_model({**WK_BLOCK, "url": "https://x/robustra.pth", "state_dict_key": ["state_dict"]},
                          _board_file(shared, "robustra-MNIST_0.3_small_31.42.pth"), registry)
    softplus = load_model({"url": "https://x/so-robust", "format": "state_dict", "input_shape": [1, 28, 28], "num_classes": 10,
                           "architecture": {"name": "sequential", "kwargs": {"layers": [
                               {"type": "flatten"}, {"type": "linear", "out_features": 1024, "name": "fc1"},
                               {"type": "softplus"}, {"type": "linear", "out_features": 10, "name": "fc2"}]}}},
                          _board_file(shared, "so-robust-mnist_2_softplus_L2_1.58_EIGEN_0.005.pth"), registry)
    split = registry.dataset("mnist").load(shared / "artifacts/mnist", tmp_path, progress=False)
    x, y = split.take(list(range(200)))
    with torch.no_grad():
        for model, least in ((robustra, 0.9), (softplus, 0.9)):
            assert (model(x).argmax(1) == y).float().mean() >= least


def test_weights_that_do_not_fit_name_the_field_and_the_url_and_suggest_key_map(registry, tmp_path):
    _, sd = _small_fc_state(0)
    path = tmp_path / "w.pth"
    torch.save({"net." + k: v for k, v in sd.items()}, path)
    with pytest.raises(ModelError) as info:
        load_model(FC_BLOCK, path, registry)
    msg = str(info.value)
    assert msg.startswith("/model/architecture: " + FC_BLOCK["url"]) and "key_map" in msg and str(path) not in msg
    assert load_model({**FC_BLOCK, "key_map": [["net.", ""]]}, path, registry) is not None


def test_robustra_cifar_checkpoint_needs_convex_adversarial_normalisation(registry, shared, tmp_path):
    path = _board_file(shared, "robustra-CIFAR10_0.1394_small_76.29.pth")
    block = {"url": "https://x/robustra-cifar.pth", "format": "state_dict", "state_dict_key": ["state_dict"],
             "architecture": {"name": "wong-kolter-small", "kwargs": {"in_channels": 3, "in_size": 32}},
             "input_shape": [3, 32, 32], "num_classes": 10}
    split = registry.dataset("cifar10-first100").load(shared / "artifacts/cifar10", tmp_path, progress=False)
    x, y = split.take(list(range(100)))
    normalised = load_model({**block, "normalization": {"mean": [0.485, 0.456, 0.406], "std": [0.225] * 3}}, path, registry)
    raw = load_model(block, path, registry)
    with torch.no_grad():
        acc_norm = (normalised(x).argmax(1) == y).float().mean()
        acc_raw = (raw(x).argmax(1) == y).float().mean()
    # The file name's eps 0.1394 is 8/255 divided by that std; without it the net is near chance.
    assert acc_norm >= 0.35 and acc_raw < acc_norm
