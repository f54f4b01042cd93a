"""curator ci fetch-reports against a local server speaking GitHub's REST API (real HTTP, real zip)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from click.testing import CliRunner

from curator.ci.errors import CiError
from curator.ci.github import GitHub, artifact_name, extract_reports, fetch_reports, run_name
from curator.cli import main

pytestmark = pytest.mark.network

REPO = "board/curator"
SHA = "a" * 40


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _serve(httpserver, *, runs: dict[int, dict], artifacts: list[dict], zips: dict[int, bytes], pulls=None):
    base = f"/repos/{REPO}"
    if pulls is None:
        pulls = [{"number": 7, "merged_at": "2026-11-30T00:00:00Z", "merge_commit_sha": SHA}]
    httpserver.expect_request(f"{base}/commits/{SHA}/pulls").respond_with_json(pulls)
    httpserver.expect_request(f"{base}/actions/artifacts", query_string={"name": artifact_name(7), "per_page": "100"}
                              ).respond_with_json({"total_count": len(artifacts), "artifacts": artifacts})
    for run_id, run in runs.items():
        httpserver.expect_request(f"{base}/actions/runs/{run_id}").respond_with_json(run)
    # The workflow's run list (GitHub lists only reverify.yml's runs here); a run is as old as its artifact.
    started = {a["workflow_run"]["id"]: a["created_at"] for a in artifacts}
    listed = [{"id": rid, "display_title": run_name(7), "status": "completed", "created_at": started.get(rid, ""),
               **run} for rid, run in runs.items() if run.get("path") == ".github/workflows/reverify.yml"]
    httpserver.expect_request(f"{base}/actions/workflows/reverify.yml/runs").respond_with_json(
        {"total_count": len(listed), "workflow_runs": listed})
    for art_id, data in zips.items():
        # Like GitHub: the API redirects to storage elsewhere.
        httpserver.expect_request(f"{base}/actions/artifacts/{art_id}/zip").respond_with_data(
            "", status=302, headers={"Location": httpserver.url_for(f"/storage/{art_id}.zip")})
        httpserver.expect_request(f"/storage/{art_id}.zip").respond_with_data(data, content_type="application/zip")


def _artifact(art_id: int, run_id: int, created: str) -> dict:
    return {"id": art_id, "name": artifact_name(7), "expired": False, "created_at": created,
            "workflow_run": {"id": run_id, "head_branch": "main"}}


TRUSTED = {"path": ".github/workflows/reverify.yml", "event": "workflow_dispatch", "head_branch": "main"}


def test_takes_the_newest_report_from_a_trusted_reverify_run(httpserver, tmp_path):
    forged = _zip({"demo.json": b'{"verdict": {"status": "confirmed"}}'})
    real = _zip({"demo.json": b'{"real": true}'})
    old = _zip({"demo.json": b'{"old": true}'})
    _serve(httpserver,
           runs={1: TRUSTED,
                 2: {"path": ".github/workflows/submission.yml", "event": "pull_request", "head_branch": "evil"},
                 3: TRUSTED},
           artifacts=[_artifact(10, 1, "2026-11-29T10:00:00Z"),
                      _artifact(20, 2, "2026-11-29T12:00:00Z"),  # newest, but uploaded by PR code
                      _artifact(30, 3, "2026-11-29T11:00:00Z")],
           zips={10: old, 20: forged, 30: real})
    gh = GitHub(REPO, "t0ken", httpserver.url_for("/"))
    pr, paths = fetch_reports(gh, SHA, tmp_path / "reports")
    assert pr == 7
    assert [p.name for p in paths] == ["demo.json"]
    assert json.loads(paths[0].read_text()) == {"real": True}


def test_cli_writes_reports_and_pr_number(httpserver, tmp_path, monkeypatch):
    _serve(httpserver, runs={1: TRUSTED}, artifacts=[_artifact(10, 1, "2026-11-29T10:00:00Z")],
           zips={10: _zip({"demo.json": b"{}"})})
    monkeypatch.setenv("GH_TOKEN", "t0ken")
    result = CliRunner().invoke(main, ["ci", "fetch-reports", "--commit", SHA, "--out-dir", str(tmp_path / "r"),
                                       "--pr-out", str(tmp_path / "pr.txt"), "--github-repo", REPO,
                                       "--api-url", httpserver.url_for("/")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "pr.txt").read_text() == "7\n"
    assert (tmp_path / "r" / "demo.json").read_text() == "{}"
    auth = [r.headers.get("Authorization") for r, _ in httpserver.log if r.path.startswith("/repos/")]
    assert auth and all(a == "Bearer t0ken" for a in auth)


def test_no_trusted_run_means_no_report(httpserver, tmp_path):
    _serve(httpserver, runs={2: {"path": ".github/workflows/reverify.yml", "event": "workflow_dispatch",
                                 "head_branch": "pr-branch"}},
           artifacts=[_artifact(20, 2, "2026-11-29T12:00:00Z")], zips={})
    with pytest.raises(CiError, match="no re-verification report for PR #7"):
        fetch_reports(GitHub(REPO, None, httpserver.url_for("/")), SHA, tmp_path / "r")


def test_a_direct_push_is_not_published(httpserver, tmp_path):
    _serve(httpserver, runs={}, artifacts=[], zips={}, pulls=[])
    with pytest.raises(CiError, match="not the merge of a pull request"):
        fetch_reports(GitHub(REPO, None, httpserver.url_for("/")), SHA, tmp_path / "r")


@pytest.mark.parametrize("name", ["../escape.json", "sub/dir.json", "README.md", "/abs.json"])
def test_unexpected_artifact_members_are_refused(tmp_path, name):
    with pytest.raises(CiError, match="unexpected file"):
        extract_reports(_zip({name: b"{}"}), tmp_path)
    assert not any(tmp_path.rglob("*.json"))


def test_a_push_without_new_submissions_needs_no_report(httpserver, tmp_path):
    import subprocess

    repo = tmp_path / "board"
    repo.mkdir()
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e.org", "PATH": "/usr/bin:/bin"}
    for args in (["init", "-q", "-b", "main"], ["commit", "-q", "--allow-empty", "-m", "a"],
                 ["commit", "-q", "--allow-empty", "-m", "b"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    result = CliRunner().invoke(main, ["ci", "fetch-reports", "--commit", head, "--base", "0" * 40, "--head", head,
                                       "--repo", str(repo), "--out-dir", str(tmp_path / "r"),
                                       "--pr-out", str(tmp_path / "pr.txt"), "--github-repo", REPO,
                                       "--api-url", httpserver.url_for("/")])
    assert result.exit_code == 0, result.output
    assert "no new submission" in result.output
    assert not httpserver.log and not (tmp_path / "pr.txt").exists()
    result = CliRunner().invoke(main, ["ci", "publish", "--repo", str(repo), "--base", "0" * 40, "--head", head,
                                       "--reports-dir", str(tmp_path / "r"), "--pr-file", str(tmp_path / "pr.txt")])
    assert result.exit_code == 0, result.output
    assert "no new submission to publish" in result.output
