"""Turning a claim's ``model`` block and a verified artifact into a ready ``nn.Module``.

Submissions are untrusted, so no loader here ever unpickles: safetensors files are plain tensor
containers, ``state_dict`` files go only through ``torch.load(weights_only=True)`` (torch's
restricted unpickler, which refuses every global outside tensors and containers), and ONNX graphs
are converted op by op. The network's code always comes from a registered architecture (or the
ONNX converter), never from the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from curator.core.errors import CuratorError
from curator.engines.layers import with_normalization

__all__ = ["ModelError", "build_architecture", "load_model", "load_state_dict_file", "resolve_device", "FORMATS",
           "load_checkpoint", "select_state", "rename_keys", "architecture_kwargs"]

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
    from curator.core.schemas import validate_with, validator_for_schema

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
    input_shape, num_classes); ``path`` is the verified artifact (see :func:`curator.verify.artifacts.fetch`).
    The entry's normalisation is prepended as :class:`curator.engines.layers.Normalize`, and a forward
    pass on a zero input of ``input_shape`` must give ``[1, num_classes]``.
    """
    path = Path(path)
    fmt = model_block.get("format")
    if fmt not in FORMATS:
        raise ModelError(f"unknown model format {fmt!r} (known: {', '.join(FORMATS)})")
    if fmt == "onnx":
        from curator.engines.onnx import onnx_to_torch  # written alongside the MILP verifier; imported only when needed

        # The claim's input_shape is the layout verifiers feed ([1, 28, 28] for MNIST); the
        # converter accepts it when it matches the graph's or the graph starts by flattening.
        shape = [int(d) for d in model_block.get("input_shape") or []] or None
        net = onnx_to_torch(path, input_shape=shape)
    else:
        arch = model_block.get("architecture") or {}
        if not arch.get("name"):
            raise ModelError(f"model format {fmt!r} needs model.architecture.name")
        from curator.verify.model_budget import check_model_budget

        kwargs = architecture_kwargs(model_block, registry)
        # sized on the meta device against the weights file: nothing is allocated before this passes
        check_model_budget({**model_block, "architecture": {**arch, "kwargs": kwargs}}, path, registry)
        net = build_architecture(registry, arch["name"], kwargs)
        state = load_checkpoint(model_block, path)
        apply_checkpoint(net, state, model_block.get("url") or str(path))

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


# --------------------------------------------------------------------------- checkpoints as researchers publish them


def architecture_kwargs(model_block: Mapping[str, Any], registry: Any) -> dict[str, Any]:
    """The architecture's kwargs, with ``input_shape`` filled from ``model.input_shape`` for an
    architecture that infers its layers' in-shapes (``takes_input_shape``) and was given none, so
    the claim states its input shape once."""
    arch = model_block.get("architecture") or {}
    kwargs = dict(arch.get("kwargs") or {})
    try:
        plugin = registry.architecture(arch.get("name"))
    except Exception:  # unknown names are reported by build_architecture / validate
        return kwargs
    if getattr(plugin, "takes_input_shape", False) and "input_shape" not in kwargs and model_block.get("input_shape"):
        kwargs["input_shape"] = [int(d) for d in model_block["input_shape"]]
    return kwargs


def _where(model_block: Mapping[str, Any], path: Path) -> str:
    return str(model_block.get("url") or path)


def load_checkpoint(model_block: Mapping[str, Any], path: Path) -> Any:
    """The tensors of the claim's weights file: a ``{name: tensor}`` dict, or a list of them (a
    cascade's checkpoint), after ``model.state_dict_key`` and ``model.key_map``.

    safetensors files are flat already; a torch file is read with ``weights_only=True`` and, with
    a ``state_dict_key``, the object at that path is taken (``["state_dict", 0]``); without one a
    plain state_dict or a ``{"state_dict"|"model"|…: state_dict}`` wrapper is accepted as before.
    Errors name the entry field and the model's URL (what the submitter knows), not the cache file.
    """
    where = _where(model_block, path)
    key_path = model_block.get("state_dict_key")
    if model_block.get("format") == "safetensors":
        if key_path:
            raise ModelError(f"/model/state_dict_key: a safetensors file ({where}) is flat; state_dict_key applies to torch files")
        try:
            state: Any = _load_safetensors(path)
        except ModelError as exc:
            raise ModelError("/model/url: " + str(exc).replace(str(path), where, 1)) from None
    elif not key_path:
        try:
            state = load_state_dict_file(path)
        except ModelError as exc:
            raise ModelError(str(exc).replace(str(path), where, 1)
                             + " (if the file wraps its weights, say where with model.state_dict_key)") from None
    else:
        state = select_state(_torch_load(path, where), key_path, where)
    return rename_keys(state, model_block.get("key_map"), where)


def _torch_load(path: Path, where: str) -> Any:
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # UnpicklingError for refused globals, RuntimeError for non-torch files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"/model/url: {where}: not a loadable weights-only torch file ({first}); "
                         "pickled objects are never executed") from None


def _describe(obj: Any) -> str:
    if isinstance(obj, Mapping):
        keys = [str(k) for k in list(obj)[:8]]
        return f"a dict with keys {keys}" + (" …" if len(obj) > 8 else "")
    if isinstance(obj, (list, tuple)):
        return f"a list of {len(obj)} items"
    return f"a {type(obj).__name__}"


def select_state(obj: Any, key_path: list[Any], where: str) -> Any:
    """Follow ``key_path`` (dict keys as strings, list positions as integers) into ``obj``; the
    result must be a state_dict or a non-empty list of state_dicts (a cascade's stages)."""
    for depth, key in enumerate(key_path):
        ptr = f"/model/state_dict_key/{depth}"
        if isinstance(obj, Mapping):
            if key not in obj:
                raise ModelError(f"{ptr}: {where}: no key {key!r} here; found {_describe(obj)}")
            obj = obj[key]
        elif isinstance(obj, (list, tuple)):
            if isinstance(key, bool) or not isinstance(key, int) or not -len(obj) <= key < len(obj):
                raise ModelError(f"{ptr}: {where}: {key!r} is not a position in {_describe(obj)}")
            obj = obj[key]
        else:
            raise ModelError(f"{ptr}: {where}: cannot index {_describe(obj)} with {key!r}")
    if isinstance(obj, Mapping) and _is_tensor_dict(obj):
        return {str(k): v for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(o, Mapping) and _is_tensor_dict(o) for o in obj):
        return [{str(k): v for k, v in o.items()} for o in obj]
    raise ModelError(f"/model/state_dict_key: {where}: the object at {list(key_path)} is {_describe(obj)}, "
                     "not a state_dict (names → tensors) or a list of them")


def rename_keys(state: Any, key_map: list[list[str]] | None, where: str = "") -> Any:
    """Each key's first matching ``[from_prefix, to_prefix]`` pair of ``key_map`` replaces that
    prefix (``[["module.", ""]]`` strips DataParallel's prefix); keys matching none stay. Two keys
    renamed onto one name are an error, not a silent overwrite."""
    if isinstance(state, list):
        return [rename_keys(s, key_map, where) for s in state]
    if not key_map:
        return state
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = key
        for old_prefix, new_prefix in key_map:
            if key.startswith(old_prefix):
                new = new_prefix + key[len(old_prefix):]
                break
        if new in out:
            raise ModelError(f"/model/key_map: {where}: two keys are renamed to {new!r}")
        out[new] = value
    return out


def apply_checkpoint(module: nn.Module, state: Any, where: str) -> None:
    """Strictly load ``state`` into ``module``; a list of state_dicts goes stage by stage into a
    :class:`curator.engines.cascade.Cascade` (one per stage, in order)."""
    if isinstance(state, list):
        stages = getattr(module, "stages", None)
        if stages is None or not isinstance(stages, nn.ModuleList):
            raise ModelError(f"/model/state_dict_key: {where} holds a list of {len(state)} state_dicts; "
                             "only a cascade architecture takes one per stage")
        if len(state) != len(stages):
            raise ModelError(f"/model/architecture/kwargs/stages: {where} holds {len(state)} state_dicts, "
                             f"the cascade has {len(stages)} stages")
        for i, (stage, sd) in enumerate(zip(stages, state, strict=True)):
            _apply_with_pointer(stage, sd, f"{where} (stage {i})")
        return
    _apply_with_pointer(module, state, where)


def _apply_with_pointer(module: nn.Module, state: Mapping[str, torch.Tensor], where: str) -> None:
    try:
        _apply_state(module, state, where)
    except ModelError as exc:
        raise ModelError(f"/model/architecture: {exc} (model.state_dict_key selects the weights, "
                         "model.key_map renames their keys)") from None
