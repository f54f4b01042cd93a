"""The life of a claim on the board, and the only moves it may make.

::

    submitted ──► verified ──► published ──► disputed ──► refuted
                     ▲             ▲             │
    legacy ──────────┘             └─────────────┘   (a dispute resolved in the claim's favour)

``legacy`` entries were imported from an older board without re-verification; one becomes
``verified`` only when a re-verification report confirms it. ``refuted`` is final.

Every move appends one item to the entry's ``history`` (status, date, and the report and
reason that justified it). Replacing the numbers of an entry whose numbers the board already
shows (:data:`PROTECTED_STATUSES`) is not a move but a *supersede*: it needs a reason, and the
history item keeps the values it replaced under ``previous`` (dotted path → old value), so no
published number is ever lost.
"""

from __future__ import annotations

import copy
import datetime as _dt
from collections.abc import Iterable
from typing import Any

from curator.core.digest import LIFECYCLE_FIELDS
from curator.core.errors import CuratorError

STATUSES = ("submitted", "verified", "published", "disputed", "refuted", "legacy")

TRANSITIONS: dict[str, frozenset[str]] = {
    "submitted": frozenset({"verified"}),
    "verified": frozenset({"published"}),
    "published": frozenset({"disputed"}),
    "disputed": frozenset({"refuted", "published"}),
    "legacy": frozenset({"verified"}),
    "refuted": frozenset(),
}

# Moves that must cite a report (a re-verification is what justifies them).
NEEDS_REPORT = frozenset({("submitted", "verified"), ("legacy", "verified")})
# Moves that must say why (a person decided them).
NEEDS_REASON = frozenset({("published", "disputed"), ("disputed", "refuted"), ("disputed", "published")})

# Statuses whose numbers the board shows as someone's claim of record: changing them is a supersede.
PROTECTED_STATUSES = frozenset({"verified", "published", "disputed", "refuted", "legacy"})


class LifecycleError(CuratorError):
    pass


def now_utc() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def allowed(old: str, new: str) -> bool:
    return new in TRANSITIONS.get(old, frozenset())


def check_transition(old: str, new: str, *, report: str | None = None, reason: str | None = None) -> None:
    """Raise :class:`LifecycleError` unless ``old → new`` is an allowed move with what it needs."""
    if old not in STATUSES:
        raise LifecycleError(f"unknown status {old!r}")
    if new not in STATUSES:
        raise LifecycleError(f"unknown status {new!r}")
    if not allowed(old, new):
        nexts = sorted(TRANSITIONS[old])
        hint = f"allowed from {old}: {', '.join(nexts)}" if nexts else f"{old} is final"
        raise LifecycleError(f"transition {old} → {new} is not allowed ({hint})")
    if (old, new) in NEEDS_REPORT and not report:
        raise LifecycleError(f"transition {old} → {new} needs a confirming report")
    if (old, new) in NEEDS_REASON and not (reason and reason.strip()):
        raise LifecycleError(f"transition {old} → {new} needs a reason")


def _history_item(status: str, date: str, report: str | None, reason: str | None,
                  previous: dict[str, Any] | None) -> dict[str, Any]:
    item: dict[str, Any] = {"status": status, "date": date}
    if report:
        item["report"] = report
    if reason:
        item["reason"] = reason
    if previous:
        item["previous"] = previous
    return item


def transition(entry: dict[str, Any], new: str, *, date: str | None = None, report: str | None = None,
               reason: str | None = None) -> dict[str, Any]:
    """A copy of ``entry`` moved to ``new``, the move recorded in its history. ``entry`` is not changed."""
    old = entry.get("status")
    check_transition(old, new, report=report, reason=reason)
    out = copy.deepcopy(entry)
    out["status"] = new
    out.setdefault("history", []).append(_history_item(new, date or now_utc(), report, reason, None))
    return out


def claim_leaves(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry's claim (everything but lifecycle fields) as dotted path → leaf value."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = value

    for key, value in entry.items():
        if key not in LIFECYCLE_FIELDS:
            walk(key, value)
    return out


def changed_claim_values(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Dotted path → old value for every claim leaf that differs (``None`` where ``old`` lacked it)."""
    a, b = claim_leaves(old), claim_leaves(new)
    return {k: a.get(k) for k in sorted(set(a) | set(b)) if a.get(k, _MISSING) != b.get(k, _MISSING)}


_MISSING = object()

# The numbers a reader compares: changing one of these on a protected entry is what supersede guards.
NUMBER_FIELDS = ("result.certified_accuracy", "result.clean_accuracy", "setting.radius", "setting.dataset",
                 "setting.norm")


def changed_numbers(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    changed = changed_claim_values(old, new)
    return {k: v for k, v in changed.items() if k in NUMBER_FIELDS}


def supersede(old: dict[str, Any], new_claim: dict[str, Any], status: str, *, reason: str, report: str | None,
              date: str | None = None) -> dict[str, Any]:
    """``new_claim`` replacing the stored ``old`` entry: old history kept, one item added with the
    replaced values under ``previous`` (plus the old status), the reason and the report."""
    if not (reason and reason.strip()):
        raise LifecycleError("superseding an entry needs a reason")
    if old.get("status") == "refuted":
        raise LifecycleError(f"entry {old.get('id')} is refuted; a refuted claim is not superseded, submit a new id")
    if status not in ("verified", "published"):
        raise LifecycleError(f"a superseding claim becomes verified or published, not {status}")
    if not report:
        raise LifecycleError("superseding an entry needs a confirming report")
    previous = changed_claim_values(old, new_claim)
    previous["status"] = old.get("status")
    out = {k: copy.deepcopy(v) for k, v in new_claim.items() if k not in LIFECYCLE_FIELDS}
    out["status"] = status
    out["history"] = copy.deepcopy(old.get("history", [])) + [
        _history_item(status, date or now_utc(), report, reason, previous)]
    out["reports"] = copy.deepcopy(old.get("reports", []))
    return out


def supersede_items(history: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [h for h in history if isinstance(h, dict) and h.get("reason") and isinstance(h.get("previous"), dict)]
