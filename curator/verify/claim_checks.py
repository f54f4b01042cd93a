"""A claim against the installed plugins: the rules of ``curator validate`` that need them.

The schema and the semantic rules are torch-free and plugin-free (:mod:`curator.core.validate`);
these add what only the plugins know: the verifier exists, certifies the claim's type and norm and
accepts its params; the architecture exists and accepts its kwargs, and — built on torch's meta
device, no memory, no weights — maps ``model.input_shape`` to ``[1, num_classes]``; the dataset
exists and has that input shape. A check is skipped while no plugin of its kind is installed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from curator.core.errors import Problem
from curator.core.schemas import validate_with, validator_for_schema
from curator.core.validate import MAX_ENTRY_BYTES, Report, check_entry, validate_paths


class PluginChecks:
    """The plugin rules over one registry, with cached validators (10,000 entries share a handful of
    schemas). Pass it to :func:`curator.core.validate.check_entry` as its ``checks``."""

    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self._validators: dict[tuple[str, str], Draft202012Validator] = {}

    def installed(self, kind: str) -> bool:
        return self.registry is not None and bool(self.registry.names(kind))

    def has(self, kind: str, name: str) -> bool:
        return self.registry.has(kind, name)

    def get(self, kind: str, name: str) -> Any:
        return self.registry.get(kind, name)

    def validator(self, kind: str, name: str, schema: dict[str, Any]) -> Draft202012Validator:
        key = (kind, name)
        if key not in self._validators:
            self._validators[key] = validator_for_schema(schema)
        return self._validators[key]


    def problems(self, entry: dict[str, Any], file: str, legacy: bool) -> list[Problem]:
        return _plugin_checks(entry, file, self, legacy)


def check_claim(entry: Any, file: str, registry: Any = None) -> list[Problem]:
    """:func:`curator.core.validate.check_entry` with the plugin rules of ``registry`` (None: the
    schema and semantic rules only)."""
    return check_entry(entry, file, PluginChecks(registry) if registry is not None else None)


def validate_claims(paths: Iterable[str | os.PathLike], registry: Any = None, *, use_plugins: bool = True,
                    max_bytes: int = MAX_ENTRY_BYTES, store: str | os.PathLike | None = None) -> Report:
    """What ``curator validate`` reports for ``paths``: :func:`curator.core.validate.validate_paths`
    with the plugin rules of ``registry`` (default: the installed plugins; ``use_plugins=False``
    skips them) and, with a ``store``, its entries as the targets ``supersedes`` may name."""
    if registry is None and use_plugins:
        from curator.api.registry import get_registry

        registry = get_registry()
    checks = PluginChecks(registry) if use_plugins and registry is not None else None
    return validate_paths(paths, checks, max_bytes=max_bytes, known=_store_by_id(store), require_known=store is not None)


def _store_by_id(store: str | os.PathLike | None) -> dict[str, dict[str, Any]]:
    """The entries of the store at ``store`` by id (``supersedes`` targets); empty without one."""
    if store is None:
        return {}
    from curator.board.store import load_entries

    return {e["id"]: e for _, e in load_entries(Path(store)) if isinstance(e, dict) and isinstance(e.get("id"), str)}


def _plugin_checks(entry: dict[str, Any], file: str, plugins: PluginChecks, legacy: bool) -> list[Problem]:
    out: list[Problem] = []
    certification = entry["certification"]
    name = certification.get("verifier")
    if name is not None and plugins.installed("verifier"):
        if not plugins.has("verifier", name):
            known = ", ".join(plugins.registry.names("verifier"))
            out.append(Problem(file, "/certification/verifier", f"unknown verifier {name!r} (installed: {known})"))
        else:
            verifier = plugins.get("verifier", name)
            kind = getattr(verifier, "certification", "deterministic")
            if kind == "attack":
                out.append(Problem(file, "/certification/verifier",
                                   f"{name!r} is an attack: it bounds robust accuracy from above and certifies nothing"))
            elif kind != certification["type"]:
                out.append(Problem(file, "/certification/type",
                                   f"verifier {name!r} gives {kind} certificates, the entry says {certification['type']}"))
            norm = entry["setting"]["norm"]
            if norm not in tuple(getattr(verifier, "norms", ())):
                out.append(Problem(file, "/setting/norm",
                                   f"verifier {name!r} does not handle {norm} (it handles {', '.join(verifier.norms)})"))
            v = plugins.validator("verifier", name, verifier.params_schema)
            bad_params = list(validate_with(v, certification.get("params", {})))
            for ptr, msg in bad_params:
                out.append(Problem(file, "/certification/params" + ptr, msg))
            if not bad_params and not legacy:
                out.extend(_alpha_agrees(entry, file, verifier))

    out.extend(_model_checks(entry, file, plugins))

    dataset = entry["setting"]["dataset"]
    if not legacy and plugins.installed("dataset") and not plugins.has("dataset", dataset):
        known = ", ".join(plugins.registry.names("dataset"))
        out.append(Problem(file, "/setting/dataset", f"unknown dataset {dataset!r} (installed: {known})"))
    return out


def _model_checks(entry: dict[str, Any], file: str, plugins: PluginChecks) -> list[Problem]:
    """The model block against the plugins: its architecture and kwargs (none needed for ONNX,
    whose graph is the architecture; the name ``onnx`` is accepted there too), then its
    ``input_shape`` against the dataset's and what the architecture accepts."""
    model = entry.get("model")
    if model is None:
        return []
    out: list[Problem] = []
    arch = model.get("architecture")
    if model["format"] == "onnx" and (arch is None or arch.get("name") == "onnx"):
        arch = None
    elif arch is not None and plugins.installed("architecture"):
        if not plugins.has("architecture", arch["name"]):
            known = ", ".join(plugins.registry.names("architecture"))
            out.append(Problem(file, "/model/architecture/name", f"unknown architecture {arch['name']!r} (installed: {known})"))
            arch = None
        else:
            from curator.verify.models import architecture_kwargs

            a = plugins.get("architecture", arch["name"])
            v = plugins.validator("architecture", arch["name"], a.kwargs_schema)
            problems = validate_with(v, architecture_kwargs(model, plugins.registry))
            out.extend(Problem(file, "/model/architecture/kwargs" + ptr, msg) for ptr, msg in problems)
            if problems:
                arch = None
    if model.get("state_dict_key") and model["format"] != "state_dict":
        out.append(Problem(file, "/model/state_dict_key", f"state_dict_key applies to torch state_dict files, not {model['format']}"))
    out.extend(_input_shape_checks(entry, file, plugins, arch is not None and plugins.installed("architecture")))
    return out


def _input_shape_checks(entry: dict[str, Any], file: str, plugins: PluginChecks, build: bool) -> list[Problem]:
    """``model.input_shape`` equals the dataset plugin's (when it declares one), and the
    architecture, built on torch's meta device (no memory, no weights), maps it to
    ``[1, num_classes]`` — the mistakes that otherwise surface as a raw torch error in verify."""
    model = entry["model"]
    shape = [int(d) for d in model["input_shape"]]
    out: list[Problem] = []
    name = entry["setting"]["dataset"]
    if plugins.installed("dataset") and plugins.has("dataset", name):
        expected = getattr(plugins.get("dataset", name), "input_shape", None)
        if expected and list(expected) != shape:
            out.append(Problem(file, "/model/input_shape", f"{shape}, but the {name} test set's inputs are {list(expected)}"))
            return out
    if build:
        message = _meta_shape_problem(model, plugins.registry)
        if message:
            ptr, msg = message
            out.append(Problem(file, ptr, msg))
    return out


def _meta_shape_problem(model: dict[str, Any], registry: Any) -> tuple[str, str] | None:
    import torch

    from curator.engines.cascade import find_cascade
    from curator.verify.models import ModelError, architecture_kwargs, build_architecture

    shape = [int(d) for d in model["input_shape"]]
    arch = model["architecture"]
    try:
        with torch.device("meta"):
            net = build_architecture(registry, arch["name"], architecture_kwargs(model, registry))
            found = find_cascade(net)
            nets = list(found[1].stages) if found else [net]
            outs = [n(torch.zeros([1, *shape])) for n in nets]
    except ModelError as exc:
        return "/model/architecture", str(exc)
    except Exception as exc:  # torch's shape errors are RuntimeErrors from inside the layers
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return "/model/input_shape", f"architecture {arch['name']!r} does not accept input_shape {shape}: {first}"
    for out in outs:
        if tuple(out.shape) != (1, int(model["num_classes"])):
            return "/model/num_classes", (f"architecture {arch['name']!r} maps input_shape {shape} to "
                                          f"{list(out.shape)}, not [1, {model['num_classes']}]")
    return None


def _alpha_agrees(entry: dict[str, Any], file: str, verifier: Any) -> list[Problem]:
    """A probabilistic claim states its failure probability twice: ``certification.alpha`` (what the
    board shows) and the verifier's ``params.alpha`` (what runs). They must be one number, or a run at
    alpha 0.4999 would pass as a claim "at alpha 0.001"."""
    from curator.api import params_with_defaults

    certification = entry["certification"]
    if certification["type"] != "probabilistic" or "alpha" not in (verifier.params_schema or {}).get("properties", {}):
        return []
    ran = params_with_defaults(verifier.params_schema, certification.get("params") or {}).get("alpha")
    if "alpha" in certification and ran != certification["alpha"]:
        return [Problem(file, "/certification/params/alpha", f"params.alpha {ran!r} is not certification.alpha "
                                                             f"{certification['alpha']!r}: they must be equal")]
    return []
