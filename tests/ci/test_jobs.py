"""curator.ci.jobs's git side on real repositories: merge-base diffs, claim files read as data, plans."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from curator.ci import jobs as ci
from curator.cli import main
from curator.core.errors import UsageError


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def commit(repo: Path, files: dict[str, str | None], message: str) -> str:
    for rel, text in files.items():
        path = repo / rel
        if text is None:
            git(repo, "rm", "-q", rel)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        git(repo, "add", rel)
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def board(tmp_path):
    repo = tmp_path / "board"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, {"leaderboard/entries/mnist/linf/old.json": '{"id": "old"}\n', "README.md": "board\n"}, "init")
    return repo


def test_changes_are_taken_from_the_merge_base_not_from_a_moved_main(board):
    base = git(board, "rev-parse", "HEAD").strip()
    git(board, "checkout", "-qb", "pr")
    commit(board, {"submissions/new-claim.json": "{}\n"}, "submit")
    head = git(board, "rev-parse", "HEAD").strip()
    git(board, "checkout", "-q", "main")
    commit(board, {"submissions/someone-else.json": "{}\n", "leaderboard/README.md": "x\n"}, "main moved")
    changes = ci.changed_files(board, "main", head)
    assert [(c.path, c.status, c.kind, c.entry_id) for c in changes] == [
        ("submissions/new-claim.json", "A", "submission", "new-claim")]
    assert ci.merge_base(board, "main", head) == base


@pytest.mark.parametrize("path,kind", [
    ("submissions/a-b-1.json", "submission"),
    ("leaderboard/entries/cifar10/l2/x.json", "entry"),
    ("leaderboard/reports/x/abc.json", "bot-only"),
    ("leaderboard/README.md", "bot-only"),
    ("submissions/Upper.json", "misplaced"),
    ("submissions/nested/a.json", "misplaced"),
    ("submissions/a.yaml", "misplaced"),
    ("leaderboard/entries/cifar10/l7/x.json", "misplaced"),
    ("curator/ci/jobs.py", "other"),
])
def test_classify(path, kind):
    assert ci.classify(path)[0] == kind


def test_extract_reads_blobs_at_head_without_checking_out(board, tmp_path):
    git(board, "checkout", "-qb", "pr")
    head = commit(board, {"submissions/c.json": '{"id": "c"}\n',
                          "leaderboard/entries/mnist/linf/old.json": '{"id": "old", "x": 1}\n',
                          "tools/evil.sh": "rm -rf /\n"}, "pr")
    git(board, "checkout", "-q", "main")
    out = tmp_path / "claims"
    written = ci.extract(board, head, ci.changed_files(board, "main", head), out)
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
    with pytest.raises(ci.CiError, match="symlinks are refused"):
        ci.extract(board, "HEAD", ci.changed_files(board, "main", "HEAD"), tmp_path / "out")


def test_oversized_blob_is_refused(board, tmp_path, monkeypatch):
    git(board, "checkout", "-qb", "pr")
    head = commit(board, {"submissions/big.json": " " * 2000 + "{}"}, "big")
    monkeypatch.setattr(ci, "MAX_BLOB_BYTES", 1000)
    with pytest.raises(ci.CiError, match="over the 1000-byte limit"):
        ci.read_blob(board, head, "submissions/big.json")


def test_revisions_that_look_like_options_are_refused(board):
    with pytest.raises(UsageError):
        ci.resolve(board, "--output=/tmp/x")


def test_push_base_of_a_new_branch_is_the_parent(board):
    head = commit(board, {"a.txt": "a\n"}, "a")
    assert ci.push_base(board, ci.ZERO_SHA, head) == git(board, "rev-parse", "HEAD~1").strip()
    assert ci.push_base(board, "abc", head) == "abc"


def test_plan_is_claims_times_shards(tmp_path):
    (tmp_path / "submissions").mkdir()
    (tmp_path / "submissions" / "b.json").write_text("{}")
    (tmp_path / "submissions" / "a.json").write_text("{}")
    (tmp_path / "notes.json").write_text("{}")
    matrix = ci.plan(tmp_path, 2)["include"]
    assert [(m["id"], m["shard"]) for m in matrix] == [("a", "1/2"), ("a", "2/2"), ("b", "1/2"), ("b", "2/2")]
    result = CliRunner().invoke(main, ["ci", "plan", "--entries-dir", str(tmp_path), "--shards", "3"])
    assert result.exit_code == 0
    assert len(json.loads(result.output)["include"]) == 6


@pytest.mark.parametrize("bad", ["0/2", "3/2", "1", "a/b", "1/0", ""])
def test_bad_shards_are_usage_errors(bad):
    with pytest.raises(UsageError):
        ci.parse_shard(bad)


def test_changed_entries_cli_json(board, tmp_path):
    git(board, "checkout", "-qb", "pr")
    commit(board, {"submissions/c.json": "{}\n"}, "pr")
    result = CliRunner().invoke(main, ["ci", "changed-entries", "--repo", str(board), "--base", "main",
                                       "--head", "pr", "--extract", str(tmp_path / "x"), "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["changes"] == [{"path": "submissions/c.json", "status": "A", "kind": "submission", "id": "c"}]
    assert (tmp_path / "x" / "submissions" / "c.json").is_file()


def test_publish_without_a_report_commits_nothing(board, tmp_path):
    before = git(board, "rev-parse", "HEAD").strip()
    after = commit(board, {"submissions/c.json": json.dumps({"id": "c"})}, "merge PR")
    with pytest.raises(ci.CiError, match="no re-verification report for c"):
        ci.publish(board, before, after, tmp_path / "reports")
    assert git(board, "rev-parse", "HEAD").strip() == after
    assert git(board, "status", "--porcelain") == ""


def test_publish_refuses_a_report_for_another_claim(board, tmp_path):
    before = git(board, "rev-parse", "HEAD").strip()
    after = commit(board, {"submissions/c.json": json.dumps({"id": "c", "status": "submitted"})}, "merge PR")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "c.json").write_text(json.dumps({"entry": {"sha256": "0" * 64}}))
    with pytest.raises(ci.CiError, match="/entry/sha256: report is for claim"):
        ci.publish(board, before, after, tmp_path / "reports")
    assert git(board, "rev-parse", "HEAD").strip() == after


def test_merge_needs_shard_reports(tmp_path):
    (tmp_path / "r").mkdir()
    with pytest.raises(ci.CiError, match="no shard reports"):
        ci.merge(tmp_path, tmp_path / "r", tmp_path / "out")


def test_command_lines_are_the_documented_ones():
    assert ci.verify_argv("e.json", "1/2", "o.json", samples=5)[3:] == [
        "verify", "e.json", "--shard", "1/2", "--out", "o.json", "--format", "json", "--quiet", "--samples", "5"]
    ran = ci.Ran(ci.validate_argv(["a b.json"]), 0, "", "")
    assert ran.shown == "curator validate 'a b.json' --format json"


@pytest.fixture
def real_board(tmp_path, repo):
    """A git repository holding a copy of the project's imported board."""
    board = tmp_path / "real"
    board.mkdir()
    git(board, "init", "-q", "-b", "main")
    import shutil

    shutil.copytree(repo / "leaderboard", board / "leaderboard")
    git(board, "add", "leaderboard")
    git(board, "commit", "-qm", "board")
    git(board, "checkout", "-qb", "pr")
    return board


def test_check_submission_refuses_and_explains(real_board, tmp_path, monkeypatch):
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    entry = {"schema_version": 1, "id": "evil-claim", "status": "published",
             "paper": {"title": "<script>alert(1)</script> @maintainer", "authors": ["x"], "year": 2026,
                       "url": "https://example.org"},
             "setting": {"dataset": "cifar10", "norm": "l3", "radius": 0.5, "radius_text": "0.5"}}
    commit(real_board, {"submissions/evil-claim.json": json.dumps(entry),
                        "submissions/Bad Name.json": "{}",
                        "leaderboard/README.md": "forged\n"}, "pr")
    result = ci.check_submission(real_board, "main", "pr", comment_out=tmp_path / "comment" / "comment.md")
    assert not result.ok
    by_path = {f.change.path: f for f in result.files}
    assert not by_path["leaderboard/README.md"].ok
    assert not by_path["submissions/Bad Name.json"].ok
    evil = by_path["submissions/evil-claim.json"]
    assert not evil.ok
    text = "\n".join(evil.messages)
    assert "/setting/norm" in text and "/status" in text
    comment = (tmp_path / "comment" / "comment.md").read_text()
    assert "<script>" not in comment and "&lt;script&gt;" in comment
    assert "@maintainer" not in comment
    assert summary.read_text() == comment + "\n"
    assert "/tmp/" not in "\n".join(evil.messages), "temporary paths leak into the comment"


def test_check_submission_cli_exit_code_and_pr_number(real_board, tmp_path):
    commit(real_board, {"submissions/x.json": "{not json"}, "pr")
    out = tmp_path / "c" / "comment.md"
    result = CliRunner().invoke(main, ["ci", "check-submission", "--repo", str(real_board), "--base", "main",
                                       "--head", "pr", "--comment-out", str(out), "--pr", "12", "--format", "json"])
    assert result.exit_code == 1
    assert (tmp_path / "c" / "pr-number.txt").read_text() == "12\n"
    assert "❌" in out.read_text()


def test_a_merged_submission_cannot_be_edited(real_board, tmp_path):
    git(real_board, "checkout", "-q", "main")
    commit(real_board, {"submissions/done.json": "{}\n"}, "merged earlier")
    git(real_board, "checkout", "-qb", "pr2")
    commit(real_board, {"submissions/done.json": '{"changed": true}\n'}, "edit")
    result = ci.check_submission(real_board, "main", "pr2")
    assert not result.ok
    assert "kept as it was merged" in result.files[0].messages[0]
