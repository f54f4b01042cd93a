"""Tiny samples and smoke runs: a claim measured on one image, or a 5-sample smoke
run of the bundled over-claim, must never be confirmed or published, and fetch-reports must not fall back
to an older run's report."""

from __future__ import annotations

import pytest

from curator.board.approve import ApprovalRefused
from trustkit import approve_into, board, deterministic_claim, example, run, set_path, write_claim, zero_network


def test_a_one_sample_claim_on_an_all_zero_network_is_neither_confirmed_nor_published(tmp_path):
    _, model = zero_network(tmp_path / "claim")
    entry = deterministic_claim("zero-net-one-sample", model, 99.5, selection={"kind": "first", "n": 1}, n_samples=1)
    path = write_claim(tmp_path / "claim", entry, tmp_path / "claim" / "zero.safetensors")
    report = run(path, tmp_path)
    # 0/1 certified: the interval [0, 99.5] holds the claim, but one sample proves nothing
    assert report["totals"]["certified_correct"] == 0 and report["totals"]["n"] == 1
    assert report["verdict"]["status"] != "confirmed", report["verdict"]
    assert "fewer than the 360" in report["verdict"]["reason"]
    repo = board(tmp_path)
    with pytest.raises(ApprovalRefused):
        approve_into(repo, path, report, tmp_path)
    from curator.board.publication import publication_problems

    assert any("fewer than the 360" in p for p in publication_problems(entry, report))


def test_a_five_sample_smoke_run_of_the_bundled_overclaim_is_marked_and_cannot_publish(tmp_path):
    from curator.cli.verify_cmd import text_summary

    path = write_claim(tmp_path / "claim", example("digits-smoothing-overclaim.json"))
    report = run(path, tmp_path, samples=5)
    assert report["verdict"]["status"] != "confirmed", report["verdict"]
    assert report.get("smoke_run") is True
    assert "SMOKE RUN" in text_summary(report) and "smoke run" in report["verdict"]["reason"]
    # even a hand-edited verdict does not help: approve recomputes it, and the run is not the claim's
    forged = set_path(report, verdict={"status": "confirmed", "reason": "trust me"})
    repo = board(tmp_path)
    with pytest.raises(ApprovalRefused, match="smoke run"):
        approve_into(repo, path, forged, tmp_path)


def test_smoke_reports_carry_smoke_in_their_ci_names():
    from curator.ci.shards import shard_report_name

    assert shard_report_name("demo", "1/2", smoke=True) == "demo.smoke.shard-1-of-2.json"
    assert shard_report_name("demo", "1/2") == "demo.shard-1-of-2.json"


# --------------------------------------------------------------------------- fetch-reports never falls back

REPO = "board/curator"
SHA = "b" * 40
WORKFLOW = ".github/workflows/reverify.yml"


def _zip(members):
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _github(httpserver, runs, artifacts, zips):
    base = f"/repos/{REPO}"
    httpserver.expect_request(f"{base}/commits/{SHA}/pulls").respond_with_json(
        [{"number": 9, "merged_at": "2026-12-01T00:00:00Z", "merge_commit_sha": SHA}])
    httpserver.expect_request(f"{base}/actions/artifacts").respond_with_json(
        {"total_count": len(artifacts), "artifacts": artifacts})
    httpserver.expect_request(f"{base}/actions/workflows/reverify.yml/runs").respond_with_json(
        {"total_count": len(runs), "workflow_runs": runs})
    for r in runs:
        httpserver.expect_request(f"{base}/actions/runs/{r['id']}").respond_with_json(r)
    for art_id, data in zips.items():
        httpserver.expect_request(f"{base}/actions/artifacts/{art_id}/zip").respond_with_data(
            data, content_type="application/zip")


def _run(run_id, created, title="reverify PR #9"):
    return {"id": run_id, "path": WORKFLOW, "event": "workflow_dispatch", "head_branch": "main",
            "status": "completed", "display_title": title, "created_at": created}


def _artifact(art_id, run_id, created):
    return {"id": art_id, "name": "curator-reverify-pr-9", "expired": False, "created_at": created,
            "workflow_run": {"id": run_id}}


@pytest.mark.network
def test_fetch_reports_fails_when_the_newest_run_left_no_report(httpserver, tmp_path):
    from curator.ci.errors import CiError
    from curator.ci.github import GitHub, fetch_reports

    # run 1 (old) left a report; run 2, the newest, left none (failed, cancelled ...)
    _github(httpserver, runs=[_run(1, "2026-11-30T10:00:00Z"), _run(2, "2026-11-30T12:00:00Z")],
            artifacts=[_artifact(10, 1, "2026-11-30T10:30:00Z")], zips={10: _zip({"demo.json": b"{}"})})
    with pytest.raises(CiError, match="newest reverify run .* left no report"):
        fetch_reports(GitHub(REPO, None, httpserver.url_for("/")), SHA, tmp_path / "r")
    assert not (tmp_path / "r" / "demo.json").exists()


@pytest.mark.network
def test_fetch_reports_refuses_when_the_newest_run_was_a_smoke_run(httpserver, tmp_path):
    from curator.ci.errors import CiError
    from curator.ci.github import GitHub, fetch_reports

    _github(httpserver, runs=[_run(1, "2026-11-30T10:00:00Z"), _run(2, "2026-11-30T12:00:00Z",
                                                                     "reverify PR #9 (smoke run)")],
            artifacts=[_artifact(10, 1, "2026-11-30T10:30:00Z")], zips={10: _zip({"demo.json": b"{}"})})
    with pytest.raises(CiError, match="smoke run"):
        fetch_reports(GitHub(REPO, None, httpserver.url_for("/")), SHA, tmp_path / "r")
