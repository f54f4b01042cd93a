"""Validating entry files: the schema, then the rules a schema cannot state.

:func:`validate_paths` is the library entry point (``curator validate``, ``approve`` and CI use
it). It never raises on bad *content*: every finding becomes a :class:`~curator.core.errors.Problem`
(``file: /json/pointer: message``) in the returned :class:`Report`. Only a path that does not
exist is a usage error.

Semantic rules (see docs/schema.md for the reasoning):

* ``setting.radius_text`` parses (:func:`curator.core.radius.parse_radius`) and equals ``radius``
  within :data:`curator.core.radius.RADIUS_TOLERANCE`.
* ``certified_accuracy ≤ clean_accuracy``.
* Accuracies are percentages: when certified and clean accuracy are both in (0, 1] the entry
  almost surely wrote fractions — an error; a single value in (0, 1] is an error too when the
  entry has a model (it would be re-verified and shown as such), a warning otherwise (a tiny
  certified accuracy at a large radius); ``result.accuracy_below_one_percent: true`` says the
  value really is below 1% and silences both.
* A probabilistic claim's verifier ``params.alpha`` (defaults filled in) equals ``certification.alpha``.
* A probabilistic certificate states its failure probability ``certification.alpha``, except an
  imported ``legacy`` record whose source never stated one.
* The verifier exists, certifies the entry's type and norm, and ``params`` validate against its
  ``params_schema``; ``model.architecture`` exists and its ``kwargs`` validate (an ONNX model needs
  none); the dataset exists.
* ``model.input_shape`` equals the dataset's input shape and the architecture, built on torch's meta
  device, maps it to ``[1, num_classes]``.
  A check is skipped while no plugin of that kind is installed at all, and the dataset check is
  skipped for ``legacy`` records (they are listed, never re-run).
* ``id`` equals the file name without ``.json``.
* Duplicates: the same paper (any shared :func:`curator.core.paperid.paper_keys` key) in the same
  setting (dataset, norm, radius) with the same method (``training.method``, else the verifier)
  twice in the validated set — an error on the later file, naming the earlier one — unless one
  ``supersedes`` the other.
* ``supersedes`` names an entry of the same setting (in the validated set or the ``store``); with a
  store, one the store lacks is an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from jsonschema import Draft202012Validator

from curator.core.errors import Problem, UsageError
from curator.core.jsonio import MAX_JSON_BYTES, MAX_REPORT_BYTES, JsonFileError, read_json
from curator.core.paperid import normalise_title, paper_keys
from curator.core.radius import RADIUS_TOLERANCE, parse_radius
from curator.core.schemas import ENTRY_SCHEMA_ID, REPORT_SCHEMA_ID, validate_with, validator, validator_for_schema

MAX_ENTRY_BYTES = 1024 * 1024  # an entry is a few KiB; anything near this is not an entry


@dataclass
class Report:
    """What :func:`validate_paths` found. ``ok`` ⇔ no problem of severity ``error``."""

    problems: list[Problem] = field(default_factory=list)
    files: int = 0
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)  # file → parsed, schema-valid entry
    reports: int = 0  # verification reports ("report_version") and benchmark results ("result_version"), checked as such

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "files": self.files,
            "reports": self.reports,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "problems": [p.as_dict() for p in self.problems],
        }


# --------------------------------------------------------------------------- collecting files


def collect_files(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[Problem]]:
    """The files to validate: each named file, and every ``*.json`` below each named folder.

    Walking a folder never leaves it: a symlink (file or folder) that resolves outside the folder
    given is reported, not followed. Raises :class:`UsageError` for a path that does not exist.
    """
    files: list[Path] = []
    problems: list[Problem] = []
    seen: set[Path] = set()

    def add(p: Path, real: Path | None = None) -> None:
        real = real or p.resolve()
        if real not in seen:
            seen.add(real)
            files.append(p)

    for raw in paths:
        p = Path(raw)
        if not p.exists() and not p.is_symlink():
            raise UsageError(f"no such file or folder: {raw}")
        if p.is_dir():
            root = p.resolve()
            for dirpath, dirnames, filenames in os.walk(p, followlinks=False):
                dirnames.sort()
                here = Path(dirpath)
                for name in list(dirnames):
                    sub = here / name
                    if sub.is_symlink():
                        # Not descended: outside the tree it escapes, inside it is walked anyway.
                        if not _within(sub.resolve(), root):
                            problems.append(Problem(str(sub), "", f"symlink resolves outside {raw}; not followed"))
                        dirnames.remove(name)
                for name in sorted(filenames):
                    if not name.endswith(".json"):
                        continue
                    f = here / name
                    # Only a symlinked file can leave the tree (symlinked folders are not descended),
                    # so a plain file's real path is the root's plus its relative path: no syscalls.
                    if f.is_symlink():
                        real = f.resolve()
                        if not _within(real, root):
                            problems.append(Problem(str(f), "", f"resolves outside {raw} (symlink); not read"))
                            continue
                    else:
                        real = root / f.relative_to(p)
                    add(f, real)
        elif p.is_file():
            add(p)
        else:
            problems.append(Problem(str(p), "", "not a regular file or folder (dangling symlink?)"))
    return files, problems


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


# --------------------------------------------------------------------------- single entry


class _Plugins:
    """Registry look-ups with cached validators (10,000 entries share a handful of schemas)."""

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


def check_entry(entry: Any, file: str, plugins: "_Plugins | Any | None" = None) -> list[Problem]:
    """Schema errors of one parsed entry, then (if it is schema-valid) its semantic problems.

    ``plugins`` is a plugin registry (or ``None`` to skip the plugin checks). The id-equals-stem
    rule uses ``file``; pass the path the entry will have.
    """
    if plugins is not None and not isinstance(plugins, _Plugins):
        plugins = _Plugins(plugins)
    return _check(entry, file, plugins)[0]


def _check(entry: Any, file: str, plugins: _Plugins | None) -> tuple[list[Problem], bool]:
    found = [Problem(file, ptr, msg) for ptr, msg in validate_with(validator(ENTRY_SCHEMA_ID), entry)]
    if found:
        return found, False
    return _semantic(entry, file, plugins), True


def _semantic(entry: dict[str, Any], file: str, plugins: _Plugins | None) -> list[Problem]:
    out: list[Problem] = []

    def err(ptr: str, msg: str) -> None:
        out.append(Problem(file, ptr, msg))

    def warn(ptr: str, msg: str) -> None:
        out.append(Problem(file, ptr, msg, "warning"))

    status = entry["status"]
    legacy = status == "legacy"

    stem = Path(file).name[: -len(".json")] if file.endswith(".json") else Path(file).name
    if entry["id"] != stem:
        err("/id", f"id {entry['id']!r} does not match the file name {Path(file).name!r} (expected {stem!r})")

    setting = entry["setting"]
    try:
        parsed = parse_radius(setting["radius_text"])
    except ValueError as exc:
        err("/setting/radius_text", str(exc))
    else:
        radius = setting["radius"]
        if abs(parsed - radius) > RADIUS_TOLERANCE * max(1.0, abs(radius)):
            err("/setting/radius", f"radius {radius!r} differs from radius_text {setting['radius_text']!r} = {parsed!r}")

    result = entry["result"]
    cert = result["certified_accuracy"]
    clean = result.get("clean_accuracy")
    if clean is not None and cert > clean:
        err("/result/certified_accuracy", f"certified accuracy {cert} exceeds clean accuracy {clean}")
    small = [(name, v) for name, v in (("certified_accuracy", cert), ("clean_accuracy", clean)) if v is not None and 0 < v <= 1]
    marked = result.get("accuracy_below_one_percent") is True
    if clean is not None and len(small) == 2 and not marked:
        err("/result", f"certified {cert} and clean {clean} are both ≤ 1: accuracies are percent, not fractions (write {cert * 100:g} and {clean * 100:g})")
    elif small and "model" in entry and not marked:
        # A re-verifiable claim would be confirmed and shown as "0.94 re-verified": refuse the likely fraction.
        for name, v in small:
            err(f"/result/{name}", f"{v} ≤ 1: accuracies are percent 0–100 (write {v * 100:g}); if it really is below "
                                   "1%, set result.accuracy_below_one_percent: true")
    elif not marked:
        for name, v in small:
            warn(f"/result/{name}", f"{v} ≤ 1: percent, not fraction? (accuracies are percent 0–100)")

    certification = entry["certification"]
    probabilistic = certification["type"] == "probabilistic"
    if probabilistic and "alpha" not in certification and not legacy:
        err("/certification/alpha", "a probabilistic certificate must state alpha, its failure probability")
    if not probabilistic and "alpha" in certification:
        warn("/certification/alpha", "alpha is meaningless for a deterministic certificate")

    if plugins is not None:
        out.extend(_plugin_checks(entry, file, plugins, legacy))
    return out


def _plugin_checks(entry: dict[str, Any], file: str, plugins: _Plugins, legacy: bool) -> list[Problem]:
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
                out.append(Problem(file, "/certification/verifier", f"{name!r} is an attack: it bounds robust accuracy from above and certifies nothing"))
            elif kind != certification["type"]:
                out.append(Problem(file, "/certification/type", f"verifier {name!r} gives {kind} certificates, the entry says {certification['type']}"))
            norm = entry["setting"]["norm"]
            if norm not in tuple(getattr(verifier, "norms", ())):
                out.append(Problem(file, "/setting/norm", f"verifier {name!r} does not handle {norm} (it handles {', '.join(verifier.norms)})"))
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


def _model_checks(entry: dict[str, Any], file: str, plugins: _Plugins) -> list[Problem]:
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


def _input_shape_checks(entry: dict[str, Any], file: str, plugins: _Plugins, build: bool) -> list[Problem]:
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


def _setting_key(entry: dict[str, Any]) -> tuple[str, str, float]:
    setting = entry.get("setting") or {}
    return setting.get("dataset", ""), setting.get("norm", ""), round(float(setting.get("radius", 0.0)), 9)


def check_supersedes(entries: dict[str, dict[str, Any]], known: dict[str, dict[str, Any]] | None = None,
                     require_known: bool = False) -> list[Problem]:
    """``supersedes`` names another entry of the same setting: one of ``entries`` or of ``known``
    (a store's entries by id). An id found in neither is an error when ``require_known`` (a
    store was given), else it cannot be checked here."""
    by_id = dict(known or {})
    by_id.update({e["id"]: e for e in entries.values() if isinstance(e.get("id"), str)})
    out: list[Problem] = []
    for file, entry in entries.items():
        target = entry.get("supersedes")
        if target is None:
            continue
        if target == entry["id"]:
            out.append(Problem(file, "/supersedes", "an entry cannot supersede itself"))
        elif target not in by_id:
            if require_known:
                out.append(Problem(file, "/supersedes", f"no entry {target!r} in the store"))
        elif _setting_key(by_id[target]) != _setting_key(entry):
            d, n, r = _setting_key(by_id[target])
            out.append(Problem(file, "/supersedes", f"{target!r} is in another setting ({d}, {n}, {r:g}); "
                                                    "a re-verification supersedes an entry of its own setting"))
    return out


def _related(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """One entry says it supersedes the other: two rows of one paper, not a duplicate."""
    return (a.get("supersedes") is not None and a.get("supersedes") == b.get("id")) or (
        b.get("supersedes") is not None and b.get("supersedes") == a.get("id"))


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


# --------------------------------------------------------------------------- duplicates


def duplicate_keys(entry: dict[str, Any]) -> set[tuple[str, str, str, float, str]]:
    """(paper key, dataset, norm, radius, method) tuples; two entries sharing one are duplicates.

    The radius is rounded to 9 decimals so that 8/255 and 0.0313725490 meet.
    """
    setting = entry.get("setting") or {}
    method = ((entry.get("training") or {}).get("method") or (entry.get("certification") or {}).get("verifier") or "")
    method = normalise_title(method)
    radius = round(float(setting.get("radius", 0.0)), 9)
    return {(k, setting.get("dataset", ""), setting.get("norm", ""), radius, method) for k in paper_keys(entry.get("paper"))}


def find_duplicates(entries: Iterable[tuple[str, dict[str, Any]]]) -> list[Problem]:
    """A problem on every entry that repeats an earlier one (same paper, setting and method)."""
    first: dict[tuple, str] = {}
    docs: dict[str, dict[str, Any]] = {}
    out: list[Problem] = []
    for file, entry in entries:
        docs.setdefault(file, entry)
        hits = set()
        keys = duplicate_keys(entry)
        for key in sorted(keys):
            if key in first and first[key] != file and not _related(docs[first[key]], entry):
                hits.add((first[key], key[0]))
        if hits:
            other, via = sorted(hits)[0]
            out.append(Problem(file, "/paper", f"duplicate of {other} (same paper [{via}], setting and method)"))
        for key in keys:
            first.setdefault(key, file)
    return out


# --------------------------------------------------------------------------- many files


def validate_paths(paths: Iterable[str | os.PathLike], registry: Any = None, *, use_plugins: bool = True,
                   max_bytes: int = MAX_ENTRY_BYTES, store: str | os.PathLike | None = None) -> Report:
    """Validate every entry file under ``paths`` (files, or folders walked for ``*.json``).

    A document with a ``report_version`` field is a verification report (the store keeps them in
    ``reports/``) and is checked against the report schema instead.

    ``registry`` defaults to the installed plugins (:func:`curator.api.registry.get_registry`);
    ``use_plugins=False`` skips the plugin checks. Raises :class:`UsageError` only for a path
    that does not exist; everything else is a problem in the report.
    """
    files, problems = collect_files(paths)
    if registry is None and use_plugins:
        from curator.api.registry import get_registry

        registry = get_registry()
    plugins = _Plugins(registry) if use_plugins and registry is not None else None
    report = Report(problems=list(problems), files=len(files))
    for f in files:
        name = str(f)
        try:
            in_reports = "reports" in Path(f).parts[:-1]
            doc = read_json(f, max_bytes=MAX_REPORT_BYTES if in_reports else max_bytes)
        except JsonFileError as exc:
            report.problems.append(exc.problem)
            continue
        if isinstance(doc, dict) and "report_version" in doc:
            # A verification report (leaderboard/reports/…): its own schema, not an entry.
            report.problems.extend(Problem(name, ptr, msg) for ptr, msg in validate_with(validator(REPORT_SCHEMA_ID), doc))
            report.reports += 1
            continue
        if isinstance(doc, dict) and "result_version" in doc:
            # A benchmark result (leaderboard/benchmark/…): its own schema, not an entry.
            from curator.benchmark.result import RESULT_SCHEMA_ID

            report.problems.extend(Problem(name, ptr, msg) for ptr, msg in validate_with(validator(RESULT_SCHEMA_ID), doc))
            report.reports += 1
            continue
        found, schema_valid = _check(doc, name, plugins)
        report.problems.extend(found)
        if schema_valid:
            report.entries[name] = doc
    report.problems.extend(find_duplicates(report.entries.items()))
    report.problems.extend(check_supersedes(report.entries, _store_by_id(store), require_known=store is not None))
    return report


def _store_by_id(store: str | os.PathLike | None) -> dict[str, dict[str, Any]]:
    """The entries of the store at ``store`` by id (``supersedes`` targets); empty without one."""
    if store is None:
        return {}
    from curator.board.store import load_entries

    return {e["id"]: e for _, e in load_entries(Path(store)) if isinstance(e, dict) and isinstance(e.get("id"), str)}


def iter_problem_lines(report: Report) -> Iterator[str]:
    """The text form: ``file: /pointer: message`` (warnings prefixed ``warning:``)."""
    for p in report.problems:
        yield str(p) if p.severity == "error" else f"warning: {p}"


__all__ = [
    "Report",
    "check_entry",
    "check_supersedes",
    "collect_files",
    "duplicate_keys",
    "find_duplicates",
    "validate_paths",
    "iter_problem_lines",
    "MAX_JSON_BYTES",
]
