"""The repository, read-only: revisions, what a pull request changes, and its files read as data."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from curator.ci.errors import CiError
from curator.ci.layout import Change, claim_changes, classify
from curator.core.errors import UsageError

MAX_BLOB_BYTES = 4 * 1024 * 1024  # same cap as jsonio.read_json: an entry is a few KiB
MAX_CHANGED_FILES = 200
ZERO_SHA = "0" * 40


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CiError(f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def resolve(repo: Path, rev: str) -> str:
    if not rev or rev.startswith("-"):
        raise UsageError(f"not a revision: {rev!r}")
    return git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()


def merge_base(repo: Path, base: str, head: str) -> str:
    """Where ``head`` forked from ``base``: comparing against it ignores whatever main did since."""
    return git(repo, "merge-base", resolve(repo, base), resolve(repo, head)).strip()


def push_base(repo: Path, before: str, after: str) -> str:
    """The base of a push event: ``before``, or the first parent when the push created the branch."""
    if not before or before == ZERO_SHA:
        return resolve(repo, f"{after}~1")
    return before


def changed_files(repo: Path, base: str, head: str) -> list[Change]:
    """Files that ``head`` changes relative to its merge-base with ``base`` (renames split into D+A)."""
    mb = merge_base(repo, base, head)
    out = git(repo, "diff", "--name-status", "-z", "--no-renames", mb, resolve(repo, head), "--")
    parts = out.split("\0")
    changes: list[Change] = []
    # The output ends in NUL (or is empty), so split() leaves one unpaired empty field: zip drops it.
    for status, path in zip(parts[0::2], parts[1::2], strict=False):
        if not status:
            continue
        kind, eid = classify(path)
        changes.append(Change(path, status[0], kind, eid))
    if len(changes) > MAX_CHANGED_FILES:
        raise CiError(f"{len(changes)} files changed; a submission changes at most {MAX_CHANGED_FILES}")
    return changes


def read_blob(repo: Path, rev: str, path: str) -> bytes:
    """A file's bytes at ``rev`` straight from the object store: nothing is checked out."""
    spec = f"{resolve(repo, rev)}:{path}"
    if git(repo, "cat-file", "-t", spec).strip() != "blob":
        raise CiError(f"{path} at {rev} is not a regular file")
    size = int(git(repo, "cat-file", "-s", spec).strip())
    if size > MAX_BLOB_BYTES:
        raise CiError(f"{path} is {size} bytes, over the {MAX_BLOB_BYTES}-byte limit")
    mode = git(repo, "ls-tree", resolve(repo, rev), "--", path).split(" ", 1)[0]
    if mode not in ("100644", "100755"):
        raise CiError(f"{path} at {rev} is not a regular file (mode {mode}); symlinks are refused")
    proc = subprocess.run(["git", "cat-file", "blob", spec], cwd=repo, capture_output=True)
    if proc.returncode != 0:
        raise CiError(f"cannot read {path} at {rev}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def extract(repo: Path, head: str, changes: Sequence[Change], out_dir: Path) -> list[Path]:
    """Write the claim files that ``head`` adds or changes under ``out_dir`` (same relative paths)."""
    written = []
    out_dir.mkdir(parents=True, exist_ok=True)
    root = out_dir.resolve()
    for change in claim_changes(changes):
        rel = PurePosixPath(change.path)
        if rel.is_absolute() or ".." in rel.parts:  # classify() already allows only slugs; belt and braces
            raise CiError(f"refusing path {change.path!r}")
        target = root.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = read_blob(repo, head, change.path)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        written.append(target)
    return written
