"""``curator approve``: a confirmed claim and its report go into the store, in one git commit.

What is checked before anything is written (each failure refuses with its reason):

* the submission is a valid entry (schema and semantic checks of :mod:`curator.core.validate`);
* the report is valid against ``report.schema.json`` and belongs to exactly this claim: its
  ``entry.sha256`` is :func:`curator.core.digest.claim_digest` of the submission, and its entry id,
  model sha256, verifier name, verifier params (every parameter the entry states, same value),
  dataset, norm, radius and claimed accuracy agree with the submission;
* the verdict is ``confirmed``, and :func:`curator.board.publication.publication_problems` finds nothing:
  the report covers the claim's full selection on enough samples at the verifier's protocol floor,
  and its totals, interval and verdict, recomputed from its per-sample arrays, are the stored ones;
* the move is allowed by :mod:`curator.board.lifecycle`: a new id is ``submitted → verified``, a
  ``legacy`` or ``submitted`` entry with the same id is re-verified, and an entry whose numbers
  the board already shows is only replaced with ``--supersede --reason`` (old values kept in
  its history).

The write is a transaction. The paths it touches (the entry, the report, ``README.md`` of the
store, and the entry's old file if a supersede moved it) must have no uncommitted changes; their
bytes, the git index and ``HEAD`` are snapshotted; then the steps in :data:`STEPS` run in order.
If anything raises — a bad render, a git error, an interrupt — every touched file, the index and
``HEAD`` are restored, so the repository is exactly as before. The commit contains only the
touched paths (built in a private index), even when other changes are staged.

For fault-injection tests, ``approve(fault=callable)`` is called with each step name after the
step has run; the environment variable ``CURATOR_FAULT_AFTER=<step>`` does the same, but only
inside a pytest run (``PYTEST_CURRENT_TEST`` set), never in production.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from curator.board import lifecycle, store
from curator.core.digest import claim_digest, same_protocol
from curator.core.errors import CuratorError
from curator.core.jsonio import JsonFileError, read_json, write_bytes_atomic
from curator.board.publication import publication_problems
from curator.core.radius import RADIUS_TOLERANCE
from curator.core.schemas import REPORT_SCHEMA_ID, validate

# The steps of the transaction, in order; the fault hook runs after each.
STEPS = (
    "checked",          # everything validated, nothing written yet
    "entry-written",    # entries/<dataset>/<norm>/<id>.json
    "old-entry-removed",  # a supersede that changed the setting moved the file
    "report-written",   # reports/<id>/<sha>.json
    "readme-written",   # README.md re-rendered
    "commit-created",   # commit object written, branch not yet moved
    "ref-updated",      # branch (or detached HEAD) points at the new commit
    "index-updated",    # the real index records the touched paths as committed
)

DEFAULT_BOT_NAME = "curator-bot"
DEFAULT_BOT_EMAIL = "curator-bot"


class ApprovalRefused(CuratorError):
    """The approval was refused; nothing was written."""


class InjectedFault(RuntimeError):
    """Raised by the test-only fault hook."""


@dataclass
class ApproveResult:
    entry_id: str
    action: str  # add | re-verify | supersede | publish | unchanged
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


def _close(a: Any, b: Any, tol: float = RADIUS_TOLERANCE) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=0, abs_tol=tol)


def report_mismatches(entry: dict[str, Any], report: dict[str, Any]) -> list[str]:
    """Why ``report`` is not a report on exactly this claim (empty when it is)."""
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
    setting = entry.get("setting", {})
    if report.get("dataset", {}).get("name") != setting.get("dataset"):
        out.append(f"report dataset {report.get('dataset', {}).get('name')!r} is not {setting.get('dataset')!r}")
    threat = report.get("threat", {})
    if threat.get("norm") != setting.get("norm"):
        out.append(f"report norm {threat.get('norm')!r} is not {setting.get('norm')!r}")
    if not _close(threat.get("radius"), setting.get("radius")):
        out.append(f"report radius {threat.get('radius')!r} is not {setting.get('radius')!r}")
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


def _load(path: Path, what: str) -> dict[str, Any]:
    try:
        doc = read_json(path)
    except JsonFileError as exc:
        raise ApprovalRefused(f"{what}: {exc}") from None
    if not isinstance(doc, dict):
        raise ApprovalRefused(f"{what}: {path}: /: not a JSON object")
    return doc


# --------------------------------------------------------------------------- planning


@dataclass
class Plan:
    entry: dict[str, Any]
    action: str
    old_path: Path | None
    report_bytes: bytes
    report_sha: str


def plan(submission: dict[str, Any], report: dict[str, Any], existing: dict[str, Any] | None, *,
         report_rel: str, report_sha: str, publish: bool, supersede: bool, reason: str | None,
         pr: int | None, date: str) -> tuple[dict[str, Any], str]:
    """The entry to store and the kind of change (pure: no I/O)."""
    target = "published" if publish else "verified"
    ref = {"path": report_rel, "sha256": report_sha, "verdict": "confirmed", "date": date}
    claim = {k: v for k, v in submission.items() if k not in lifecycle.LIFECYCLE_FIELDS}
    if pr is not None:
        claim.setdefault("provenance", {})
        claim["provenance"] = {**claim["provenance"], "pr": pr}

    def add_report(e: dict[str, Any]) -> dict[str, Any]:
        reports = [r for r in e.get("reports", []) if r.get("sha256") != report_sha]
        e["reports"] = reports + [ref]
        return e

    if existing is None:
        if supersede:
            raise ApprovalRefused(f"--supersede given but there is no entry {submission['id']} to supersede")
        e = dict(claim, status="submitted", history=[])
        e = lifecycle.transition(e, "verified", date=date, report=report_rel)
        if publish:
            e = lifecycle.transition(e, "published", date=date, report=report_rel)
        return add_report(e), "add"

    old_status = existing.get("status")
    same_claim = claim_digest(existing) == claim_digest(claim)
    numbers = lifecycle.changed_numbers(existing, claim)
    if supersede:
        if same_claim:
            raise ApprovalRefused(f"--supersede given but the claim of {submission['id']} is unchanged")
        if not (reason and reason.strip()):
            raise ApprovalRefused("--supersede needs --reason \"why the old claim is replaced\"")
        try:
            e = lifecycle.supersede(existing, claim, target, reason=reason, report=report_rel, date=date)
        except lifecycle.LifecycleError as exc:
            raise ApprovalRefused(str(exc)) from None
        return add_report(e), "supersede"
    if old_status in lifecycle.PROTECTED_STATUSES and numbers:
        changed = ", ".join(f"{k}: {v!r} → {lifecycle.claim_leaves(claim).get(k)!r}" for k, v in numbers.items())
        raise ApprovalRefused(f"entry {submission['id']} is {old_status} and this changes its numbers ({changed}); "
                              "use --supersede --reason \"…\" to replace them (the old values stay in its history)")
    if old_status in ("submitted", "legacy"):
        # A legacy claim re-verified may add what the import lacked (model, verifier): same numbers.
        base = dict(claim, status=old_status, history=list(existing.get("history", [])),
                    reports=list(existing.get("reports", [])))
        try:
            e = lifecycle.transition(base, "verified", date=date, report=report_rel)
            if publish:
                e = lifecycle.transition(e, "published", date=date, report=report_rel)
        except lifecycle.LifecycleError as exc:
            raise ApprovalRefused(str(exc)) from None
        return add_report(e), ("re-verify" if old_status == "legacy" else "add")
    if not same_claim:
        changed = ", ".join(sorted(lifecycle.changed_claim_values(existing, claim)))
        raise ApprovalRefused(f"entry {submission['id']} is {old_status} and this submission changes it ({changed}); "
                              "use --supersede --reason \"…\"")
    if old_status == "verified" and publish:
        e = lifecycle.transition(existing, "published", date=date, report=report_rel)
        return add_report(e), "publish"
    if old_status == target and any(r.get("sha256") == report_sha for r in existing.get("reports", [])):
        return existing, "unchanged"
    if old_status in ("verified", "published"):
        # Another confirming report on the same claim: recorded, status unchanged.
        return add_report(dict(existing)), "add-report"
    raise ApprovalRefused(f"entry {submission['id']} is {old_status}; approve cannot move it to {target} "
                          f"({'; '.join(sorted(lifecycle.TRANSITIONS.get(old_status, ())) or ['final'])})")


RECORDED_VERDICTS = ("unconfirmed", "refuted")


def _check_record(submission: dict[str, Any], report: dict[str, Any], registry: Any) -> None:
    """A recorded run must say something true about this very claim: bound to it, over its full
    selection, with numbers and verdict that its per-sample arrays give."""
    from curator.board.reverification import recomputed, report_problems

    status = recomputed(report)["verdict"]["status"]
    if status not in RECORDED_VERDICTS:
        raise ApprovalRefused(f"--record keeps {' or '.join(RECORDED_VERDICTS)} runs; this report's samples give "
                              f"{status!r}" + (" (approve it without --record)" if status == "confirmed" else ""))
    problems = report_problems(submission, report, registry)
    if problems:
        raise ApprovalRefused("the report cannot be recorded for this claim:\n  " + "\n  ".join(problems))


def plan_record(submission: dict[str, Any], report: dict[str, Any], existing: dict[str, Any] | None, *,
                report_rel: str, report_sha: str, pr: int | None, date: str) -> tuple[dict[str, Any], str]:
    """The ``submitted`` entry that keeps a not-confirmed run's report (pure: no I/O)."""
    claim = {k: v for k, v in submission.items() if k not in lifecycle.LIFECYCLE_FIELDS}
    if pr is not None:
        claim["provenance"] = {**claim.get("provenance", {}), "pr": pr}
    ref = {"path": report_rel, "sha256": report_sha, "verdict": report["verdict"]["status"], "date": date}
    if existing is None:
        return dict(claim, status="submitted", history=[], reports=[ref]), "record"
    if existing.get("status") != "submitted" or claim_digest(existing) != claim_digest(claim):
        raise ApprovalRefused(f"entry {submission['id']} is already in the store ({existing.get('status')}); "
                              "--record only adds a run to a new or still-submitted claim with the same numbers")
    if any(r.get("sha256") == report_sha for r in existing.get("reports", [])):
        return existing, "unchanged"
    return dict(existing, reports=list(existing.get("reports", [])) + [ref]), "record"


# --------------------------------------------------------------------------- git and the transaction


def bot_actor():
    import git

    return git.Actor(os.environ.get("CURATOR_BOT_NAME") or DEFAULT_BOT_NAME,
                     os.environ.get("CURATOR_BOT_EMAIL") or DEFAULT_BOT_EMAIL)


def commit_message(entry: dict[str, Any], action: str, pr: int | None) -> str:
    verb = {"add": "add", "re-verify": "re-verify", "supersede": "supersede", "publish": "publish",
            "add-report": "add report for", "record": "record the re-verification of"}.get(action, action)
    s = entry["setting"]
    msg = f"leaderboard: {verb} {entry['id']} ({s['dataset']} {s['norm']} ε={s['radius_text']}) — {entry['status']}"
    if pr is not None:
        msg += f" (PR #{pr})"
    return msg


def _fault_hook(fault: Callable[[str], None] | None) -> Callable[[str], None]:
    env_step = os.environ.get("CURATOR_FAULT_AFTER") if os.environ.get("PYTEST_CURRENT_TEST") else None
    if env_step and env_step not in STEPS:
        raise CuratorError(f"CURATOR_FAULT_AFTER={env_step} is not a step ({', '.join(STEPS)})")

    def hook(step: str) -> None:
        assert step in STEPS, step
        if fault is not None:
            fault(step)
        if env_step == step:
            raise InjectedFault(f"injected fault after step {step}")

    return hook


class _Snapshot:
    """Bytes (or absence) of the touched files, the index file and HEAD, to put back on failure."""

    def __init__(self, paths: list[Path], repo: Any | None):
        self.files = {p: (p.read_bytes() if p.exists() else None) for p in paths}
        self.repo = repo
        self.index: bytes | None = None
        self.head_ref: str | None = None
        self.head_commit: str | None = None
        if repo is not None:
            index_file = Path(repo.git_dir) / "index"
            self.index = index_file.read_bytes() if index_file.exists() else None
            self.head_commit = repo.head.commit.hexsha if repo.head.is_valid() else None
            self.head_ref = None if repo.head.is_detached else repo.head.reference.path

    def restore(self) -> None:
        for path, data in self.files.items():
            if data is None:
                if path.exists() or path.is_symlink():
                    path.unlink()
                _prune_empty(path.parent)
            else:
                write_bytes_atomic(path, data)
        if self.repo is None:
            return
        repo = self.repo
        if self.head_commit is not None and repo.head.commit.hexsha != self.head_commit:
            if self.head_ref is not None:
                repo.git.update_ref("-m", "curator approve: rolled back", self.head_ref, self.head_commit)
            else:
                repo.git.update_ref("--no-deref", "-m", "curator approve: rolled back", "HEAD", self.head_commit)
        index_file = Path(repo.git_dir) / "index"
        if self.index is None:
            if index_file.exists():
                index_file.unlink()
        else:
            write_bytes_atomic(index_file, self.index)


def _prune_empty(folder: Path) -> None:
    """Remove folders a failed write created (entries/<dataset>/<norm>/, reports/<id>/), if empty."""
    for _ in range(3):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _dirty(repo: Any, rels: list[str]) -> list[str]:
    """Touched paths that differ from HEAD in the index or the work tree, or are untracked."""
    if not rels:
        return []
    out = repo.git.status("--porcelain=v1", "-z", "--untracked-files=all", "--ignored=no", "--", *rels)
    found = []
    for item in out.split("\0"):
        if len(item) > 3:
            found.append(item[3:])
    return found


def _commit_paths(repo: Any, rels_present: list[str], rels_removed: list[str], message: str,
                  hook: Callable[[str], None]) -> str:
    """Commit exactly these paths on top of HEAD (a private index: other staged work is left alone)."""
    import git

    work = Path(repo.working_tree_dir)
    parent = repo.head.commit
    fd, tmp_index = tempfile.mkstemp(prefix="curator-index-", dir=repo.git_dir)
    os.close(fd)
    os.unlink(tmp_index)
    env = {"GIT_INDEX_FILE": tmp_index}
    try:
        repo.git.read_tree(parent.hexsha, env=env)
        for rel in rels_present:
            blob = repo.git.hash_object("-w", "--", str(work / rel))
            repo.git.update_index("--add", "--cacheinfo", f"100644,{blob},{rel}", env=env)
        for rel in rels_removed:
            repo.git.update_index("--force-remove", "--", rel, env=env)
        tree = repo.git.write_tree(env=env)
    finally:
        if os.path.exists(tmp_index):
            os.unlink(tmp_index)
    actor = bot_actor()
    commit = git.Commit.create_from_tree(repo, tree, message, parent_commits=[parent], head=False,
                                         author=actor, committer=actor)
    hook("commit-created")
    if repo.head.is_detached:
        repo.git.update_ref("--no-deref", "-m", f"curator approve: {message}", "HEAD", commit.hexsha, parent.hexsha)
    else:
        repo.git.update_ref("-m", f"curator approve: {message}", repo.head.reference.path, commit.hexsha,
                            parent.hexsha)
    hook("ref-updated")
    if rels_present:
        repo.git.add("--", *rels_present)
    for rel in rels_removed:
        repo.git.rm("--cached", "--quiet", "--ignore-unmatch", "--", rel)
    hook("index-updated")
    return commit.hexsha


def _render_readme(root: Path) -> None:
    from curator.board.render import write_readme

    write_readme(root)


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
    hook = _fault_hook(fault)
    date = date or lifecycle.now_utc()
    root = Path(store_root)
    sub_path, rep_path = Path(submission_path), Path(report_path)
    if supersede and not (reason and reason.strip()):
        raise ApprovalRefused("--supersede needs --reason \"why the old claim is replaced\"")
    if reason and not supersede:
        raise ApprovalRefused("--reason only goes with --supersede")

    submission = _load(sub_path, "submission")
    problems = _entry_problems(submission, str(sub_path), registry)
    if problems:
        raise ApprovalRefused("submission is not a valid entry:\n  " + "\n  ".join(problems))
    report = _load(rep_path, "report")
    rep_problems = [f"{rep_path}: {ptr or '/'}: {msg}" for ptr, msg in validate(report, REPORT_SCHEMA_ID)]
    if rep_problems:
        raise ApprovalRefused("report is not valid against report.schema.json:\n  " + "\n  ".join(rep_problems))
    mismatches = report_mismatches(submission, report)
    if mismatches:
        raise ApprovalRefused("report does not belong to this submission:\n  " + "\n  ".join(mismatches))
    verdict = report["verdict"]
    if record:
        if publish or supersede:
            raise ApprovalRefused("--record stores a claim that was not confirmed: it goes without --publish/--supersede")
        _check_record(submission, report, registry)
    else:
        if verdict.get("status") != "confirmed":
            raise ApprovalRefused(f"report verdict is {verdict.get('status')!r}, not 'confirmed': {verdict.get('reason')} "
                                  "(a full-protocol unconfirmed or refuted run can be recorded with --record)")
        unpublishable = publication_problems(submission, report, registry)
        if unpublishable:
            raise ApprovalRefused("the report cannot publish this claim:\n  " + "\n  ".join(unpublishable))

    try:
        found = store.find_entry(root, submission["id"])
        data, sha = store.report_bytes(report)
        new_report_path = store.report_path(root, submission["id"], sha)
    except store.StorePathError as exc:
        raise ApprovalRefused(str(exc)) from None
    old_path, existing = found if found else (None, None)
    report_rel = new_report_path.relative_to(root).as_posix()
    if record:
        entry, action = plan_record(submission, report, existing, report_rel=report_rel, report_sha=sha, pr=pr,
                                    date=date)
    else:
        entry, action = plan(submission, report, existing, report_rel=report_rel, report_sha=sha, publish=publish,
                             supersede=supersede, reason=reason, pr=pr, date=date)
    try:
        new_entry_path = store.entry_path(root, entry)
        readme = store.safe_path(root, "README.md")
    except store.StorePathError as exc:
        raise ApprovalRefused(str(exc)) from None
    stored_problems = [p for p in _entry_problems(entry, str(new_entry_path), registry)]
    stored_problems += _duplicates_in_store(root, entry, new_entry_path)
    if stored_problems:
        raise ApprovalRefused("the entry to store would be invalid:\n  " + "\n  ".join(stored_problems))

    result = ApproveResult(entry["id"], action, entry["status"], str(new_entry_path), str(new_report_path),
                           str(readme), None, "")
    if action == "unchanged":
        result.message = f"{entry['id']} is already {entry['status']} with this report; nothing to do"
        return result

    if commit:
        message = commit_message(entry, action, pr)
    else:
        message = f"wrote {entry['id']} ({entry['status']}) without committing"
    result.commit, result.touched = store_change(root, entry, old_path=old_path, report=(new_report_path, data),
                                                 message=message, commit=commit, hook=hook)
    result.message = message
    return result


def store_change(root: Path, entry: dict[str, Any], *, old_path: Path | None, report: tuple[Path, bytes] | None,
                 message: str, commit: bool, hook: Callable[[str], None],
                 refused: type[CuratorError] = ApprovalRefused) -> tuple[str | None, list[str]]:
    """Write ``entry`` (and ``report``), re-render the README and commit exactly those paths — or,
    if anything fails, put the files, the index and HEAD back as they were (see module docstring).

    Returns the new commit's sha (``None`` without ``commit``) and the touched paths."""
    new_entry_path = store.entry_path(root, entry)
    readme = store.safe_path(root, "README.md")
    repo = _open_repo(root, required=commit, refused=refused)
    removed = [old_path] if old_path is not None and old_path.absolute() != new_entry_path.absolute() else []
    touched = [new_entry_path] + ([report[0]] if report else []) + [readme] + removed
    if repo is not None:
        work = Path(repo.working_tree_dir).resolve()
        try:
            rels = [p.absolute().resolve().relative_to(work).as_posix() for p in touched]
        except ValueError:
            raise refused(f"the store {root} is not inside the git work tree {work}") from None
        dirty = _dirty(repo, rels)
        if dirty:
            raise refused("uncommitted changes in paths this must write (commit or stash them first): "
                          + ", ".join(sorted(dirty)))
        if commit and not repo.head.is_valid():
            raise refused("the repository has no commit yet; commit the board first")
    else:
        rels = [str(p) for p in touched]
    lock = _acquire_lock(repo, refused)
    try:
        hook("checked")
        return _apply(root, entry, touched, rels, removed, report, repo, message, commit, hook), rels
    finally:
        if lock is not None:
            lock.unlink(missing_ok=True)


LOCK_NAME = "curator-store.lock"


def _acquire_lock(repo: Any | None, refused: type[CuratorError]) -> Path | None:
    """One store change at a time per repository (a second approve would snapshot a half-done first)."""
    if repo is None:
        return None
    lock = Path(repo.git_dir) / LOCK_NAME
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise refused(f"another curator store change is running ({lock} exists; remove it if it is stale)") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{os.getpid()}\n")
    return lock


def _apply(root: Path, entry: dict[str, Any], touched: list[Path], rels: list[str], removed: list[Path],
           report: tuple[Path, bytes] | None, repo: Any | None, message: str, commit: bool,
           hook: Callable[[str], None]) -> str | None:
    snapshot = _Snapshot(touched, repo)
    sha = None
    try:
        store.write_entry(root, entry)
        hook("entry-written")
        for p in removed:
            p.unlink()
            _prune_empty(p.parent)
        hook("old-entry-removed")
        if report is not None:
            write_bytes_atomic(report[0], report[1])
        hook("report-written")
        _render_readme(root)
        hook("readme-written")
        if commit:
            present = [r for r, p in zip(rels, touched) if p not in removed]
            gone = [r for r, p in zip(rels, touched) if p in removed]
            sha = _commit_paths(repo, present, gone, message, hook)
    except BaseException as exc:
        try:
            snapshot.restore()
        except Exception as restore_exc:  # pragma: no cover - reported, never silent
            raise CuratorError(f"writing the store failed ({exc}) AND restoring the repository failed "
                               f"({restore_exc}); inspect it with git status") from exc
        if isinstance(exc, (CuratorError, InjectedFault, KeyboardInterrupt)):
            raise
        raise CuratorError(f"writing the store failed and was rolled back, nothing changed: "
                           f"{type(exc).__name__}: {exc}") from exc
    return sha


def _open_repo(root: Path, required: bool, refused: type[CuratorError] = ApprovalRefused) -> Any | None:
    import git

    try:
        return git.Repo(root if root.exists() else root.parent, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        if required:
            raise refused(f"the store {root} is not in a git repository (use --no-commit to only write files)")
        return None
