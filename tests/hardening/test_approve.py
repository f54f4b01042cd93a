"""Hardening: ``approve`` interrupted at every step, for every kind of change.

tests/board/test_approve.py injects an ``InjectedFault`` after each step of a *new* entry. Here the same
is done for the other shapes of change — a legacy entry re-verified in place (a file overwritten,
not created) and a supersede that moves the entry to another setting (a file removed) — with both
an exception and ``KeyboardInterrupt`` (a ``BaseException``: Ctrl-C, a CI cancel). Afterwards HEAD,
the index and the work tree are exactly as before. ``--slow`` adds the case no ``except`` can
handle: the process SIGKILLed after each step. Then the contract is the git one: HEAD is the old
commit or a commit holding the *whole* change, never a partial tree; what the work tree keeps is
recorded in docs/security.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from boardkit import git, init_board_repo, make_entry, make_report, repo_state, write
from curator.api.registry import Registry
from curator.board.approve import approve
from curator.board.git_transaction import STEPS, InjectedFault

NO_PLUGINS = Registry()
TESTS = Path(__file__).resolve().parents[1]


def _scenario(board: Path, tmp: Path, kind: str) -> dict:
    """Submission + report files and approve kwargs for one shape of change."""
    if kind == "new":
        entry, kw = make_entry("fresh-net"), {}
    elif kind == "reverify-legacy":
        entry, kw = make_entry("old-a", certified=55.0, clean=None), {}
    elif kind == "supersede-move":
        entry = make_entry("old-c", dataset="mnist", norm="l2", radius_text="1.5", certified=90.0, clean=None)
        kw = {"supersede": True, "reason": "the paper's l2 claim replaces the imported linf number"}
    else:
        raise AssertionError(kind)
    sub = write(tmp / "sub" / f"{entry['id']}.json", entry)
    rep = write(tmp / "sub" / "report.json", make_report(entry))
    return {"sub": sub, "rep": rep, "kw": kw, "entry": entry}


KINDS = ["new", "reverify-legacy", "supersede-move"]


@pytest.fixture
def board(tmp_path):
    b = init_board_repo(tmp_path / "board")
    (b / "notes.txt").write_text("staged, unrelated\n")
    git(b, "add", "notes.txt")
    return b


@pytest.mark.parametrize("kind", KINDS)
def test_each_scenario_succeeds_without_a_fault(board, tmp_path, kind):
    """Control: the scenarios are real approvals (so a fault test cannot pass by refusal)."""
    s = _scenario(board, tmp_path, kind)
    head = git(board, "rev-parse", "HEAD")
    result = approve(s["sub"], s["rep"], store_root=board / "leaderboard", registry=NO_PLUGINS, **s["kw"])
    assert result.commit and git(board, "rev-parse", "HEAD~1") == head
    if kind == "supersede-move":
        assert not (board / "leaderboard/entries/mnist/linf/old-c.json").exists()
        assert (board / "leaderboard/entries/mnist/l2/old-c.json").exists()
    # the unrelated staged file stays staged and out of the commit
    assert "notes.txt" in git(board, "diff", "--cached", "--name-only")


# InjectedFault and KeyboardInterrupt for every scenario; a plain OSError (disk full, EIO) once.
FAULTS = [(k, s, e) for k in KINDS for s in STEPS for e in (InjectedFault, KeyboardInterrupt)] + \
         [("supersede-move", s, OSError) for s in STEPS]


@pytest.mark.parametrize("kind,step,exc", FAULTS, ids=[f"{k}-{s}-{e.__name__}" for k, s, e in FAULTS])
def test_interrupted_after_every_step_leaves_the_repository_as_before(board, tmp_path, kind, step, exc):
    s = _scenario(board, tmp_path, kind)
    before = repo_state(board)

    def fault(name):
        if name == step:
            raise exc(f"interrupted after {name}")

    with pytest.raises((exc, Exception)) as info:
        approve(s["sub"], s["rep"], store_root=board / "leaderboard", registry=NO_PLUGINS, fault=fault, **s["kw"])
    assert isinstance(info.value, exc) or "rolled back" in str(info.value)
    assert repo_state(board) == before
    assert not (board / ".git/curator-store.lock").exists()
    if exc is KeyboardInterrupt:  # and the same approval succeeds afterwards: nothing stale left behind
        assert approve(s["sub"], s["rep"], store_root=board / "leaderboard", registry=NO_PLUGINS, **s["kw"]).commit


_KILLER = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from curator.board.approve import approve
from curator.api.registry import Registry
kw = {kw!r}
def fault(name):
    if name == {step!r}:
        os.kill(os.getpid(), signal.SIGKILL)
approve({sub!r}, {rep!r}, store_root={root!r}, registry=Registry(), fault=fault, **kw)
"""


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("kind", ["new", "supersede-move"])
def test_sigkill_after_every_step_never_commits_a_partial_change(board, tmp_path, kind, step):
    s = _scenario(board, tmp_path, kind)
    head = git(board, "rev-parse", "HEAD").strip()
    code = _KILLER.format(tests=str(TESTS), kw=s["kw"], step=step, sub=str(s["sub"]), rep=str(s["rep"]),
                          root=str(board / "leaderboard"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    now = git(board, "rev-parse", "HEAD").strip()
    if now == head:
        return  # nothing committed: the work tree may hold written files, git status shows them
    # a new commit: it must be the whole change
    assert git(board, "rev-parse", "HEAD~1").strip() == head
    changed = set(git(board, "diff", "--name-only", head, now).split())
    eid, setting = s["entry"]["id"], s["entry"]["setting"]
    assert f"leaderboard/entries/{setting['dataset']}/{setting['norm']}/{eid}.json" in changed
    assert "leaderboard/README.md" in changed
    assert any(p.startswith(f"leaderboard/reports/{eid}/") for p in changed)
    if kind == "supersede-move":
        assert "leaderboard/entries/mnist/linf/old-c.json" in changed
    committed = json.loads(git(board, "show", f"{now}:leaderboard/entries/{setting['dataset']}/{setting['norm']}/{eid}.json"))
    assert committed["status"] == "verified"
