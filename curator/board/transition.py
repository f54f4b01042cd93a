"""``curator transition``: the lifecycle moves that a maintainer decides, committed like approve.

``verified → published``, ``published → disputed``, ``disputed → refuted`` and ``disputed →
published``. Moves that need a confirming re-verification (``submitted``/``legacy → verified``)
are :mod:`curator.board.approve`'s. A report may be attached (e.g. the attack report that refutes a
claim): it must be schema-valid and belong to exactly this claim (same checks as approve), and
it is stored beside the entry with its verdict, whatever that verdict is.

The write is the same transaction as approve's (:func:`curator.board.git_transaction.store_change`):
the entry, the report and the README are committed together, or nothing changes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from curator.board import lifecycle, store
from curator.board.git_transaction import fault_hook, store_change
from curator.board.report_binding import load_object, report_mismatches, report_schema_problems
from curator.core.errors import CuratorError

VERBS = {"published": "publish", "disputed": "dispute", "refuted": "refute"}


class TransitionRefused(CuratorError):
    """The move was refused; nothing was written."""


@dataclass
class TransitionResult:
    entry_id: str
    before: str
    after: str
    entry_path: str
    report_path: str | None
    commit: str | None
    message: str
    touched: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def transition_entry(store_root: str | os.PathLike, entry_id: str, to: str, *, reason: str | None = None,
                     report_path: str | os.PathLike | None = None, commit: bool = True, date: str | None = None,
                     fault: Callable[[str], None] | None = None) -> TransitionResult:
    hook = fault_hook(fault)
    root = Path(store_root)
    try:
        found = store.find_entry(root, entry_id)
    except store.StorePathError as exc:
        raise TransitionRefused(str(exc)) from None
    if found is None:
        raise TransitionRefused(f"no entry {entry_id!r} in {root}")
    path, entry = found
    before = entry.get("status")
    if (before, to) in lifecycle.NEEDS_REPORT:
        raise TransitionRefused(f"{before} → {to} needs a confirming re-verification: use curator approve")
    report = None
    report_rel = None
    verdict = None
    if report_path is not None:
        doc = load_object(Path(report_path), "report", TransitionRefused)
        problems = report_schema_problems(report_path, doc)
        if problems:
            raise TransitionRefused("report is not valid against report.schema.json:\n  " + "\n  ".join(problems))
        if doc["verdict"]["status"] == "partial":
            raise TransitionRefused("report is one shard (verdict partial): merge the shards first")
        mismatches = report_mismatches(entry, doc)
        if mismatches:
            raise TransitionRefused("report does not belong to this entry:\n  " + "\n  ".join(mismatches))
        data, sha = store.report_bytes(doc)
        rpath = store.report_path(root, entry_id, sha)
        report = (rpath, data)
        report_rel = rpath.relative_to(root).as_posix()
        verdict = doc["verdict"]["status"]
    date = date or lifecycle.now_utc()
    try:
        moved = lifecycle.transition(entry, to, date=date, report=report_rel, reason=reason)
    except lifecycle.LifecycleError as exc:
        raise TransitionRefused(str(exc)) from None
    if report_rel is not None:
        moved["reports"] = [r for r in moved.get("reports", []) if r.get("path") != report_rel] + [
            {"path": report_rel, "sha256": report[0].stem, "verdict": verdict, "date": date}]
    s = moved["setting"]
    if commit:
        message = f"leaderboard: {VERBS.get(to, to)} {entry_id} ({s['dataset']} {s['norm']} ε={s['radius_text']}) — {to}"
        if reason:
            message += f"\n\n{reason}"
    else:
        message = f"wrote {entry_id} ({to}) without committing"
    sha_commit, touched = store_change(root, moved, old_path=path, report=report, message=message, commit=commit,
                                       hook=hook, refused=TransitionRefused)
    return TransitionResult(entry_id, before, to, str(path), str(report[0]) if report else None, sha_commit,
                            message.split("\n")[0], touched)
