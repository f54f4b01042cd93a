"""Bundled test sets: mnist, cifar10, cifar10-first100, imagenet, digits, npz.

Downloads go through :func:`curator.api.data.fetch` (pinned sha256, cache, retries); a file the
user already has under ``data_dir`` (``--data-dir`` / ``$CURATOR_DATA``) is looked for first and
must hold the same pinned content. Details and mirrors: docs/artifacts.md.
"""

from __future__ import annotations

import os
from pathlib import Path

from curator.api import Dataset, DatasetSplit, hookimpl
from curator.api import data as ds  # torch-free until a reader is used (curator.api.data)

__version__ = "1.0.0"


def _candidates(data_dir: Path | None, subdirs: tuple[str, ...], name: str) -> list[Path]:
    if data_dir is None:
        return []
    return [data_dir / sub / name if sub else data_dir / name for sub in subdirs]


# --------------------------------------------------------------------------- MNIST

MNIST_URLS = (
    "https://yann.lecun.com/exdb/mnist/",  # the official page (often refuses scripted downloads)
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch's mirror
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # CVDF mirror (TensorFlow's)
)
# Two byte-exact gzip forms of the same content circulate: the original 1998 files (the
# sha256s TensorFlow Datasets and others pin) and a 2021 re-compression. Both are accepted for
# the download; the decompressed IDX bytes are then checked against the canonical content
# (decompressed md5 2646ac64… / 27ae3e4e…, the published values).
MNIST_FILES = {
    "images": (
        "t10k-images-idx3-ubyte.gz",
        (
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
        ),
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "labels": (
        "t10k-labels-idx1-ubyte.gz",
        (
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
        ),
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}


def mnist_urls() -> tuple[str, ...]:
    base = os.environ.get("CURATOR_MNIST_URL")
    if base:
        return (base if base.endswith("/") else base + "/",)
    return MNIST_URLS


class MNIST(Dataset):
    name = "mnist"
    test_size = 10000
    version = __version__
    description = "MNIST test set (10,000 28x28 digits), official IDX files, pinned sha256."
    input_shape = (1, 28, 28)
    num_classes = 10

    def _file(self, key: str, data_dir: Path | None, cache_dir: Path, progress: bool) -> tuple[Path, str]:
        name, gz_hashes, content_hash = MNIST_FILES[key]
        for path in _candidates(data_dir, ("", "mnist", "MNIST/raw"), name):
            if path.is_file():
                return path, str(path)
        urls = [u + name for u in mnist_urls()]
        return ds.fetch_any(urls, gz_hashes, cache_dir, progress=progress), urls[0]

    def load(self, data_dir: Path | None, cache_dir: Path, progress: bool = True) -> DatasetSplit:
        import torch

        data_dir = ds.data_dir_from_env(data_dir)
        img_path, img_src = self._file("images", data_dir, cache_dir, progress)
        lbl_path, _ = self._file("labels", data_dir, cache_dir, progress)
        images = ds.read_idx(img_path, MNIST_FILES["images"][2])
        labels = ds.read_idx(lbl_path, MNIST_FILES["labels"][2])
        x = torch.from_numpy(images.astype("float32") / 255.0).unsqueeze(1)
        y = torch.from_numpy(labels.astype("int64"))
        return DatasetSplit(x, y, 10, source=img_src.rsplit("/", 1)[0])


# --------------------------------------------------------------------------- CIFAR-10

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
# The binary version (we never unpickle): 170,052,171 bytes, published md5
# c32a1d4ab5d03f1284b67883e8d87530; its sha256:
CIFAR10_SHA256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
CIFAR10_ARCHIVE = "cifar-10-binary.tar.gz"


class CIFAR10(Dataset):
    name = "cifar10"
    test_size = 10000
    version = __version__
    description = "CIFAR-10 test set (10,000 32x32 RGB), official binary archive, pinned sha256."
    input_shape = (3, 32, 32)
    num_classes = 10

    def load(self, data_dir: Path | None, cache_dir: Path, progress: bool = True) -> DatasetSplit:
        data_dir = ds.data_dir_from_env(data_dir)
        url = os.environ.get("CURATOR_CIFAR10_URL") or CIFAR10_URL
        sha = (os.environ.get("CURATOR_CIFAR10_SHA256") or CIFAR10_SHA256).lower()
        # An already extracted test batch (the user's own copy) is read as is: its size and
        # label range are checked, the archive hash cannot be.
        for path in _candidates(data_dir, ("cifar-10-batches-bin", "cifar10/cifar-10-batches-bin"), "test_batch.bin"):
            if path.is_file():
                if path.stat().st_size != ds.CIFAR_TEST_BYTES:
                    raise ds.DatasetError(f"{path}: {path.stat().st_size} bytes, expected {ds.CIFAR_TEST_BYTES}")
                x, y = ds.parse_cifar_binary(path.read_bytes(), str(path))
                return DatasetSplit(x, y, 10, source=str(path))
        archive = ds.find_local(_candidates(data_dir, ("", "cifar10"), CIFAR10_ARCHIVE), sha)
        source = str(archive) if archive is not None else url
        if archive is None:
            archive = ds.fetch(url, sha, cache_dir, progress=progress)
        data = ds.cifar_test_batch_from_archive(archive)
        x, y = ds.parse_cifar_binary(data, f"{archive}:{ds.CIFAR_TEST_MEMBER}")
        if len(y) != 10000:
            raise ds.DatasetError(f"{archive}: test batch has {len(y)} images, expected 10000")
        return DatasetSplit(x, y, 10, source=source)


class CIFAR10First100(Dataset):
    name = "cifar10-first100"
    test_size = 100
    version = __version__
    description = "First 100 CIFAR-10 test images from ERAN's CSV (data_dir/cifar10_test_first100.csv); local only."
    input_shape = (3, 32, 32)
    num_classes = 10
    FILE = "cifar10_test_first100.csv"

    def load(self, data_dir: Path | None, cache_dir: Path, progress: bool = True) -> DatasetSplit:
        data_dir = ds.data_dir_from_env(data_dir)
        for path in _candidates(data_dir, ("", "cifar10"), self.FILE):
            if path.is_file():
                x, y = ds.read_cifar_csv(path)
                return DatasetSplit(x, y, 10, source=str(path))
        raise ds.DatasetError(f"cifar10-first100 needs {self.FILE} in the data dir (--data-dir / CURATOR_DATA)")


# --------------------------------------------------------------------------- ImageNet


class ImageNet(Dataset):
    name = "imagenet"
    test_size = 50000
    version = __version__
    description = "ImageNet validation set as a local ImageFolder (data_dir/imagenet/val/<wnid>/…); resize 256, crop 224."
    input_shape = (3, 224, 224)
    num_classes = 1000

    def load(self, data_dir: Path | None, cache_dir: Path, progress: bool = True) -> DatasetSplit:
        data_dir = ds.data_dir_from_env(data_dir)
        if data_dir is None:
            raise ds.DatasetError("imagenet is never downloaded: point --data-dir (or CURATOR_DATA) at a folder holding "
                                  "imagenet/val/<wnid>/*.JPEG")
        for root in (data_dir / "imagenet" / "val", data_dir / "val", data_dir):
            if root.is_dir() and any(p.is_dir() for p in root.iterdir()):
                folder = ds.ImageFolderSequence(root)
                if len(folder.classes) != self.num_classes:
                    raise ds.DatasetError(
                        f"{root}: {len(folder.classes)} class folders; the ImageNet label order needs all 1000 wnid folders"
                    )
                return DatasetSplit(folder, folder.labels, self.num_classes, source=str(root))  # type: ignore[arg-type]
        raise ds.DatasetError(f"{data_dir}: no ImageNet validation folder (imagenet/val/<wnid>/*.JPEG)")


# --------------------------------------------------------------------------- digits, npz


class Digits(Dataset):
    name = "digits"
    test_size = 360
    version = __version__
    description = "scikit-learn's 8x8 digits, fixed test split (last 360 of RandomState(0).permutation(1797)); no download."
    input_shape = (1, 8, 8)
    num_classes = 10

    def load(self, data_dir: Path | None, cache_dir: Path, progress: bool = True) -> DatasetSplit:
        x, y = ds.load_digits_arrays("test")
        return DatasetSplit(x, y, 10, source="sklearn.datasets.load_digits (curator test split)")


class Npz(Dataset):
    name = "npz"
    version = __version__
    description = "A local .npz slice: x [N,...] in [0,1], y [N]; $CURATOR_NPZ, or data_dir/test.npz, or data_dir itself."
    num_classes = 0  # whatever the file holds

    def load(self, data_dir: Path | None, cache_dir: Path, progress: bool = True) -> DatasetSplit:
        env = os.environ.get("CURATOR_NPZ")
        data_dir = ds.data_dir_from_env(data_dir)
        candidates = [Path(env)] if env else []
        if data_dir is not None:
            candidates += [data_dir, data_dir / "test.npz"]
        for path in candidates:
            if path.is_file():
                x, y = ds.load_npz(path)
                return DatasetSplit(x, y, int(y.max()) + 1, source=str(path))
        raise ds.DatasetError("npz needs a file: set CURATOR_NPZ, or --data-dir to the .npz file or a folder with test.npz")


DATASETS = [MNIST(), CIFAR10(), CIFAR10First100(), ImageNet(), Digits(), Npz()]


@hookimpl
def register_datasets(register):
    for d in DATASETS:
        register(d)
