"""What ``curator diff`` demands of a report an entry cites: that it is stored in the head tree and
belongs to exactly this claim.

A pull request writes every byte of an entry, its history and its ``reports[]`` included, so a
history item that says "verified with report X" proves nothing by itself. A move to verified or
published, a supersede and a new shown entry are accepted only when the cited report

* lies at ``reports/<entry id>/<sha256>.json`` in the store of the head revision,
* has the sha256 its file name says (reports are content-addressed; an edited one no longer is),
* names this entry (``entry.id``) and this claim (``entry.sha256`` = :func:`curator.core.digest.claim_digest`
  of the entry as it is at head), and the entry's model (``model.sha256``) when the entry has one,
* and, for a confirming move, says ``confirmed``.

Citing another entry's report, a report of the claim before it was changed, or a report that is
not there fails, naming the entry and the path.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from curator.core.digest import claim_digest
from curator.core.jsonio import MAX_REPORT_BYTES, JsonFileError, loads

_REPORT_PATH = re.compile(r"reports/([a-z0-9](?:[a-z0-9-]{0,126}[a-z0-9])?)/([0-9a-f]{64})\.json")


class StoredReports:
    """Report files of one revision's store, read lazily from git objects (never the work tree)."""

    def __init__(self, repo: Any, rev: str, store: str):
        self._tree = repo.commit(rev).tree
        self._store = store
        self._cache: dict[str, dict[str, Any] | str] = {}

    def get(self, rel: str) -> dict[str, Any] | str:
        """The parsed report at ``rel`` (relative to the store), or why it cannot be one."""
        if rel not in self._cache:
            self._cache[rel] = self._read(rel)
        return self._cache[rel]

    def _read(self, rel: str) -> dict[str, Any] | str:
        m = _REPORT_PATH.fullmatch(rel)
        if not m:
            return "is not a report path (reports/<id>/<sha256>.json)"
        full = f"{self._store}/{rel}" if self._store not in ("", ".") else rel
        try:
            blob = self._tree / full
        except KeyError:
            return "is not in the store at the head revision"
        if blob.type != "blob" or blob.mode & 0o170000 == 0o120000:
            return "is not a regular file"
        if blob.size > MAX_REPORT_BYTES:
            return f"is {blob.size} bytes, over the {MAX_REPORT_BYTES}-byte limit"
        data = blob.data_stream.read()
        if hashlib.sha256(data).hexdigest() != m.group(2):
            return "does not have the sha256 its name says (a stored report is never edited)"
        try:
            doc = loads(data.decode("utf-8"), rel)
        except (UnicodeDecodeError, JsonFileError) as exc:
            return f"is not a readable report: {exc}"
        return doc if isinstance(doc, dict) else "is not a report (not a JSON object)"


def _verdict(report: dict[str, Any]) -> Any:
    verdict = report.get("verdict")
    return verdict.get("status") if isinstance(verdict, dict) else verdict


def cited_report(eid: str, rel: Any, reports: StoredReports) -> tuple[dict[str, Any] | None, str | None]:
    """The stored report a history item or ``reports[]`` cites, when it is one of entry ``eid``'s
    (its claim may be an older one); else ``(None, why not)``."""
    if not isinstance(rel, str) or not rel:
        return None, f"{eid}: a history item cites {rel!r}, not a report path"
    m = _REPORT_PATH.fullmatch(rel)
    if m and m.group(1) != eid:
        return None, f"{eid}: cites {rel}, a report of another entry ({m.group(1)})"
    report = reports.get(rel)
    if isinstance(report, str):
        return None, f"{eid}: report {rel} {report}"
    bound = report.get("entry") if isinstance(report.get("entry"), dict) else {}
    if bound.get("id") != eid:
        return None, f"{eid}: cites {rel}, a report of entry {bound.get('id')!r}"
    return report, None


def binding_problem(eid: str, entry: dict[str, Any], rel: Any, reports: StoredReports, *,
                    confirming: bool) -> str | None:
    """Why the report at ``rel`` does not justify ``entry`` as it is now (None when it does)."""
    report, problem = cited_report(eid, rel, reports)
    if report is None:
        return problem
    bound = report["entry"]
    want = claim_digest(entry)
    if bound.get("sha256") != want:
        return (f"{eid}: report {rel} is for claim {bound.get('sha256')!r}, not this entry's claim {want} "
                "(the entry was changed after its re-verification)")
    model = entry.get("model")
    if isinstance(model, dict):
        got = (report.get("model") or {}).get("sha256") if isinstance(report.get("model"), dict) else None
        if got != model.get("sha256"):
            return f"{eid}: report {rel} verified model {got!r}, the entry names {model.get('sha256')!r}"
    if confirming and _verdict(report) != "confirmed":
        return f"{eid}: report {rel} says {_verdict(report)!r}, not 'confirmed'"
    return None
