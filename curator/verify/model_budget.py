"""Size a claimed network before building it: parameters and depth from the architecture's kwargs,
compared with what the weights file holds, all before a single real tensor is allocated.

Without this, ``fc`` with ``hidden: [65536, 65536, …]`` allocates gigabytes for a 1 KB weights
file that could never fit it. The architecture is built on PyTorch's ``meta`` device (shapes, no
storage); the weights file is sized from its header (safetensors) or memory-mapped
(``torch.load(weights_only=True, mmap=True)``), so neither side costs memory.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from curator.core.errors import CuratorError
from curator.engines.limits import MAX_WEIGHT_LAYERS

# 250 M float32 parameters = 1 GB: above every network of the board's papers (ImageNet
# ResNet-50 has 25.6 M, WRN-50-2 69 M) with room to spare.
MAX_PARAMETERS = 250_000_000
MAX_SAFETENSORS_HEADER = 64 * 1024 * 1024
# Small differences are left to the strict state_dict load, which names each missing or
# mismatched key; only a network much larger than its file is refused here, before allocation.
ALLOCATION_SLACK = 4_000_000  # values (16 MB of float32)


class ModelBudgetError(CuratorError):
    """The claimed network is too large or deep, or larger than its weights file."""


def meta_shapes(registry: Any, name: str, kwargs: Mapping[str, Any] | None) -> nn.Module:
    """The architecture built on the meta device: its parameters have shapes and no storage."""
    from curator.verify.models import ModelError, build_architecture

    try:
        with torch.device("meta"):
            return build_architecture(registry, name, kwargs)
    except ModelError:
        raise
    except Exception as exc:  # an architecture that computes on real values while building
        raise ModelBudgetError(f"architecture {name!r} could not be sized before building "
                               f"({type(exc).__name__}: {exc})") from None


def weight_layers(module: nn.Module) -> int:
    return sum(1 for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)))


def state_numel(module: nn.Module) -> int:
    return sum(int(t.numel()) for t in module.state_dict().values())


def safetensors_numel(path: Path) -> int:
    """Number of values a safetensors file holds, from its JSON header only."""
    with open(path, "rb") as fh:
        head = fh.read(8)
        if len(head) != 8:
            raise ModelBudgetError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
        (size,) = struct.unpack("<Q", head)
        if size > min(MAX_SAFETENSORS_HEADER, max(0, path.stat().st_size - 8)):
            raise ModelBudgetError(f"{path}: safetensors header of {size} bytes does not fit the file")
        try:
            header = json.loads(fh.read(size))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ModelBudgetError(f"{path}: safetensors header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ModelBudgetError(f"{path}: safetensors header is not an object")
    total = 0
    for key, info in header.items():
        if key == "__metadata__":
            continue
        shape = info.get("shape") if isinstance(info, dict) else None
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            raise ModelBudgetError(f"{path}: tensor {key!r} has no valid shape in the header")
        n = 1
        for d in shape:
            n *= d
        total += n
    return total


def state_dict_numel(path: Path) -> int:
    """Number of values in a weights-only torch checkpoint, memory-mapped (nothing is read in full)."""
    try:
        obj = torch.load(path, weights_only=True, map_location="cpu", mmap=True)
    except Exception:  # the legacy (non-zip) format cannot be mapped: the loader reports it later
        return -1

    def count(node: Any, depth: int = 0) -> int:
        if isinstance(node, torch.Tensor):
            return int(node.numel())
        if isinstance(node, Mapping) and depth < 4:
            return sum(count(v, depth + 1) for v in node.values())
        if isinstance(node, (list, tuple)) and depth < 4:
            return sum(count(v, depth + 1) for v in node)
        return 0

    return count(obj)


def check_model_budget(model_block: Mapping[str, Any], path: Path, registry: Any) -> dict[str, int]:
    """Refuse, before building, a network over the caps or with more values than its weights file.

    Returns the sizes it measured (parameters, weight layers, values in the file; -1 = unknown)."""
    arch = model_block.get("architecture") or {}
    fmt = model_block.get("format")
    net = meta_shapes(registry, arch.get("name"), arch.get("kwargs"))
    params, layers = state_numel(net), weight_layers(net)
    name = arch.get("name")
    if params > MAX_PARAMETERS:
        raise ModelBudgetError(f"architecture {name!r} with these kwargs has {params:,} parameters, over "
                               f"curator's limit of {MAX_PARAMETERS:,}")
    if layers > MAX_WEIGHT_LAYERS:
        raise ModelBudgetError(f"architecture {name!r} with these kwargs has {layers} weight layers, over "
                               f"curator's limit of {MAX_WEIGHT_LAYERS}")
    held = safetensors_numel(Path(path)) if fmt == "safetensors" else state_dict_numel(Path(path))
    if held >= 0 and params > held + ALLOCATION_SLACK:
        raise ModelBudgetError(f"{path}: the weights file holds {held:,} values, architecture {name!r} needs "
                               f"{params:,}: the kwargs do not describe this network")
    return {"parameters": params, "weight_layers": layers, "file_values": held}
