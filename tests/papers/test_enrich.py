"""`curator enrich` on entries of the imported SoK board, against the local stand-in services."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from curator.api.registry import get_host
from curator.cli import main
from curator.papers.enrich import EnrichError, check_only_paper_changed
from scrape_support import serve_all, services  # noqa: F401  (fixture)

BOARD_FILES = [
    "cifar10/linf/cifar10-linf-8-255-fast-certified-robust-training-with-short-warmup.json",
    "cifar10/linf/cifar10-linf-8-255-robustra-training-provable-robust-neural.json",
    "cifar10/linf/cifar10-linf-8-255-certified-training-small-boxes-are-all-you-need.json",
    "cifar10/linf/cifar10-linf-8-255-boosting-the-certified-robustness-of-l-infinity.json",
    "mnist/linf/mnist-linf-0-1-expressive-losses-for-verified-robustness-via.json",
]


@pytest.fixture
def board(services, repo, tmp_path):
    serve_all(services)
    get_host(reload=True)
    root = tmp_path / "leaderboard" / "entries"
    for rel in BOARD_FILES:
        src = repo / "leaderboard" / "entries" / rel
        if not src.exists():
            pytest.skip(f"imported board entry {rel} not present")
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, root / rel)
    return tmp_path / "leaderboard"


def _snapshot(board):
    root = board / "entries"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.json"))}


def test_dry_run_prints_a_diff_and_writes_nothing(board):
    before = _snapshot(board)
    res = CliRunner().invoke(main, ["enrich", str(board), "-q"])
    assert res.exit_code == 0, res.output
    assert _snapshot(board) == before
    assert "+++ " in res.stdout and any(line.startswith("+") and '"Zhouxing Shi"' in line for line in res.stdout.splitlines())
    assert "5 to change" in res.stderr


def test_apply_fills_metadata_and_never_changes_a_number(board):
    before = {k: json.loads(v) for k, v in _snapshot(board).items()}
    res = CliRunner().invoke(main, ["enrich", str(board), "--apply", "--format", "json", "-q"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["changed"] == 5 and len(doc["written"]) == 5
    after = {k: json.loads(v) for k, v in _snapshot(board).items()}
    for name, old in before.items():
        new = after[name]
        assert {k: v for k, v in new.items() if k != "paper"} == {k: v for k, v in old.items() if k != "paper"}, name
        assert new["result"] == old["result"] and new["setting"] == old["setting"]
        for key in ("title", "url"):
            assert new["paper"][key] == old["paper"][key]
    fast = after[BOARD_FILES[0]]
    assert fast["paper"]["authors"][0] == "Zhouxing Shi"
    assert fast["paper"]["arxiv"] == "2103.17268"  # linked through Semantic Scholar's title match
    robustra = after[BOARD_FILES[1]]["paper"]
    assert robustra["authors"] == ["Linyi Li", "Zexuan Zhong", "Bo Li", "Tao Xie"]
    assert robustra["doi"] == "10.24963/ijcai.2019/654"
    assert "arxiv" not in robustra  # S2's answer was another paper: not merged
    sabr = after[BOARD_FILES[2]]["paper"]
    assert sabr["authors"][0] == "Mark Niklas Müller" and sabr["year"] == 2023
    # a second run has nothing left to do
    res = CliRunner().invoke(main, ["enrich", str(board), "--format", "json", "-q"])
    assert json.loads(res.stdout)["changed"] == 0


def test_a_failed_lookup_blocks_apply_unless_skip_failed(board, services):
    services.clear()
    serve_all_but_arxiv(services)
    before = _snapshot(board)
    res = CliRunner().invoke(main, ["enrich", str(board), "--apply", "-q"])
    assert res.exit_code == 1
    assert "failed: " in res.stderr and "nothing written" in res.stderr
    assert _snapshot(board) == before
    res = CliRunner().invoke(main, ["enrich", str(board), "--apply", "--skip-failed", "-q"])
    assert res.exit_code == 1 and "wrote 4 file(s)" in res.stderr
    assert _snapshot(board)[BOARD_FILES[2]] == before[BOARD_FILES[2]]


def serve_all_but_arxiv(httpserver):
    httpserver.expect_request("/arxiv/api/query").respond_with_data("Service Unavailable", status=503)
    httpserver.expect_request("/s2/graph/v1/paper/ARXIV:2210.04871").respond_with_data("", status=503)
    serve_all(httpserver)


def test_entries_with_reports_are_skipped(board):
    path = board / "entries" / BOARD_FILES[1]
    entry = json.loads(path.read_text())
    entry["reports"] = [{"path": "reports/x/" + "0" * 64 + ".json", "sha256": "0" * 64, "verdict": "confirmed"}]
    path.write_text(json.dumps(entry))
    res = CliRunner().invoke(main, ["enrich", str(path), "--format", "json", "-q"])
    assert json.loads(res.stdout)["skipped"][0]["reason"].startswith("has verification reports")


def test_the_guard_refuses_any_change_outside_missing_paper_fields():
    before = {"paper": {"title": "T", "authors": [], "year": 2020, "url": "https://x.org"}, "result": {"certified_accuracy": 50.0}}
    after = json.loads(json.dumps(before))
    after["result"]["certified_accuracy"] = 50.1
    with pytest.raises(EnrichError, match="more than the paper block"):
        check_only_paper_changed(before, after, "f.json")
    after = json.loads(json.dumps(before))
    after["paper"]["year"] = 2021
    with pytest.raises(EnrichError, match="/paper/year"):
        check_only_paper_changed(before, after, "f.json")
