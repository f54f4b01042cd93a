"""Network building blocks that curator's model loaders emit and its bound engine understands.

Architectures, the ONNX importer and the input normalisation all produce plain ``nn.Sequential``
models made of standard torch layers plus the two modules below, so every verifier sees one
vocabulary of layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class Normalize(nn.Module):
    """``(x - mean) / std`` per channel (dim 1). Prepended to every model so that the model's
    input, and with it every radius, is in [0, 1] pixel space."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        mean_t = torch.as_tensor(list(mean), dtype=torch.float32)
        std_t = torch.as_tensor(list(std), dtype=torch.float32)
        if mean_t.shape != std_t.shape or mean_t.ndim != 1:
            raise ValueError("mean and std must be flat lists of the same length")
        if bool((std_t <= 0).any()):
            raise ValueError("std must be positive")
        self.register_buffer("mean", mean_t)
        self.register_buffer("std", std_t)

    def _shape(self, x: torch.Tensor) -> tuple[int, ...]:
        # One value per channel for [N, C, ...] inputs; a single value broadcasts everywhere.
        if self.mean.numel() == 1:
            return (1,)
        return (1, -1) + (1,) * (x.dim() - 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = self._shape(x)
        return (x - self.mean.view(shape)) / self.std.view(shape)

    def extra_repr(self) -> str:
        return f"mean={self.mean.tolist()}, std={self.std.tolist()}"


class Residual(nn.Module):
    """``body(x) + shortcut(x)`` (identity shortcut when ``shortcut`` is None): the residual Add
    of ResNet-style architectures, in a form bound propagation can split into its two branches."""

    def __init__(self, body: nn.Module, shortcut: nn.Module | None = None):
        super().__init__()
        self.body = body
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


def with_normalization(model: nn.Module, mean: Sequence[float] | None, std: Sequence[float] | None) -> nn.Sequential:
    """``Sequential(Normalize(mean, std), *model)`` (flattening a Sequential so layers stay one list)."""
    layers: list[nn.Module] = []
    if mean is not None and std is not None:
        layers.append(Normalize(mean, std))
    layers.extend(list(model) if isinstance(model, nn.Sequential) else [model])
    return nn.Sequential(*layers)
