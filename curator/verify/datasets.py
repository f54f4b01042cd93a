"""Readers for the test sets curator certifies on (public helpers behind the ``datasets`` plugin).

Every reader returns float32 pixels in [0, 1] shaped ``[N, C, H, W]`` and int64 labels, and none of
them unpickles anything: MNIST is IDX, CIFAR-10 is the binary archive (read straight out of the tar
without extracting), ``npz`` is loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import tarfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from curator.core.errors import CuratorError

__all__ = [
    "DatasetError",
    "data_dir_from_env",
    "read_idx",
    "cifar_test_batch_from_archive",
    "parse_cifar_binary",
    "read_cifar_csv",
    "digits_split",
    "load_digits_arrays",
    "load_npz",
    "ImageFolderSequence",
    "DIGITS_TEST_SIZE",
    "DIGITS_SEED",
]

MAX_DECOMPRESSED = 512 * 1024**2  # no test set we read is near this; bounds a gzip bomb


class DatasetError(CuratorError):
    """A dataset file is missing, malformed, or not the pinned content."""


def data_dir_from_env(data_dir: Path | str | None) -> Path | None:
    """``data_dir`` if given, else ``$CURATOR_DATA`` if set."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    env = os.environ.get("CURATOR_DATA")
    return Path(env).expanduser() if env else None


# --------------------------------------------------------------------------- IDX (MNIST)


def _gunzip(path: Path, limit: int = MAX_DECOMPRESSED) -> bytes:
    try:
        with gzip.open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: not a valid gzip file ({exc})") from None
    if len(data) > limit:
        raise DatasetError(f"{path}: decompresses to more than {limit} bytes")
    return data


def read_idx(path: Path, expected_sha256: str | None = None) -> np.ndarray:
    """An IDX file (gzipped or not) as a numpy array of its declared shape (uint8 data only).

    ``expected_sha256`` pins the *decompressed* content, so the same data gzipped differently
    (mirrors re-compress) is still recognised, and anything else is refused."""
    path = Path(path)
    with open(path, "rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"  # by content: cache entries are named by hash, not .gz
    raw = _gunzip(path) if gzipped else path.read_bytes()
    if expected_sha256 is not None:
        actual = hashlib.sha256(raw).hexdigest()
        if actual != expected_sha256:
            raise DatasetError(f"{path}: decompressed sha256 mismatch: expected {expected_sha256}, got {actual}")
    if len(raw) < 4:
        raise DatasetError(f"{path}: too short for an IDX header")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08 or not 1 <= ndim <= 4:
        raise DatasetError(f"{path}: not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    offset = 4 + 4 * ndim
    count = int(np.prod(dims))
    if len(raw) != offset + count:
        raise DatasetError(f"{path}: IDX header says {dims} ({count} bytes) but the body has {len(raw) - offset}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(dims)


# --------------------------------------------------------------------------- CIFAR-10

CIFAR_RECORD = 1 + 3 * 32 * 32
CIFAR_TEST_MEMBER = "cifar-10-batches-bin/test_batch.bin"
CIFAR_TEST_BYTES = 10000 * CIFAR_RECORD


def parse_cifar_binary(data: bytes, source: str = "CIFAR-10 batch") -> tuple[torch.Tensor, torch.Tensor]:
    """The official binary layout: records of 1 label byte + 1024 R, 1024 G, 1024 B bytes (row-major)."""
    if len(data) % CIFAR_RECORD:
        raise DatasetError(f"{source}: {len(data)} bytes is not a whole number of {CIFAR_RECORD}-byte records")
    arr = np.frombuffer(data, dtype=np.uint8).reshape(-1, CIFAR_RECORD)
    labels = arr[:, 0].astype(np.int64)
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{source}: label {int(labels.max())} out of range 0..9")
    pixels = arr[:, 1:].reshape(-1, 3, 32, 32)
    return torch.from_numpy(pixels.astype(np.float32) / 255.0), torch.from_numpy(labels)


def cifar_test_batch_from_archive(archive: Path) -> bytes:
    """``test_batch.bin`` read out of ``cifar-10-binary.tar.gz`` in memory.

    Nothing is extracted to disk, so no member name (``../``, absolute paths, links) can write
    anywhere; the member must be a regular file of exactly 10,000 records."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name.lstrip("./") != CIFAR_TEST_MEMBER:
                    continue
                if not member.isfile():
                    raise DatasetError(f"{archive}: {member.name} is not a regular file")
                if member.size != CIFAR_TEST_BYTES:
                    raise DatasetError(f"{archive}: {member.name} has {member.size} bytes, expected {CIFAR_TEST_BYTES}")
                fh = tar.extractfile(member)
                assert fh is not None
                return fh.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DatasetError(f"{archive}: not a readable tar.gz archive ({exc})") from None
    raise DatasetError(f"{archive}: no {CIFAR_TEST_MEMBER} in the archive")


def read_cifar_csv(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """ERAN's CSV slice format: ``label, 3072 pixels`` per line, pixels interleaved HWC (r,g,b)."""
    rows = []
    labels = []
    with open(path, encoding="ascii") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                values = [int(v) for v in line.split(",")]
            except ValueError:
                raise DatasetError(f"{path}:{lineno}: non-integer value") from None
            if len(values) != 1 + 3072 or not all(0 <= v <= 255 for v in values[1:]) or not 0 <= values[0] <= 9:
                raise DatasetError(f"{path}:{lineno}: expected a label 0..9 and 3072 pixels 0..255")
            labels.append(values[0])
            rows.append(values[1:])
    if not rows:
        raise DatasetError(f"{path}: no images")
    hwc = np.asarray(rows, dtype=np.uint8).reshape(-1, 32, 32, 3)
    chw = np.ascontiguousarray(hwc.transpose(0, 3, 1, 2))
    return torch.from_numpy(chw.astype(np.float32) / 255.0), torch.tensor(labels, dtype=torch.int64)


# --------------------------------------------------------------------------- digits

DIGITS_SEED = 0
DIGITS_TEST_SIZE = 360


def digits_split() -> tuple[list[int], list[int]]:
    """The fixed train/test split of scikit-learn's 1,797 8×8 digits.

    ``numpy.random.RandomState(0).permutation(1797)``: its first 1,437 entries are the training
    set, its last 360 the test set, each sorted. RandomState's stream is frozen by numpy's
    compatibility policy, so the split is the same on every numpy version."""
    perm = np.random.RandomState(DIGITS_SEED).permutation(1797)
    train = sorted(int(i) for i in perm[:-DIGITS_TEST_SIZE])
    test = sorted(int(i) for i in perm[-DIGITS_TEST_SIZE:])
    return train, test


def load_digits_arrays(split: str = "test") -> tuple[torch.Tensor, torch.Tensor]:
    """Digits ``[N, 1, 8, 8]`` in [0, 1] (the 0..16 intensities divided by 16) and labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # pragma: no cover - scikit-learn is a dependency
        raise DatasetError("the digits dataset needs scikit-learn (pip install scikit-learn)") from None
    bunch = load_digits()
    x = np.asarray(bunch.data, dtype=np.float32).reshape(-1, 1, 8, 8) / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)
    if x.shape[0] != 1797:
        raise DatasetError(f"scikit-learn's digits has {x.shape[0]} images, expected 1797")
    train, test = digits_split()
    if split == "test":
        idx = test
    elif split == "train":
        idx = train
    else:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return torch.from_numpy(x[idx]), torch.from_numpy(y[idx])


# --------------------------------------------------------------------------- npz


def load_npz(path: Path, max_bytes: int = 4 * 1024**3) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` (``[N, …]``, finite, in [0, 1]) and integer ``y`` (``[N]``) from an ``.npz`` file,
    read with ``allow_pickle=False`` (an object array is refused, never unpickled)."""
    path = Path(path)
    try:
        if path.stat().st_size > max_bytes:
            raise DatasetError(f"{path}: larger than {max_bytes} bytes")
        with np.load(path, allow_pickle=False) as npz:
            if "x" not in npz.files or "y" not in npz.files:
                raise DatasetError(f"{path}: needs arrays 'x' and 'y' (found: {', '.join(npz.files) or 'none'})")
            x = np.asarray(npz["x"])
            y = np.asarray(npz["y"])
    except DatasetError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"{path}: not a readable npz file without pickles ({exc})") from None
    if x.ndim < 2 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise DatasetError(f"{path}: expected x [N, ...] and y [N] with N > 0, got {list(x.shape)} and {list(y.shape)}")
    if not np.issubdtype(x.dtype, np.floating) and not np.issubdtype(x.dtype, np.integer):
        raise DatasetError(f"{path}: x has dtype {x.dtype}, expected floats in [0, 1]")
    if not np.issubdtype(y.dtype, np.integer):
        raise DatasetError(f"{path}: y has dtype {y.dtype}, expected integer labels")
    xf = x.astype(np.float32)
    if not np.isfinite(xf).all() or xf.min() < 0 or xf.max() > 1:
        raise DatasetError(f"{path}: x must be finite and in [0, 1] (pixel scale)")
    if y.min() < 0:
        raise DatasetError(f"{path}: negative label")
    return torch.from_numpy(xf), torch.from_numpy(y.astype(np.int64))


# --------------------------------------------------------------------------- ImageNet-style folders

IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".bmp", ".ppm", ".webp")


class ImageFolderSequence:
    """An ImageFolder validation set (``root/<class>/<image>``) decoded lazily.

    Classes are the sorted sub-folder names (torchvision's convention, which makes ImageNet's
    sorted WordNet ids the standard label order 0..999); images within a class sorted by name.
    ``take(indices)`` decodes only those images: resize the short side to ``resize`` (bilinear),
    center-crop ``crop``, RGB, [0, 1] — the usual ImageNet evaluation transform. Needs Pillow.
    """

    def __init__(self, root: Path, resize: int = 256, crop: int = 224):
        self.root = Path(root)
        self.resize, self.crop = resize, crop
        classes = sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not classes:
            raise DatasetError(f"{self.root}: no class folders (expected root/<class>/<image>)")
        self.classes = classes
        self.files: list[Path] = []
        labels: list[int] = []
        for label, name in enumerate(classes):
            for f in sorted((self.root / name).iterdir()):
                if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS:
                    self.files.append(f)
                    labels.append(label)
        if not self.files:
            raise DatasetError(f"{self.root}: no images in the class folders")
        self.labels = torch.tensor(labels, dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.files)

    @property
    def shape(self) -> torch.Size:
        """What a stacked tensor of all images would have, so callers can treat this like one."""
        return torch.Size((len(self.files), 3, self.crop, self.crop))

    def _load(self, path: Path) -> torch.Tensor:
        try:
            from PIL import Image
        except ImportError:
            raise DatasetError("reading ImageNet-style folders needs Pillow (pip install pillow)") from None
        try:
            with Image.open(path) as img:
                img = img.convert("RGB")
                w, h = img.size
                scale = self.resize / min(w, h)
                img = img.resize((max(self.resize, round(w * scale)), max(self.resize, round(h * scale))), Image.BILINEAR)
                w, h = img.size
                left, top = (w - self.crop) // 2, (h - self.crop) // 2
                img = img.crop((left, top, left + self.crop, top + self.crop))
                arr = np.asarray(img, dtype=np.uint8)
        except DatasetError:
            raise
        except Exception as exc:  # Pillow raises many types for broken files
            raise DatasetError(f"{path}: cannot decode image ({exc})") from None
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)).astype(np.float32) / 255.0)

    def take(self, indices: Sequence[int]) -> torch.Tensor:
        if not indices:
            return torch.empty((0, 3, self.crop, self.crop))
        return torch.stack([self._load(self.files[int(i)]) for i in indices])

    def __getitem__(self, index):
        if isinstance(index, int):
            return self._load(self.files[index])
        return self.take(list(index))
