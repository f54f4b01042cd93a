"""`curator transition`: maintainer-decided lifecycle moves, committed atomically."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from boardkit import git, init_board_repo, make_entry, make_report, repo_state, write
from curator.api.registry import Registry
from curator.board.approve import approve
from curator.board.diff import diff
from curator.board.git_transaction import STEPS, InjectedFault
from curator.board.transition import TransitionRefused, transition_entry
from curator.core.jsonio import read_json

CURATOR = str(Path(sys.executable).parent / "curator")


@pytest.fixture
def published(tmp_path):
    board = init_board_repo(tmp_path / "board")
    entry = make_entry("net-p", certified=60.0)
    sub = write(tmp_path / "sub" / "net-p.json", entry)
    rep = write(tmp_path / "sub" / "report.json", make_report(entry))
    approve(sub, rep, store_root=board / "leaderboard", registry=Registry(), publish=True)
    return board, entry


def test_dispute_then_refute_with_the_refuting_report(published, tmp_path):
    board, entry = published
    root = board / "leaderboard"
    with pytest.raises(TransitionRefused, match="reason"):
        transition_entry(root, "net-p", "disputed")
    r = transition_entry(root, "net-p", "disputed", reason="PGD breaks 4 certified samples")
    assert r.before == "published" and r.after == "disputed" and r.commit
    assert git(board, "log", "-1", "--format=%s").strip() == "leaderboard: dispute net-p (cifar10 l2 ε=0.25) — disputed"
    attack = write(tmp_path / "attack.json", make_report(entry, verdict="refuted"))
    r = transition_entry(root, "net-p", "refuted", reason="attack confirmed", report_path=attack)
    stored = read_json(r.entry_path)
    assert stored["status"] == "refuted"
    assert [h["status"] for h in stored["history"]] == ["verified", "published", "disputed", "refuted"]
    assert stored["reports"][-1]["verdict"] == "refuted"
    assert (root / stored["reports"][-1]["path"]).is_file()
    assert diff(str(board), "HEAD~2..HEAD").ok
    with pytest.raises(TransitionRefused, match="final"):
        transition_entry(root, "net-p", "published", reason="no")


def test_refused_moves_leave_repo_untouched(published, tmp_path):
    board, entry = published
    root = board / "leaderboard"
    before = repo_state(board)
    with pytest.raises(TransitionRefused, match="approve"):
        transition_entry(root, "old-a", "verified")
    with pytest.raises(TransitionRefused, match="not allowed"):
        transition_entry(root, "old-a", "published", reason="x")
    with pytest.raises(TransitionRefused, match="no entry"):
        transition_entry(root, "missing", "disputed", reason="x")
    other = make_entry("other")
    bad = write(tmp_path / "other.json", make_report(other, verdict="refuted"))
    with pytest.raises(TransitionRefused, match="does not belong"):
        transition_entry(root, "net-p", "disputed", reason="x", report_path=bad)
    assert repo_state(board) == before


@pytest.mark.parametrize("step", [s for s in STEPS if s not in ("old-entry-removed",)])
def test_fault_after_each_step_rolls_back(published, step):
    board, _ = published
    before = repo_state(board)

    def fault(s):
        if s == step:
            raise InjectedFault(s)

    with pytest.raises(InjectedFault):
        transition_entry(board / "leaderboard", "net-p", "disputed", reason="x", fault=fault)
    assert repo_state(board) == before


def test_cli(published):
    board, _ = published
    out = subprocess.run([CURATOR, "transition", "net-p", "--to", "disputed", "--reason", "check it",
                          "--format", "json"], cwd=board, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    bad = subprocess.run([CURATOR, "transition", "net-p", "--to", "refuted"], cwd=board, capture_output=True,
                         text=True)
    assert bad.returncode == 1 and "needs a reason" in bad.stderr
