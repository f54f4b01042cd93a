"""curator.ci.submission on a copy of the real board: what a pull request may change, and the comment."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cikit import commit, git
from curator.ci.submission import check_submission
from curator.cli import main


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
    result = check_submission(real_board, "main", "pr", comment_out=tmp_path / "comment" / "comment.md")
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
    result = check_submission(real_board, "main", "pr2")
    assert not result.ok
    assert "kept as it was merged" in result.files[0].messages[0]
