"""Tiny reader for the shared MNIST test set (IDX, gzip) used by the bound-engine tests."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch
from torch import nn


def read_idx(path: Path) -> np.ndarray:
    data = gzip.open(path).read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist_test(shared: Path, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` MNIST test images as [n, 1, 28, 28] floats in [0, 1] and their labels."""
    root = shared / "artifacts" / "mnist"
    images = read_idx(root / "t10k-images-idx3-ubyte.gz")[:n]
    labels = read_idx(root / "t10k-labels-idx1-ubyte.gz")[:n]
    x = torch.tensor(images.copy()).float().div(255).unsqueeze(1)
    return x, torch.tensor(labels.copy()).long()


def wong_kolter_model(shared: Path) -> nn.Sequential:
    """Wong & Kolter 2018's MNIST model with its published weights (a plain state_dict)."""
    model = nn.Sequential(
        nn.Conv2d(1, 16, 4, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 100), nn.ReLU(), nn.Linear(100, 10),
    )
    state = torch.load(shared / "artifacts/models/wong-kolter-2018/mnist.pth", weights_only=True, map_location="cpu")
    model.load_state_dict(state)
    return model.eval()
