"""A store change as one git transaction: the entry, its report and the README, committed together or not at all.

:func:`store_change` is what ``curator approve`` and ``curator transition`` call once they have
decided what to store. The paths it touches (the entry, the report, ``README.md`` of the store,
and the entry's old file when the change moved it) must have no uncommitted changes; their bytes,
the git index and ``HEAD`` are snapshotted; then the steps in :data:`STEPS` run in order. If
anything raises — a bad render, a git error, an interrupt — every touched file, the index and
``HEAD`` are restored, so the repository is exactly as before. The commit contains only the
touched paths (built in a private index), even when other changes are staged. One change at a
time: a lock file in the git directory refuses a second one while the first runs.

For fault-injection tests, the ``hook`` from :func:`fault_hook` is called with each step name
after the step has run; the environment variable ``CURATOR_FAULT_AFTER=<step>`` does the same,
but only inside a pytest run (``PYTEST_CURRENT_TEST`` set), never in production.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from curator.board import store
from curator.core.errors import CuratorError
from curator.core.jsonio import write_bytes_atomic

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

LOCK_NAME = "curator-store.lock"
DEFAULT_BOT_NAME = "curator-bot"
DEFAULT_BOT_EMAIL = "curator-bot"

Hook = Callable[[str], None]


class InjectedFault(RuntimeError):
    """Raised by the test-only fault hook."""


def fault_hook(fault: Hook | None) -> Hook:
    """The hook a transaction calls after each step: ``fault`` (tests pass one), then the
    ``CURATOR_FAULT_AFTER`` fault when running under pytest."""
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


def bot_actor():
    """Author and committer of the store's commits ($CURATOR_BOT_NAME / $CURATOR_BOT_EMAIL)."""
    import git

    return git.Actor(os.environ.get("CURATOR_BOT_NAME") or DEFAULT_BOT_NAME,
                     os.environ.get("CURATOR_BOT_EMAIL") or DEFAULT_BOT_EMAIL)


def store_change(root: Path, entry: dict[str, Any], *, old_path: Path | None, report: tuple[Path, bytes] | None,
                 message: str, commit: bool, hook: Hook, refused: type[CuratorError]) -> tuple[str | None, list[str]]:
    """Write ``entry`` (and ``report``: its path and bytes), re-render the README and commit exactly
    those paths — or, if anything fails, put the files, the index and HEAD back as they were.

    Refuses with ``refused`` (nothing written) when a touched path has uncommitted changes, the
    store is outside the repository, or another change holds the lock. Returns the new commit's
    sha (``None`` without ``commit``) and the touched paths."""
    new_entry_path = store.entry_path(root, entry)
    readme = store.safe_path(root, "README.md")
    repo = _open_repo(root, required=commit, refused=refused)
    removed = [old_path] if old_path is not None and old_path.absolute() != new_entry_path.absolute() else []
    touched = [new_entry_path] + ([report[0]] if report else []) + [readme] + removed
    rels = _checked_rels(repo, root, touched, commit, refused)
    lock = _acquire_lock(repo, refused)
    try:
        hook("checked")
        snapshot = _Snapshot(touched, repo)
        try:
            _write(root, entry, removed, report, hook)
            sha = _commit_paths(repo, rels, touched, removed, message, hook) if commit else None
        except BaseException as exc:
            _roll_back(snapshot, exc)
            raise
        return sha, rels
    finally:
        if lock is not None:
            lock.unlink(missing_ok=True)


def _checked_rels(repo: Any | None, root: Path, touched: list[Path], commit: bool,
                  refused: type[CuratorError]) -> list[str]:
    """The touched paths relative to the work tree, refused unless they are clean and committable."""
    if repo is None:
        return [str(p) for p in touched]
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
    return rels


def _write(root: Path, entry: dict[str, Any], removed: list[Path], report: tuple[Path, bytes] | None,
           hook: Hook) -> None:
    from curator.board.render import write_readme

    store.write_entry(root, entry)
    hook("entry-written")
    for p in removed:
        p.unlink()
        _prune_empty(p.parent)
    hook("old-entry-removed")
    if report is not None:
        write_bytes_atomic(report[0], report[1])
    hook("report-written")
    write_readme(root)
    hook("readme-written")


def _roll_back(snapshot: _Snapshot, exc: BaseException) -> None:
    """Restore the snapshot after ``exc``; an unexpected ``exc`` is re-raised as a CuratorError
    saying the store was rolled back (the caller re-raises the others as they are)."""
    try:
        snapshot.restore()
    except Exception as restore_exc:  # pragma: no cover - reported, never silent
        raise CuratorError(f"writing the store failed ({exc}) AND restoring the repository failed "
                           f"({restore_exc}); inspect it with git status") from exc
    if not isinstance(exc, (CuratorError, InjectedFault, KeyboardInterrupt)):
        raise CuratorError(f"writing the store failed and was rolled back, nothing changed: "
                           f"{type(exc).__name__}: {exc}") from exc


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
        if self.repo is not None:
            self._restore_head()
            self._restore_index()

    def _restore_head(self) -> None:
        repo = self.repo
        if self.head_commit is None or repo.head.commit.hexsha == self.head_commit:
            return
        if self.head_ref is not None:
            repo.git.update_ref("-m", "curator approve: rolled back", self.head_ref, self.head_commit)
        else:
            repo.git.update_ref("--no-deref", "-m", "curator approve: rolled back", "HEAD", self.head_commit)

    def _restore_index(self) -> None:
        index_file = Path(self.repo.git_dir) / "index"
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
    return [item[3:] for item in out.split("\0") if len(item) > 3]


def _tree_with(repo: Any, parent: Any, present: list[str], gone: list[str]) -> str:
    """The tree of ``parent`` with ``present`` as in the work tree and ``gone`` removed, built in a
    private index so that whatever else is staged stays out of the commit."""
    work = Path(repo.working_tree_dir)
    fd, tmp_index = tempfile.mkstemp(prefix="curator-index-", dir=repo.git_dir)
    os.close(fd)
    os.unlink(tmp_index)
    env = {"GIT_INDEX_FILE": tmp_index}
    try:
        repo.git.read_tree(parent.hexsha, env=env)
        for rel in present:
            blob = repo.git.hash_object("-w", "--", str(work / rel))
            repo.git.update_index("--add", "--cacheinfo", f"100644,{blob},{rel}", env=env)
        for rel in gone:
            repo.git.update_index("--force-remove", "--", rel, env=env)
        return repo.git.write_tree(env=env)
    finally:
        if os.path.exists(tmp_index):
            os.unlink(tmp_index)


def _commit_paths(repo: Any, rels: list[str], touched: list[Path], removed: list[Path], message: str,
                  hook: Hook) -> str:
    """Commit exactly the touched paths on top of HEAD, move the branch, then record them in the index."""
    import git

    present = [r for r, p in zip(rels, touched, strict=True) if p not in removed]
    gone = [r for r, p in zip(rels, touched, strict=True) if p in removed]
    parent = repo.head.commit
    tree = _tree_with(repo, parent, present, gone)
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
    if present:
        repo.git.add("--", *present)
    for rel in gone:
        repo.git.rm("--cached", "--quiet", "--ignore-unmatch", "--", rel)
    hook("index-updated")
    return commit.hexsha


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


def _open_repo(root: Path, required: bool, refused: type[CuratorError]) -> Any | None:
    import git

    try:
        return git.Repo(root if root.exists() else root.parent, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        if required:
            raise refused(f"the store {root} is not in a git repository (use --no-commit to only write files)") from None
        return None
