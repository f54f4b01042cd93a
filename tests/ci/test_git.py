"""curator.ci.git and curator.ci.layout on real repositories: merge-base diffs, claim files read as data."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

import curator.ci.git as ci_git
from cikit import commit, git
from curator.ci.errors import CiError
from curator.ci.git import ZERO_SHA, changed_files, extract, merge_base, push_base, read_blob, resolve
from curator.ci.layout import classify
from curator.cli import main
from curator.core.errors import UsageError


def test_changes_are_taken_from_the_merge_base_not_from_a_moved_main(board):
    base = git(board, "rev-parse", "HEAD").strip()
    git(board, "checkout", "-qb", "pr")
    commit(board, {"submissions/new-claim.json": "{}\n"}, "submit")
    head = git(board, "rev-parse", "HEAD").strip()
    git(board, "checkout", "-q", "main")
    commit(board, {"submissions/someone-else.json": "{}\n", "leaderboard/README.md": "x\n"}, "main moved")
    changes = changed_files(board, "main", head)
    assert [(c.path, c.status, c.kind, c.entry_id) for c in changes] == [
        ("submissions/new-claim.json", "A", "submission", "new-claim")]
    assert merge_base(board, "main", head) == base


@pytest.mark.parametrize("path,kind", [
    ("submissions/a-b-1.json", "submission"),
    ("leaderboard/entries/cifar10/l2/x.json", "entry"),
    ("leaderboard/reports/x/abc.json", "bot-only"),
    ("leaderboard/README.md", "bot-only"),
    ("submissions/Upper.json", "misplaced"),
    ("submissions/nested/a.json", "misplaced"),
    ("submissions/a.yaml", "misplaced"),
    ("leaderboard/entries/cifar10/l7/x.json", "misplaced"),
    ("curator/ci/shards.py", "other"),
])
def test_classify(path, kind):
    assert classify(path)[0] == kind


def test_extract_reads_blobs_at_head_without_checking_out(board, tmp_path):
    git(board, "checkout", "-qb", "pr")
    head = commit(board, {"submissions/c.json": '{"id": "c"}\n',
                          "leaderboard/entries/mnist/linf/old.json": '{"id": "old", "x": 1}\n',
                          "tools/evil.sh": "rm -rf /\n"}, "pr")
    git(board, "checkout", "-q", "main")
    out = tmp_path / "claims"
    written = extract(board, head, changed_files(board, "main", head), out)
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "leaderboard/entries/mnist/linf/old.json", "submissions/c.json"]
    assert (out / "submissions/c.json").read_text() == '{"id": "c"}\n'
    assert not (board / "submissions").exists()  # the work tree stayed on main


def test_symlinked_claims_are_refused(board, tmp_path):
    git(board, "checkout", "-qb", "pr")
    (board / "submissions").mkdir()
    os.symlink("/etc/passwd", board / "submissions" / "link.json")
    git(board, "add", "submissions/link.json")
    git(board, "commit", "-qm", "symlink")
    with pytest.raises(CiError, match="symlinks are refused"):
        extract(board, "HEAD", changed_files(board, "main", "HEAD"), tmp_path / "out")


def test_oversized_blob_is_refused(board, tmp_path, monkeypatch):
    git(board, "checkout", "-qb", "pr")
    head = commit(board, {"submissions/big.json": " " * 2000 + "{}"}, "big")
    monkeypatch.setattr(ci_git, "MAX_BLOB_BYTES", 1000)
    with pytest.raises(CiError, match="over the 1000-byte limit"):
        read_blob(board, head, "submissions/big.json")


def test_revisions_that_look_like_options_are_refused(board):
    with pytest.raises(UsageError):
        resolve(board, "--output=/tmp/x")


def test_push_base_of_a_new_branch_is_the_parent(board):
    head = commit(board, {"a.txt": "a\n"}, "a")
    assert push_base(board, ZERO_SHA, head) == git(board, "rev-parse", "HEAD~1").strip()
    assert push_base(board, "abc", head) == "abc"


def test_changed_entries_cli_json(board, tmp_path):
    git(board, "checkout", "-qb", "pr")
    commit(board, {"submissions/c.json": "{}\n"}, "pr")
    result = CliRunner().invoke(main, ["ci", "changed-entries", "--repo", str(board), "--base", "main",
                                       "--head", "pr", "--extract", str(tmp_path / "x"), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["changes"] == [{"path": "submissions/c.json", "status": "A", "kind": "submission", "id": "c"}]
    assert (tmp_path / "x" / "submissions" / "c.json").is_file()
