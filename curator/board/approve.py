"""``curator approve``: a confirmed claim and its report go into the store, in one git commit.

What is checked before anything is written (each failure refuses with its reason):

* the submission is a valid entry (schema and semantic checks of :mod:`curator.core.validate`);
* the report is valid against ``report.schema.json`` and belongs to exactly this claim
  (:func:`curator.board.report_binding.report_mismatches`): its ``entry.sha256`` is
  :func:`curator.core.digest.claim_digest` of the submission, and its entry id, model sha256,
  verifier name, verifier params (every parameter the entry states, same value), dataset, norm,
  radius and claimed accuracy agree with the submission;
* the verdict is ``confirmed``, and :func:`curator.board.publication.publication_problems` finds nothing:
  the report covers the claim's full selection on enough samples at the verifier's protocol floor,
  and its totals, interval and verdict, recomputed from its per-sample arrays, are the stored ones;
* the move is allowed by :mod:`curator.board.lifecycle`: a new id is ``submitted → verified``, a
  ``legacy`` or ``submitted`` entry with the same id is re-verified, and an entry whose numbers
  the board already shows is only replaced with ``--supersede --reason`` (old values kept in
  its history).

The write is the transaction of :mod:`curator.board.git_transaction`: the entry, the report,
``README.md`` of the store (and the entry's old file if a supersede moved it) are committed
together, or the repository is left exactly as before. ``approve(fault=callable)`` is called
with each of its steps (``git_transaction.STEPS``) after the step has run, for fault-injection tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from curator.board import lifecycle, store
from curator.board.git_transaction import fault_hook, store_change
from curator.board.publication import publication_problems
from curator.board.report_binding import load_object, report_mismatches, report_schema_problems
from curator.core.digest import claim_digest
from curator.core.errors import CuratorError

RECORDED_VERDICTS = ("unconfirmed", "refuted")


class ApprovalRefused(CuratorError):
    """The approval was refused; nothing was written."""


@dataclass
class ApproveResult:
    entry_id: str
    action: str  # add | re-verify | supersede | publish | add-report | record | unchanged
    status: str
    entry_path: str
    report_path: str
    readme_path: str
    commit: str | None
    message: str
    touched: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- checks


def _refuse_if(problems: list[str], headline: str) -> None:
    if problems:
        raise ApprovalRefused(headline + ":\n  " + "\n  ".join(problems))


def _entry_problems(entry: Any, file: str, registry: Any = None) -> list[str]:
    """Schema problems of a submission, or when it has none its semantic errors, as lines."""
    from curator.board.publication import registry_or_installed
    from curator.verify.claim_checks import check_claim

    return [str(p) for p in check_claim(entry, file, registry_or_installed(registry)) if p.severity == "error"]


def _duplicates_in_store(root: Path, entry: dict[str, Any], path: Path) -> list[str]:
    """The entry would repeat another stored entry (same paper, setting and method)."""
    from curator.core.validate import find_duplicates

    others = [(str(p), e) for p, e in store.load_entries(root) if isinstance(e, dict) and e.get("id") != entry["id"]]
    return [str(p) for p in find_duplicates(others + [(str(path), entry)]) if p.file == str(path)]


def _check_flags(supersede: bool, reason: str | None) -> None:
    if supersede and not (reason and reason.strip()):
        raise ApprovalRefused("--supersede needs --reason \"why the old claim is replaced\"")
    if reason and not supersede:
        raise ApprovalRefused("--reason only goes with --supersede")


def _load_claim_and_report(sub_path: Path, rep_path: Path, registry: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The submission and its report, refused unless each is valid and the report is on exactly this claim."""
    submission = load_object(sub_path, "submission", ApprovalRefused)
    _refuse_if(_entry_problems(submission, str(sub_path), registry), "submission is not a valid entry")
    report = load_object(rep_path, "report", ApprovalRefused)
    _refuse_if(report_schema_problems(rep_path, report), "report is not valid against report.schema.json")
    _refuse_if(report_mismatches(submission, report), "report does not belong to this submission")
    return submission, report


def _check_verdict(submission: dict[str, Any], report: dict[str, Any], registry: Any, *, record: bool,
                   publish: bool, supersede: bool) -> None:
    """Approve publishes only a confirmed claim; ``record`` keeps only a full run that did not confirm."""
    if record:
        if publish or supersede:
            raise ApprovalRefused("--record stores a claim that was not confirmed: it goes without --publish/--supersede")
        _check_record(submission, report, registry)
        return
    verdict = report["verdict"]
    if verdict.get("status") != "confirmed":
        raise ApprovalRefused(f"report verdict is {verdict.get('status')!r}, not 'confirmed': {verdict.get('reason')} "
                              "(a full-protocol unconfirmed or refuted run can be recorded with --record)")
    _refuse_if(publication_problems(submission, report, registry), "the report cannot publish this claim")


def _check_record(submission: dict[str, Any], report: dict[str, Any], registry: Any) -> None:
    """A recorded run must say something true about this very claim: bound to it, over its full
    selection, with numbers and verdict that its per-sample arrays give."""
    from curator.board.reverification import recomputed, report_problems

    status = recomputed(report)["verdict"]["status"]
    if status not in RECORDED_VERDICTS:
        raise ApprovalRefused(f"--record keeps {' or '.join(RECORDED_VERDICTS)} runs; this report's samples give "
                              f"{status!r}" + (" (approve it without --record)" if status == "confirmed" else ""))
    _refuse_if(report_problems(submission, report, registry), "the report cannot be recorded for this claim")


# --------------------------------------------------------------------------- planning (pure: no I/O)


def _claim_of(submission: dict[str, Any], pr: int | None) -> dict[str, Any]:
    """The submission without its lifecycle fields, with the pull request in its provenance."""
    claim = {k: v for k, v in submission.items() if k not in lifecycle.LIFECYCLE_FIELDS}
    if pr is not None:
        claim["provenance"] = {**claim.get("provenance", {}), "pr": pr}
    return claim


def _with_report(entry: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    """``entry`` listing ``ref`` as its newest report (an earlier listing of the same report dropped)."""
    entry["reports"] = [r for r in entry.get("reports", []) if r.get("sha256") != ref["sha256"]] + [ref]
    return entry


def _moved(entry: dict[str, Any], publish: bool, date: str, report_rel: str) -> dict[str, Any]:
    """``entry`` moved to verified, and on to published with ``publish``."""
    try:
        e = lifecycle.transition(entry, "verified", date=date, report=report_rel)
        return lifecycle.transition(e, "published", date=date, report=report_rel) if publish else e
    except lifecycle.LifecycleError as exc:
        raise ApprovalRefused(str(exc)) from None


def _superseding(existing: dict[str, Any], claim: dict[str, Any], target: str, *, reason: str | None,
                 report_rel: str, date: str) -> dict[str, Any]:
    if claim_digest(existing) == claim_digest(claim):
        raise ApprovalRefused(f"--supersede given but the claim of {claim['id']} is unchanged")
    if not (reason and reason.strip()):
        raise ApprovalRefused("--supersede needs --reason \"why the old claim is replaced\"")
    try:
        return lifecycle.supersede(existing, claim, target, reason=reason, report=report_rel, date=date)
    except lifecycle.LifecycleError as exc:
        raise ApprovalRefused(str(exc)) from None


def plan_approval(submission: dict[str, Any], report: dict[str, Any], existing: dict[str, Any] | None, *,
                  report_rel: str, report_sha: str, publish: bool, supersede: bool, reason: str | None,
                  pr: int | None, date: str) -> tuple[dict[str, Any], str]:
    """The entry an approval stores and the kind of change (``ApproveResult.action``)."""
    target = "published" if publish else "verified"
    ref = {"path": report_rel, "sha256": report_sha, "verdict": "confirmed", "date": date}
    claim = _claim_of(submission, pr)
    if existing is None:
        if supersede:
            raise ApprovalRefused(f"--supersede given but there is no entry {submission['id']} to supersede")
        return _with_report(_moved(dict(claim, status="submitted", history=[]), publish, date, report_rel), ref), "add"
    if supersede:
        e = _superseding(existing, claim, target, reason=reason, report_rel=report_rel, date=date)
        return _with_report(e, ref), "supersede"
    old_status = existing.get("status")
    numbers = lifecycle.changed_numbers(existing, claim)
    if old_status in lifecycle.PROTECTED_STATUSES and numbers:
        changed = ", ".join(f"{k}: {v!r} → {lifecycle.claim_leaves(claim).get(k)!r}" for k, v in numbers.items())
        raise ApprovalRefused(f"entry {submission['id']} is {old_status} and this changes its numbers ({changed}); "
                              "use --supersede --reason \"…\" to replace them (the old values stay in its history)")
    if old_status in ("submitted", "legacy"):
        # A legacy claim re-verified may add what the import lacked (model, verifier): same numbers.
        base = dict(claim, status=old_status, history=list(existing.get("history", [])),
                    reports=list(existing.get("reports", [])))
        action = "re-verify" if old_status == "legacy" else "add"
        return _with_report(_moved(base, publish, date, report_rel), ref), action
    if claim_digest(existing) != claim_digest(claim):
        changed = ", ".join(sorted(lifecycle.changed_claim_values(existing, claim)))
        raise ApprovalRefused(f"entry {submission['id']} is {old_status} and this submission changes it ({changed}); "
                              "use --supersede --reason \"…\"")
    if old_status == "verified" and publish:
        e = lifecycle.transition(existing, "published", date=date, report=report_rel)
        return _with_report(e, ref), "publish"
    if old_status == target and any(r.get("sha256") == report_sha for r in existing.get("reports", [])):
        return existing, "unchanged"
    if old_status in ("verified", "published"):
        # Another confirming report on the same claim: recorded, status unchanged.
        return _with_report(dict(existing), ref), "add-report"
    raise ApprovalRefused(f"entry {submission['id']} is {old_status}; approve cannot move it to {target} "
                          f"({'; '.join(sorted(lifecycle.TRANSITIONS.get(old_status, ())) or ['final'])})")


def plan_record(submission: dict[str, Any], report: dict[str, Any], existing: dict[str, Any] | None, *,
                report_rel: str, report_sha: str, pr: int | None, date: str) -> tuple[dict[str, Any], str]:
    """The ``submitted`` entry that keeps a not-confirmed run's report, and the kind of change."""
    claim = _claim_of(submission, pr)
    ref = {"path": report_rel, "sha256": report_sha, "verdict": report["verdict"]["status"], "date": date}
    if existing is None:
        return dict(claim, status="submitted", history=[], reports=[ref]), "record"
    if existing.get("status") != "submitted" or claim_digest(existing) != claim_digest(claim):
        raise ApprovalRefused(f"entry {submission['id']} is already in the store ({existing.get('status')}); "
                              "--record only adds a run to a new or still-submitted claim with the same numbers")
    if any(r.get("sha256") == report_sha for r in existing.get("reports", [])):
        return existing, "unchanged"
    return dict(existing, reports=list(existing.get("reports", [])) + [ref]), "record"


def commit_message(entry: dict[str, Any], action: str, pr: int | None) -> str:
    verb = {"add": "add", "re-verify": "re-verify", "supersede": "supersede", "publish": "publish",
            "add-report": "add report for", "record": "record the re-verification of"}.get(action, action)
    s = entry["setting"]
    msg = f"leaderboard: {verb} {entry['id']} ({s['dataset']} {s['norm']} ε={s['radius_text']}) — {entry['status']}"
    if pr is not None:
        msg += f" (PR #{pr})"
    return msg


# --------------------------------------------------------------------------- approve


def _store_paths(root: Path, entry_id: str,
                 report: dict[str, Any]) -> tuple[tuple[Path, dict] | None, Path, bytes, str]:
    """The stored entry with this id (its path and document, or None), and where the report goes:
    its path, canonical bytes and sha256."""
    try:
        found = store.find_entry(root, entry_id)
        data, sha = store.report_bytes(report)
        return found, store.report_path(root, entry_id, sha), data, sha
    except store.StorePathError as exc:
        raise ApprovalRefused(str(exc)) from None


def _check_stored(root: Path, entry: dict[str, Any], registry: Any) -> tuple[Path, Path]:
    """Where the planned entry and the README go, refused if the entry would be invalid or a duplicate."""
    try:
        entry_path = store.entry_path(root, entry)
        readme = store.safe_path(root, "README.md")
    except store.StorePathError as exc:
        raise ApprovalRefused(str(exc)) from None
    problems = _entry_problems(entry, str(entry_path), registry) + _duplicates_in_store(root, entry, entry_path)
    _refuse_if(problems, "the entry to store would be invalid")
    return entry_path, readme


def approve(submission_path: str | os.PathLike, report_path: str | os.PathLike, *, store_root: str | os.PathLike,
            pr: int | None = None, commit: bool = True, publish: bool = False, supersede: bool = False,
            reason: str | None = None, date: str | None = None,
            fault: Callable[[str], None] | None = None, registry: Any = None, record: bool = False) -> ApproveResult:
    """Approve one confirmed claim into the store (see the module docstring for the guarantees).

    ``record``: store a claim whose full-protocol run came back ``unconfirmed`` or ``refuted``, with
    its report, as a ``submitted`` entry (never verified or published): the board then shows what
    curator measured for it (:mod:`curator.board.reverification`) instead of the claimed number alone.

    ``registry`` is the plugin registry the entry checks use (default: the installed plugins).
    """
    hook = fault_hook(fault)
    date = date or lifecycle.now_utc()
    root = Path(store_root)
    _check_flags(supersede, reason)
    submission, report = _load_claim_and_report(Path(submission_path), Path(report_path), registry)
    _check_verdict(submission, report, registry, record=record, publish=publish, supersede=supersede)

    found, new_report_path, data, sha = _store_paths(root, submission["id"], report)
    old_path, existing = found if found else (None, None)
    report_rel = new_report_path.relative_to(root).as_posix()
    if record:
        entry, action = plan_record(submission, report, existing, report_rel=report_rel, report_sha=sha, pr=pr,
                                    date=date)
    else:
        entry, action = plan_approval(submission, report, existing, report_rel=report_rel, report_sha=sha,
                                      publish=publish, supersede=supersede, reason=reason, pr=pr, date=date)
    new_entry_path, readme = _check_stored(root, entry, registry)

    result = ApproveResult(entry["id"], action, entry["status"], str(new_entry_path), str(new_report_path),
                           str(readme), None, "")
    if action == "unchanged":
        result.message = f"{entry['id']} is already {entry['status']} with this report; nothing to do"
        return result
    result.message = (commit_message(entry, action, pr) if commit
                      else f"wrote {entry['id']} ({entry['status']}) without committing")
    result.commit, result.touched = store_change(root, entry, old_path=old_path, report=(new_report_path, data),
                                                 message=result.message, commit=commit, hook=hook,
                                                 refused=ApprovalRefused)
    return result
