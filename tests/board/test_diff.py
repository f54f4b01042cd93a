"""`curator diff` between real git revisions, from their merge base."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from boardkit import git, init_board_repo, make_entry, make_report, write
from curator.api.registry import Registry
from curator.board import lifecycle, store
from curator.board.approve import approve
from curator.board.diff import diff, to_markdown
from curator.core.jsonio import read_json

CURATOR = str(Path(sys.executable).parent / "curator")


@pytest.fixture
def board(tmp_path):
    return init_board_repo(tmp_path / "board")


def _commit_entry(repo: Path, entry: dict, message: str) -> None:
    store.write_entry(repo / "leaderboard", entry)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def test_new_entry_and_rank_moves_against_moved_main(board):
    git(board, "checkout", "-q", "-b", "pr")
    _commit_entry(board, make_entry("new-top", certified=70.0), "add submission")
    git(board, "checkout", "-q", "main")
    # main moves on after the PR branched: an entry the PR never saw
    _commit_entry(board, make_entry("main-only", dataset="mnist", norm="linf", radius_text="0.1", certified=90.0,
                                    clean=None, status="legacy", model=False), "main moves")

    r = diff(str(board), "main..pr")
    assert r.ok, r.problems
    assert [n["id"] for n in r.new] == ["new-top"]
    assert r.removed == []  # comparing with main's tip would wrongly list main-only as removed
    moves = {m["id"]: (m["before"], m["after"]) for m in r.ranks}
    assert moves == {"new-top": (None, 1), "old-b": (1, 2), "old-a": (2, 3)}
    md = to_markdown(r)
    assert "### New entries" in md and "`new-top`" in md and "| cifar10 l2 ε=0.25 | `old-b` | 1 | 2 |" in md
    assert r.merge_base == git(board, "merge-base", "main", "pr").strip()


def test_changing_a_shown_number_without_supersede_fails(board):
    git(board, "checkout", "-q", "-b", "pr")
    e = read_json(board / "leaderboard/entries/cifar10/l2/old-a.json")
    e["result"]["certified_accuracy"] = 66.0
    _commit_entry(board, e, "bump a legacy number")
    r = diff(str(board), "main..pr")
    assert not r.ok
    assert "old-a: legacy numbers changed without supersede metadata" in r.problems[0]
    assert r.changed[0]["numbers"] == {"result.certified_accuracy": {"before": 55.0, "after": 66.0}}
    cli = subprocess.run([CURATOR, "diff", "main..pr", "--repo", str(board)], capture_output=True, text=True)
    assert cli.returncode == 1
    assert "### ❌ Problems" in cli.stdout and "supersede" in cli.stderr and "Traceback" not in cli.stderr


def test_supersede_metadata_makes_the_change_acceptable(board):
    git(board, "checkout", "-q", "-b", "pr")
    old = read_json(board / "leaderboard/entries/cifar10/l2/old-a.json")
    new = dict(old, result={"certified_accuracy": 66.0})
    e = lifecycle.supersede(old, new, "verified", reason="re-run", report="reports/old-a/x.json", date="d")
    e["status"] = "legacy"  # a supersede that lands on a status the lifecycle cannot reach is still refused
    _commit_entry(board, e, "supersede badly")
    assert any("not recorded" in p or "does not allow" in p for p in diff(str(board), "main..pr").problems)
    e["status"] = "verified"
    _commit_entry(board, e, "supersede with a report that is not stored")
    assert any("not a report path" in p for p in diff(str(board), "main..pr").problems)
    # The supersede is accepted once it cites a stored report of exactly the new claim.
    claim = {k: v for k, v in e.items() if k not in lifecycle.LIFECYCLE_FIELDS}
    claim["model"] = {"url": "https://example.org/m.safetensors", "sha256": "b" * 64, "format": "safetensors",
                      "architecture": {"name": "mlp", "kwargs": {}}, "input_shape": [3, 32, 32], "num_classes": 10}
    claim["certification"] = {"type": "probabilistic", "alpha": 0.001, "verifier": "smoothing",
                              "params": {"sigma": 0.25, "n0": 100, "n": 1000, "alpha": 0.001}}
    path, _ = store.write_report(board / "leaderboard", "old-a", make_report(claim))
    rel = path.relative_to(board / "leaderboard").as_posix()
    e = lifecycle.supersede(old, claim, "verified", reason="re-run", report=rel, date="d")
    _commit_entry(board, e, "supersede properly")
    r = diff(str(board), "main..pr")
    assert r.ok, r.problems
    assert r.changed[0]["reason"] == "re-run"
    assert r.status == [{"id": "old-a", "setting": "cifar10 l2 ε=0.25", "before": "legacy", "after": "verified"}]


def test_history_rewrite_status_jump_forged_verification_and_deletion_fail(board):
    git(board, "checkout", "-q", "-b", "pr")
    e = read_json(board / "leaderboard/entries/cifar10/l2/old-b.json")
    e["status"] = "published"
    _commit_entry(board, e, "jump")
    forged = make_entry("forged", status="verified")
    forged["reports"] = [{"path": "reports/forged/" + "a" * 64 + ".json", "sha256": "a" * 64, "verdict": "confirmed"}]
    _commit_entry(board, forged, "forge")
    (board / "leaderboard/entries/mnist/linf/old-c.json").unlink()
    git(board, "commit", "-q", "-am", "delete")
    problems = diff(str(board), "main..pr").problems
    text = "\n".join(problems)
    assert "old-b: status legacy → published is not recorded in history" in text
    assert "forged: new entry is verified but its reports are not in the tree" in text
    assert "old-c: a legacy entry was deleted" in text


def test_approve_commit_diffs_clean(board, tmp_path):
    entry = make_entry("approved-net", certified=64.0)
    sub = write(tmp_path / "approved-net.json", entry)
    rep = write(tmp_path / "r.json", make_report(entry))
    approve(sub, rep, store_root=board / "leaderboard", registry=Registry())
    r = diff(str(board), "HEAD~1..HEAD")
    assert r.ok, r.problems
    assert [n["id"] for n in r.new] == ["approved-net"] and r.new[0]["status"] == "verified"
    out = subprocess.run([CURATOR, "diff", "HEAD~1..HEAD", "--format", "json"], cwd=board, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["new"][0]["id"] == "approved-net"


def test_no_change_and_bad_range(board):
    assert "No leaderboard changes." in to_markdown(diff(str(board), "HEAD..HEAD"))
    bad = subprocess.run([CURATOR, "diff", "main", "--repo", str(board)], capture_output=True, text=True)
    assert bad.returncode == 2 and "BASE..HEAD" in bad.stderr
    bad = subprocess.run([CURATOR, "diff", "main..nope", "--repo", str(board)], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown revision" in bad.stderr
