"""Whether a report is a report on exactly this claim, and reading the two documents for a store change.

``curator approve``, ``curator transition``, the publication rule and the board's re-verification
state all ask :func:`report_mismatches`: a report bound to another claim (another digest, model,
verifier, params or setting) says nothing about this one, whatever its verdict.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from curator.core.digest import claim_digest, same_protocol
from curator.core.errors import CuratorError
from curator.core.jsonio import JsonFileError, read_json
from curator.core.radius import RADIUS_TOLERANCE
from curator.core.schemas import REPORT_SCHEMA_ID, validate


def _close(a: Any, b: Any, tol: float = RADIUS_TOLERANCE) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=0, abs_tol=tol)


def _identity_mismatches(entry: dict[str, Any], report: dict[str, Any]) -> list[str]:
    """The claim the report names: its id, its digest and its model."""
    out: list[str] = []
    rep_entry = report.get("entry", {})
    if rep_entry.get("id") != entry.get("id"):
        out.append(f"report is for entry {rep_entry.get('id')!r}, not {entry.get('id')!r}")
    digest = claim_digest(entry)
    if rep_entry.get("sha256") != digest:
        out.append(f"report entry.sha256 {rep_entry.get('sha256')} is not this claim's digest {digest} "
                   "(the claim changed after it was verified)")
    model = entry.get("model")
    if not model:
        out.append("the entry has no model: nothing could have been re-verified")
    elif report.get("model", {}).get("sha256") != model.get("sha256"):
        out.append(f"report model.sha256 {report.get('model', {}).get('sha256')} is not the entry's "
                   f"{model.get('sha256')}")
    return out


def _verifier_mismatches(entry: dict[str, Any], report: dict[str, Any]) -> list[str]:
    """The verifier that ran, with every parameter the entry states at the entry's value."""
    out: list[str] = []
    cert = entry.get("certification", {})
    rep_ver = report.get("verifier", {})
    if rep_ver.get("name") != cert.get("verifier"):
        out.append(f"report verifier {rep_ver.get('name')!r} is not the entry's {cert.get('verifier')!r}")
    rep_params = rep_ver.get("params", {}) if isinstance(rep_ver.get("params"), dict) else {}
    for key, value in sorted((cert.get("params") or {}).items()):
        if key not in rep_params:
            out.append(f"report verifier params lack {key!r} (the entry states {value!r})")
        elif rep_params[key] != value:
            out.append(f"report verifier param {key!r} is {rep_params[key]!r}, the entry states {value!r}")
    return out


def _setting_mismatches(entry: dict[str, Any], report: dict[str, Any]) -> list[str]:
    """Dataset, threat model, protocol and the number the report checked."""
    out: list[str] = []
    setting = entry.get("setting", {})
    if report.get("dataset", {}).get("name") != setting.get("dataset"):
        out.append(f"report dataset {report.get('dataset', {}).get('name')!r} is not {setting.get('dataset')!r}")
    threat = report.get("threat", {})
    if threat.get("norm") != setting.get("norm"):
        out.append(f"report norm {threat.get('norm')!r} is not {setting.get('norm')!r}")
    if not _close(threat.get("radius"), setting.get("radius")):
        out.append(f"report radius {threat.get('radius')!r} is not {setting.get('radius')!r}")
    rep_entry = report.get("entry", {})
    own = same_protocol(entry)
    if rep_entry.get("same_protocol") is not own:
        out.append(f"report entry.same_protocol is {rep_entry.get('same_protocol')!r}, but the claim "
                   + ("names its own certifier (certification.claimed_with)" if not own else
                      "was measured with the verifier it names"))
    claimed = entry.get("result", {}).get("certified_accuracy")
    if not _close(rep_entry.get("claimed_certified_accuracy"), claimed, 1e-9):
        out.append(f"report checked a claim of {rep_entry.get('claimed_certified_accuracy')}%, "
                   f"the entry claims {claimed}%")
    return out


def report_mismatches(entry: dict[str, Any], report: dict[str, Any]) -> list[str]:
    """Why ``report`` is not a report on exactly this claim (empty when it is)."""
    return (_identity_mismatches(entry, report) + _verifier_mismatches(entry, report)
            + _setting_mismatches(entry, report))


def report_schema_problems(path: Path | str, report: dict[str, Any]) -> list[str]:
    """Where ``report`` (read from ``path``) breaks report.schema.json, one line each."""
    return [f"{path}: {ptr or '/'}: {msg}" for ptr, msg in validate(report, REPORT_SCHEMA_ID)]


def load_object(path: Path, what: str, refused: type[CuratorError]) -> dict[str, Any]:
    """The JSON object in ``path``; anything else refuses the change with ``refused``, naming ``what``."""
    try:
        doc = read_json(path)
    except JsonFileError as exc:
        raise refused(f"{what}: {exc}") from None
    if not isinstance(doc, dict):
        raise refused(f"{what}: {path}: /: not a JSON object")
    return doc
