import gzip
import hashlib
import io
import tarfile

import numpy as np
import pytest
import torch

from curator.api.registry import get_registry
from curator.verify import datasets as ds
from curator.verify.artifacts import ArtifactError


@pytest.fixture(scope="module")
def registry():
    return get_registry()


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    for var in ("CURATOR_DATA", "CURATOR_MNIST_URL", "CURATOR_CIFAR10_URL", "CURATOR_CIFAR10_SHA256", "CURATOR_NPZ"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.network
def test_mnist_downloaded_over_http_with_pinned_hashes(registry, shared, httpserver, monkeypatch, tmp_path):
    mnist = shared / "artifacts/mnist"
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        httpserver.expect_request(f"/mirror/{name}").respond_with_data((mnist / name).read_bytes(), content_type="application/gzip")
    monkeypatch.setenv("CURATOR_MNIST_URL", httpserver.url_for("/mirror"))
    split = registry.dataset("mnist").load(None, tmp_path, progress=False)
    assert split.inputs.shape == (10000, 1, 28, 28) and split.inputs.dtype == torch.float32
    assert split.labels[:8].tolist() == [7, 2, 1, 0, 4, 1, 4, 9]
    assert float(split.inputs.min()) == 0.0 and float(split.inputs.max()) == 1.0
    assert torch.bincount(split.labels).tolist()[:3] == [980, 1135, 1032]
    assert len(httpserver.log) == 2
    registry.dataset("mnist").load(None, tmp_path, progress=False)  # from the cache
    assert len(httpserver.log) == 2


@pytest.mark.network
def test_mnist_mirror_with_other_content_refused(registry, httpserver, monkeypatch, tmp_path):
    fake = gzip.compress(b"\x00\x00\x08\x01" + (1).to_bytes(4, "big") + b"\x07")
    httpserver.expect_request("/m/t10k-images-idx3-ubyte.gz").respond_with_data(fake)
    monkeypatch.setenv("CURATOR_MNIST_URL", httpserver.url_for("/m/"))
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        registry.dataset("mnist").load(None, tmp_path, progress=False)


def test_mnist_from_data_dir_checks_content(registry, shared, tmp_path, monkeypatch):
    monkeypatch.setenv("CURATOR_DATA", str(shared / "artifacts"))  # looked up under data_dir/mnist/
    assert len(registry.dataset("mnist").load(None, tmp_path)) == 10000
    bad = tmp_path / "data" / "mnist"
    bad.mkdir(parents=True)
    (bad / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"not mnist"))
    (bad / "t10k-labels-idx1-ubyte.gz").write_bytes((shared / "artifacts/mnist/t10k-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(ds.DatasetError, match="decompressed sha256 mismatch"):
        registry.dataset("mnist").load(tmp_path / "data", tmp_path)


def _cifar_archive_from_csv(shared) -> tuple[bytes, torch.Tensor, torch.Tensor]:
    """cifar-10-binary.tar.gz in the official layout whose test batch starts with the shared
    first-100 images (the rest are copies), plus a hostile member that must never be extracted."""
    x, y = ds.read_cifar_csv(shared / "artifacts/cifar10/cifar10_test_first100.csv")
    pix = (x * 255).round().to(torch.uint8).numpy().reshape(100, -1)
    records = np.concatenate([y.numpy().astype(np.uint8)[:, None], pix], axis=1)
    batch = np.tile(records, (100, 1)).tobytes()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for name, data in (("cifar-10-batches-bin/batches.meta.txt", b"airplane\n"), ("../escape.txt", b"x"),
                           ("cifar-10-batches-bin/test_batch.bin", batch)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue(), x, y


@pytest.mark.network
def test_cifar10_binary_archive_over_http(registry, shared, httpserver, monkeypatch, tmp_path):
    archive, x, y = _cifar_archive_from_csv(shared)
    httpserver.expect_request("/cifar-10-binary.tar.gz").respond_with_data(archive, content_type="application/x-gzip")
    monkeypatch.setenv("CURATOR_CIFAR10_URL", httpserver.url_for("/cifar-10-binary.tar.gz"))
    monkeypatch.setenv("CURATOR_CIFAR10_SHA256", hashlib.sha256(archive).hexdigest())
    monkeypatch.chdir(tmp_path)
    split = registry.dataset("cifar10").load(None, tmp_path / "cache", progress=False)
    assert split.inputs.shape == (10000, 3, 32, 32)
    assert torch.equal(split.inputs[:100], x) and torch.equal(split.labels[:100], y)
    assert y[:4].tolist() == [3, 8, 8, 0]  # cat, ship, ship, airplane
    assert not (tmp_path.parent / "escape.txt").exists() and not (tmp_path / "escape.txt").exists()
    # The published pin is refused for this (different) archive.
    monkeypatch.delenv("CURATOR_CIFAR10_SHA256")
    with pytest.raises(ArtifactError, match="c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"):
        registry.dataset("cifar10").load(None, tmp_path / "cache2", progress=False)


def test_cifar10_first100_csv(registry, shared):
    split = registry.dataset("cifar10-first100").load(shared / "artifacts/cifar10", None)
    assert split.inputs.shape == (100, 3, 32, 32) and split.labels[:3].tolist() == [3, 8, 8]


def test_digits_split_is_fixed(registry):
    train, test = ds.digits_split()
    assert len(train) == 1437 and len(test) == 360 and not set(train) & set(test)
    assert sorted(train + test) == list(range(1797))
    # Pinned: changing the split would silently change every digits claim.
    assert hashlib.sha256(",".join(map(str, test)).encode()).hexdigest()[:16] == DIGITS_TEST_HASH_PREFIX
    split = registry.dataset("digits").load(None, None)
    assert split.inputs.shape == (360, 1, 8, 8) and float(split.inputs.max()) <= 1.0
    assert torch.equal(split.labels, ds.load_digits_arrays("test")[1])


DIGITS_TEST_HASH_PREFIX = "d2d69a7cfb9430b1"


def test_npz(registry, tmp_path, monkeypatch):
    path = tmp_path / "slice.npz"
    x = np.random.RandomState(0).rand(5, 1, 4, 4).astype(np.float32)
    np.savez(path, x=x, y=np.array([0, 1, 2, 1, 0]))
    split = registry.dataset("npz").load(path, None)
    assert torch.equal(split.inputs, torch.from_numpy(x)) and split.num_classes == 3
    monkeypatch.setenv("CURATOR_NPZ", str(path))
    assert len(registry.dataset("npz").load(None, None)) == 5
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.array([object()] * 2, dtype=object), y=np.array([0, 1]))
    with pytest.raises(ds.DatasetError, match="without pickles"):
        ds.load_npz(bad)
    np.savez(bad, x=x * 255, y=np.arange(5))
    with pytest.raises(ds.DatasetError, match=r"in \[0, 1\]"):
        ds.load_npz(bad)


def test_imagenet_needs_local_folder(registry, tmp_path):
    with pytest.raises(ds.DatasetError, match="never downloaded"):
        registry.dataset("imagenet").load(None, None)
    (tmp_path / "imagenet/val/n01440764").mkdir(parents=True)
    with pytest.raises(ds.DatasetError):
        registry.dataset("imagenet").load(tmp_path, None)


def test_image_folder_sequence(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    for c, color in (("a", (255, 0, 0)), ("b", (0, 0, 255))):
        (tmp_path / c).mkdir()
        PIL.new("RGB", (300, 260), color).save(tmp_path / c / "x.png")
    folder = ds.ImageFolderSequence(tmp_path)
    imgs = folder.take([1, 0])
    assert imgs.shape == (2, 3, 224, 224) and folder.labels.tolist() == [0, 1]
    assert float(imgs[0, 2].mean()) == 1.0 and float(imgs[1, 0].mean()) == 1.0


def test_idx_reader_rejects_bad_header(tmp_path):
    p = tmp_path / "x.idx"
    p.write_bytes(b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"\x01\x02")
    with pytest.raises(ds.DatasetError, match="IDX header"):
        ds.read_idx(p)
