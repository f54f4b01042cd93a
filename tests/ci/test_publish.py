"""curator.ci.publish on real repositories: nothing is committed for a claim without its own report."""

from __future__ import annotations

import json

import pytest

from cikit import commit, git
from curator.ci.errors import CiError
from curator.ci.publish import publish


def test_publish_without_a_report_commits_nothing(board, tmp_path):
    before = git(board, "rev-parse", "HEAD").strip()
    after = commit(board, {"submissions/c.json": json.dumps({"id": "c"})}, "merge PR")
    with pytest.raises(CiError, match="no re-verification report for c"):
        publish(board, before, after, tmp_path / "reports")
    assert git(board, "rev-parse", "HEAD").strip() == after
    assert git(board, "status", "--porcelain") == ""


def test_publish_refuses_a_report_for_another_claim(board, tmp_path):
    before = git(board, "rev-parse", "HEAD").strip()
    after = commit(board, {"submissions/c.json": json.dumps({"id": "c", "status": "submitted"})}, "merge PR")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "c.json").write_text(json.dumps({"entry": {"sha256": "0" * 64}}))
    with pytest.raises(CiError, match="/entry/sha256: report is for claim"):
        publish(board, before, after, tmp_path / "reports")
    assert git(board, "rev-parse", "HEAD").strip() == after
