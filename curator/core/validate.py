"""Validating entry files: the schema, then the rules a schema cannot state.

:func:`validate_paths` is the library entry point. It never raises on bad *content*: every finding
becomes a :class:`~curator.core.errors.Problem` (``file: /json/pointer: message``) in the returned
:class:`Report`. Only a path that does not exist is a usage error. The rules that need the installed
plugins are not here but in :mod:`curator.verify.claim_checks`, which passes them in as ``checks``
(``curator validate``, ``approve`` and CI use it): this module imports no plugin, no model code, no torch.

Semantic rules (see docs/schema.md for the reasoning):

* ``setting.radius_text`` parses (:func:`curator.core.radius.parse_radius`) and equals ``radius``
  within :data:`curator.core.radius.RADIUS_TOLERANCE`.
* ``certified_accuracy ≤ clean_accuracy``.
* Accuracies are percentages: when certified and clean accuracy are both in (0, 1] the entry
  almost surely wrote fractions — an error; a single value in (0, 1] is an error too when the
  entry has a model (it would be re-verified and shown as such), a warning otherwise (a tiny
  certified accuracy at a large radius); ``result.accuracy_below_one_percent: true`` says the
  value really is below 1% and silences both.
* A probabilistic certificate states its failure probability ``certification.alpha``, except an
  imported ``legacy`` record whose source never stated one.
* With ``checks`` (:mod:`curator.verify.claim_checks`): the verifier, architecture and dataset
  rules against the installed plugins, and a probabilistic claim's verifier ``params.alpha``
  (defaults filled in) equal to ``certification.alpha``.
* ``id`` equals the file name without ``.json``.
* Duplicates: the same paper (any shared :func:`curator.core.paperid.paper_keys` key) in the same
  setting (dataset, norm, radius) with the same method (``training.method``, else the verifier)
  twice in the validated set — an error on the later file, naming the earlier one — unless one
  ``supersedes`` the other.
* ``supersedes`` names an entry of the same setting (in the validated set or ``known``, a store's
  entries); with ``require_known``, one the store lacks is an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from curator.core.errors import Problem, UsageError
from curator.core.jsonio import MAX_JSON_BYTES, MAX_REPORT_BYTES, JsonFileError, read_json
from curator.core.paperid import normalise_title, paper_keys
from curator.core.radius import RADIUS_TOLERANCE, parse_radius
from curator.core.schemas import BENCHMARK_RESULT_SCHEMA_ID, ENTRY_SCHEMA_ID, REPORT_SCHEMA_ID, validate_with, validator


class PluginChecks(Protocol):
    """The rules of an entry that need the installed plugins (verifier, architecture, dataset)."""

    def problems(self, entry: dict[str, Any], file: str, legacy: bool) -> list[Problem]: ...


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


def check_entry(entry: Any, file: str, checks: PluginChecks | None = None) -> list[Problem]:
    """Schema errors of one parsed entry, then (if it is schema-valid) its semantic problems.

    ``checks`` adds the rules that need the installed plugins (the host's
    :class:`curator.verify.claim_checks.PluginChecks`); ``None`` skips them. The id-equals-stem
    rule uses ``file``; pass the path the entry will have.
    """
    return _check(entry, file, checks)[0]


def _check(entry: Any, file: str, checks: PluginChecks | None) -> tuple[list[Problem], bool]:
    found = [Problem(file, ptr, msg) for ptr, msg in validate_with(validator(ENTRY_SCHEMA_ID), entry)]
    if found:
        return found, False
    return _semantic(entry, file, checks), True


def _semantic(entry: dict[str, Any], file: str, checks: PluginChecks | None) -> list[Problem]:
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
        err("/result", f"certified {cert} and clean {clean} are both ≤ 1: accuracies are percent, not fractions "
                       f"(write {cert * 100:g} and {clean * 100:g})")
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

    if checks is not None:
        out.extend(checks.problems(entry, file, legacy))
    return out


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


def validate_paths(paths: Iterable[str | os.PathLike], checks: PluginChecks | None = None, *,
                   max_bytes: int = MAX_ENTRY_BYTES, known: dict[str, dict[str, Any]] | None = None,
                   require_known: bool = False) -> Report:
    """Validate every entry file under ``paths`` (files, or folders walked for ``*.json``).

    A document with a ``report_version`` field is a verification report (the store keeps them in
    ``reports/``) and is checked against the report schema instead; one with ``result_version`` is
    a benchmark result. ``checks`` adds the plugin rules (None: schema and semantic rules only);
    ``known`` are the store's entries by id, the targets ``supersedes`` may name, and
    ``require_known`` makes a target missing from them an error. Raises :class:`UsageError` only
    for a path that does not exist; everything else is a problem in the report.
    """
    files, problems = collect_files(paths)
    report = Report(problems=list(problems), files=len(files))
    for f in files:
        name = str(f)
        try:
            in_reports = "reports" in Path(f).parts[:-1]
            doc = read_json(f, max_bytes=MAX_REPORT_BYTES if in_reports else max_bytes)
        except JsonFileError as exc:
            report.problems.append(exc.problem)
            continue
        schema_id = _document_schema(doc)
        if schema_id is not None:
            report.problems.extend(Problem(name, ptr, msg) for ptr, msg in validate_with(validator(schema_id), doc))
            report.reports += 1
            continue
        found, schema_valid = _check(doc, name, checks)
        report.problems.extend(found)
        if schema_valid:
            report.entries[name] = doc
    report.problems.extend(find_duplicates(report.entries.items()))
    report.problems.extend(check_supersedes(report.entries, known, require_known=require_known))
    return report


def _document_schema(doc: Any) -> str | None:
    """The schema of a stored document that is not an entry: a verification report
    (leaderboard/reports/…) or a benchmark result (leaderboard/benchmark/…); None for an entry."""
    if isinstance(doc, dict) and "report_version" in doc:
        return REPORT_SCHEMA_ID
    if isinstance(doc, dict) and "result_version" in doc:
        return BENCHMARK_RESULT_SCHEMA_ID
    return None


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
    "PluginChecks",
]
