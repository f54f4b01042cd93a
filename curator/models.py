"""Turning a claim's ``model`` block and a verified artifact into a ready ``nn.Module``.

Submissions are untrusted, so no loader here ever unpickles: safetensors files are plain tensor
containers, ``state_dict`` files go only through ``torch.load(weights_only=True)`` (torch's
restricted unpickler, which refuses every global outside tensors and containers), and ONNX graphs
are converted op by op. The network's code always comes from a registered architecture (or the
ONNX converter), never from the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from .errors import CuratorError
from .layers import with_normalization

__all__ = ["ModelError", "build_architecture", "load_model", "load_state_dict_file", "resolve_device", "FORMATS"]

FORMATS = ("safetensors", "state_dict", "onnx")
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "net")


class ModelError(CuratorError):
    """The model block, the architecture or the weights do not fit together."""


def resolve_device(device: str = "auto") -> str:
    """``auto`` → ``cuda`` when a GPU is usable, else ``cpu``; ``cuda``/``cuda:N`` without a GPU is an error."""
    device = (device or "auto").strip().lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise CuratorError(f"--device {device}: no CUDA device is available (use cpu or auto)")
        return device
    raise CuratorError(f"unknown device {device!r} (use auto, cpu or cuda)")


def build_architecture(registry: Any, name: str, kwargs: Mapping[str, Any] | None) -> nn.Module:
    """``registry.architecture(name).build(**kwargs)`` after checking kwargs against its schema."""
    from .schemas import validator_for_schema, validate_with

    arch = registry.architecture(name)
    kwargs = dict(kwargs or {})
    problems = validate_with(validator_for_schema(arch.kwargs_schema), kwargs)
    if problems:
        detail = "; ".join(f"{ptr or '/'}: {msg}" for ptr, msg in problems)
        raise ModelError(f"architecture {name!r}: invalid kwargs: {detail}")
    try:
        module = arch.build(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"architecture {name!r} could not be built from {kwargs}: {exc}") from None
    if not isinstance(module, nn.Module):
        raise ModelError(f"architecture {name!r} built {type(module).__name__}, not an nn.Module")
    return module


def load_state_dict_file(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a torch checkpoint, read with ``weights_only=True`` only (pickled code is refused).

    Accepts a plain state_dict or one wrapped as ``{"state_dict": …}``/``{"model": …}``; a
    ``module.`` prefix (DataParallel) is stripped."""
    try:
        obj = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # UnpicklingError for refused globals, RuntimeError for non-torch files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"{path}: not a loadable weights-only torch state_dict ({first}); "
            "pickled objects are never executed — export the weights with torch.save(model.state_dict()) or safetensors"
        ) from None
    if isinstance(obj, Mapping) and not _is_tensor_dict(obj):
        for key in _WRAPPER_KEYS:
            inner = obj.get(key)
            if isinstance(inner, Mapping) and _is_tensor_dict(inner):
                obj = inner
                break
    if not isinstance(obj, Mapping) or not _is_tensor_dict(obj):
        raise ModelError(f"{path}: expected a state_dict (a mapping of names to tensors), found {type(obj).__name__}")
    state = {str(k): v for k, v in obj.items()}
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _is_tensor_dict(obj: Mapping) -> bool:
    return bool(obj) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path}: not a valid safetensors file ({exc})") from None


def _apply_state(module: nn.Module, state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Strict load: every key present, none extra, every shape equal — a clear list otherwise."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = [
        f"{k}: file {tuple(state[k].shape)} vs architecture {tuple(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append("missing keys: " + ", ".join(missing))
        if unexpected:
            parts.append("unexpected keys: " + ", ".join(unexpected))
        if mismatched:
            parts.append("shape mismatches: " + "; ".join(mismatched))
        raise ModelError(f"{path}: weights do not fit the architecture — " + " | ".join(parts))
    # Floating-point weights keep the architecture's dtype (float32), buffers like
    # BatchNorm's num_batches_tracked keep theirs.
    converted = {k: (v.to(own[k].dtype) if v.is_floating_point() else v) for k, v in state.items()}
    module.load_state_dict(converted, strict=True)


def load_model(model_block: Mapping[str, Any], path: Path, registry: Any, device: str = "cpu") -> nn.Module:
    """The claim's network in eval mode on ``device``, its input in [0, 1] pixel space.

    ``model_block`` is the entry's ``model`` object (format, architecture, normalization,
    input_shape, num_classes); ``path`` is the verified artifact (see :func:`curator.artifacts.fetch`).
    The entry's normalisation is prepended as :class:`curator.layers.Normalize`, and a forward
    pass on a zero input of ``input_shape`` must give ``[1, num_classes]``.
    """
    path = Path(path)
    fmt = model_block.get("format")
    if fmt not in FORMATS:
        raise ModelError(f"unknown model format {fmt!r} (known: {', '.join(FORMATS)})")
    if fmt == "onnx":
        from .onnx_import import onnx_to_torch  # written alongside the MILP verifier; imported only when needed

        # The claim's input_shape is the layout verifiers feed ([1, 28, 28] for MNIST); the
        # converter accepts it when it matches the graph's or the graph starts by flattening.
        shape = [int(d) for d in model_block.get("input_shape") or []] or None
        net = onnx_to_torch(path, input_shape=shape)
    else:
        arch = model_block.get("architecture") or {}
        if not arch.get("name"):
            raise ModelError(f"model format {fmt!r} needs model.architecture.name")
        from .model_budget import check_model_budget

        check_model_budget(model_block, path, registry)  # sized on the meta device: nothing allocated yet
        net = build_architecture(registry, arch["name"], arch.get("kwargs"))
        state = _load_safetensors(path) if fmt == "safetensors" else load_state_dict_file(path)
        _apply_state(net, state, path)

    norm = model_block.get("normalization") or {}
    model = with_normalization(net, norm.get("mean"), norm.get("std"))
    model.eval()
    model.to(device)
    for p in model.parameters():
        p.requires_grad_(False)
    check_output_shape(model, model_block, device)
    return model


def check_output_shape(model: nn.Module, model_block: Mapping[str, Any], device: str = "cpu") -> None:
    shape = [int(d) for d in model_block.get("input_shape") or []]
    num_classes = int(model_block.get("num_classes") or 0)
    if not shape:
        raise ModelError("model.input_shape is missing")
    try:
        with torch.no_grad():
            out = model(torch.zeros([1, *shape], device=device))
    except Exception as exc:  # shape errors surface as RuntimeError from inside torch
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"the model does not accept input_shape {shape}: {msg}") from None
    if tuple(out.shape) != (1, num_classes):
        raise ModelError(
            f"the model maps input_shape {shape} to {list(out.shape)}, expected [1, {num_classes}] (num_classes)"
        )
