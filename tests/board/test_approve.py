"""`curator approve` on real git repositories in temp dirs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from boardkit import git, init_board_repo, make_entry, make_report, repo_state, write
from curator.api.registry import Registry
from curator.board import git_transaction
from curator.board.approve import ApprovalRefused, approve
from curator.board.git_transaction import STEPS, InjectedFault
from curator.core.jsonio import read_json, sha256_file

NO_PLUGINS = Registry()


@pytest.fixture
def board(tmp_path):
    return init_board_repo(tmp_path / "board")


def _files(tmp_path, entry, report):
    return write(tmp_path / "sub" / f"{entry['id']}.json", entry), write(tmp_path / "sub" / "report.json", report)


def _approve(board, sub, rep, **kw):
    kw.setdefault("registry", NO_PLUGINS)
    return approve(sub, rep, store_root=board / "leaderboard", **kw)


def test_approve_makes_exactly_one_commit_with_entry_report_and_readme(board, tmp_path, monkeypatch):
    monkeypatch.setenv("CURATOR_BOT_NAME", "board-bot")
    monkeypatch.setenv("CURATOR_BOT_EMAIL", "bot@example.org")
    entry = make_entry("demo-net-l2", certified=65.0)
    sub, rep = _files(tmp_path, entry, make_report(entry))
    head = git(board, "rev-parse", "HEAD").strip()
    readme_before = (board / "leaderboard/README.md").read_text()

    result = _approve(board, sub, rep, pr=42)

    assert result.action == "add" and result.status == "verified"
    assert git(board, "rev-list", "--count", f"{head}..HEAD").strip() == "1"
    assert git(board, "rev-parse", "HEAD~1").strip() == head
    assert result.commit == git(board, "rev-parse", "HEAD").strip()
    changed = sorted(git(board, "diff", "--name-only", head, "HEAD").split())
    report_rel = f"leaderboard/reports/demo-net-l2/{sha256_file(result.report_path)}.json"
    assert changed == sorted(["leaderboard/README.md", "leaderboard/entries/cifar10/l2/demo-net-l2.json", report_rel])
    assert git(board, "log", "-1", "--format=%an <%ae>|%cn|%s").strip() == (
        "board-bot <bot@example.org>|board-bot|"
        "leaderboard: add demo-net-l2 (cifar10 l2 ε=0.25) — verified (PR #42)")
    assert git(board, "status", "--porcelain").strip() == ""
    stored = read_json(board / "leaderboard/entries/cifar10/l2/demo-net-l2.json")
    assert stored["status"] == "verified"
    assert stored["provenance"]["pr"] == 42
    assert [h["status"] for h in stored["history"]] == ["verified"]
    assert stored["history"][0]["report"] == report_rel.removeprefix("leaderboard/")
    assert stored["reports"][0]["verdict"] == "confirmed"
    readme = (board / "leaderboard/README.md").read_text()
    assert readme != readme_before and "65" in readme


def test_publish_records_two_moves(board, tmp_path):
    entry = make_entry("pub-net")
    sub, rep = _files(tmp_path, entry, make_report(entry))
    result = _approve(board, sub, rep, publish=True)
    stored = read_json(result.entry_path)
    assert stored["status"] == "published"
    assert [h["status"] for h in stored["history"]] == ["verified", "published"]
    assert "— published" in git(board, "log", "-1", "--format=%s")


def test_other_staged_work_is_left_out_of_the_commit(board, tmp_path):
    (board / "notes.txt").write_text("staged edit\n")
    git(board, "add", "notes.txt")
    entry = make_entry()
    sub, rep = _files(tmp_path, entry, make_report(entry))
    _approve(board, sub, rep)
    assert "notes.txt" not in git(board, "show", "--name-only", "--format=", "HEAD")
    assert git(board, "status", "--porcelain").strip() == "M  notes.txt"


def _refusal_cases():
    def wrong_digest(e, r):
        r["entry"]["sha256"] = "f" * 64

    def changed_claim(e, r):
        e["result"]["certified_accuracy"] = 70.0  # claim edited after verification: digest no longer matches

    def wrong_model(e, r):
        r["model"]["sha256"] = "a" * 64

    def wrong_verifier(e, r):
        r["verifier"]["name"] = "ibp"

    def wrong_params(e, r):
        r["verifier"]["params"]["sigma"] = 0.5

    def not_confirmed(e, r):
        r["verdict"]["status"] = "unconfirmed"

    def refuted(e, r):
        r["verdict"]["status"] = "refuted"

    def schema_invalid(e, r):
        del r["totals"]

    def invalid_entry(e, r):
        e["setting"]["norm"] = "l7"

    return {"wrong digest": (wrong_digest, "digest"), "changed claim": (changed_claim, "digest"),
            "wrong model": (wrong_model, "model.sha256"), "wrong verifier": (wrong_verifier, "verifier"),
            "wrong params": (wrong_params, "sigma"), "unconfirmed": (not_confirmed, "unconfirmed"),
            "refuted": (refuted, "refuted"), "schema-invalid report": (schema_invalid, "/totals"),
            "invalid entry": (invalid_entry, "/setting/norm")}


@pytest.mark.parametrize("case", sorted(_refusal_cases()))
def test_refused_approvals_leave_the_repository_untouched(board, tmp_path, case):
    mutate, expect = _refusal_cases()[case]
    entry = make_entry()
    report = make_report(entry)
    mutate(entry, report)
    sub, rep = _files(tmp_path, entry, report)
    before = repo_state(board)
    with pytest.raises(ApprovalRefused) as info:
        _approve(board, sub, rep)
    assert expect in str(info.value)
    assert repo_state(board) == before


def test_dirty_touched_path_is_refused(board, tmp_path):
    readme = board / "leaderboard/README.md"
    readme.write_text(readme.read_text() + "\nlocal edit\n")
    entry = make_entry()
    sub, rep = _files(tmp_path, entry, make_report(entry))
    before = repo_state(board)
    with pytest.raises(ApprovalRefused, match="uncommitted changes.*README.md"):
        _approve(board, sub, rep)
    assert repo_state(board) == before


@pytest.mark.parametrize("step", STEPS)
def test_failure_after_any_step_restores_everything(board, tmp_path, step):
    entry = make_entry()
    sub, rep = _files(tmp_path, entry, make_report(entry))
    (board / "notes.txt").write_text("staged edit\n")
    git(board, "add", "notes.txt")
    before = repo_state(board)

    def fault(s):
        if s == step:
            raise InjectedFault(s)

    with pytest.raises(InjectedFault):
        _approve(board, sub, rep, fault=fault)
    assert repo_state(board) == before


def test_fault_env_hook_works_only_under_pytest(board, tmp_path, monkeypatch):
    entry = make_entry()
    sub, rep = _files(tmp_path, entry, make_report(entry))
    before = repo_state(board)
    monkeypatch.setenv("CURATOR_FAULT_AFTER", "ref-updated")
    with pytest.raises(InjectedFault):
        _approve(board, sub, rep)
    assert repo_state(board) == before
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    assert _approve(board, sub, rep).commit


@pytest.mark.parametrize("lock", [".git/refs/heads/main.lock", ".git/index.lock"])
def test_git_error_mid_commit_rolls_back(board, tmp_path, lock):
    # Real git failures: a held branch lock makes moving the branch fail (after the commit object
    # exists); a held index lock makes updating the index fail (after the branch moved).
    entry = make_entry()
    sub, rep = _files(tmp_path, entry, make_report(entry))
    (board / lock).write_text("")
    before = repo_state(board)
    with pytest.raises(Exception) as info:
        _approve(board, sub, rep)
    assert "rolled back" in str(info.value) or "lock" in str(info.value)
    assert repo_state(board) == before
    (board / lock).unlink()
    assert _approve(board, sub, rep).commit


def test_published_number_needs_supersede_and_history_keeps_old_value(board, tmp_path):
    entry = make_entry("net-x", certified=60.0)
    sub, rep = _files(tmp_path, entry, make_report(entry))
    first = _approve(board, sub, rep, publish=True)
    assert read_json(first.entry_path)["status"] == "published"

    better = make_entry("net-x", certified=62.5)
    sub2, rep2 = _files(tmp_path / "second", better, make_report(better))
    before = repo_state(board)
    with pytest.raises(ApprovalRefused, match="published.*certified_accuracy.*--supersede"):
        _approve(board, sub2, rep2)
    with pytest.raises(ApprovalRefused, match="--reason"):
        _approve(board, sub2, rep2, supersede=True)
    assert repo_state(board) == before

    result = _approve(board, sub2, rep2, supersede=True, reason="authors re-trained with a larger n", publish=True)
    stored = read_json(result.entry_path)
    assert stored["result"]["certified_accuracy"] == 62.5
    assert stored["status"] == "published"
    last = stored["history"][-1]
    assert last["reason"] == "authors re-trained with a larger n"
    assert last["previous"]["result.certified_accuracy"] == 60.0
    assert last["previous"]["status"] == "published"
    assert [h["status"] for h in stored["history"]] == ["verified", "published", "published"]
    assert len(stored["reports"]) == 2
    assert git(board, "log", "-1", "--format=%s").startswith("leaderboard: supersede net-x")


def test_legacy_entry_is_re_verified_when_a_report_confirms_it(board, tmp_path):
    legacy = read_json(board / "leaderboard/entries/cifar10/l2/old-b.json")
    claim = make_entry("old-b", certified=legacy["result"]["certified_accuracy"], clean=None, year=2020)
    claim["paper"] = legacy["paper"]
    claim["training"] = legacy["training"]
    sub, rep = _files(tmp_path, claim, make_report(claim))
    result = _approve(board, sub, rep)
    stored = read_json(result.entry_path)
    assert result.action == "re-verify"
    assert stored["status"] == "verified"
    assert stored["history"][-1]["status"] == "verified"
    assert "re-verify old-b" in git(board, "log", "-1", "--format=%s")

    # the same report again changes nothing and commits nothing
    head = git(board, "rev-parse", "HEAD")
    again = _approve(board, sub, rep)
    assert again.action == "unchanged" and again.commit is None
    assert git(board, "rev-parse", "HEAD") == head


def test_legacy_number_change_needs_supersede(board, tmp_path):
    claim = make_entry("old-a", certified=58.0, clean=None)
    sub, rep = _files(tmp_path, claim, make_report(claim))
    with pytest.raises(ApprovalRefused, match="legacy.*--supersede"):
        _approve(board, sub, rep)


def test_symlink_inside_store_is_refused(board, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (board / "leaderboard/entries/svhn").symlink_to(outside, target_is_directory=True)
    entry = make_entry(dataset="svhn")
    sub, rep = _files(tmp_path, entry, make_report(entry))
    with pytest.raises(ApprovalRefused, match="escapes the store"):
        _approve(board, sub, rep)
    assert list(outside.iterdir()) == []
    # a link that stays inside the store is refused too: it would alias another setting's entries
    (board / "leaderboard/entries/svhn").unlink()
    (board / "leaderboard/entries/svhn").symlink_to(board / "leaderboard/entries/cifar10", target_is_directory=True)
    before = repo_state(board)
    with pytest.raises(ApprovalRefused, match="symbolic link"):
        _approve(board, sub, rep)
    assert repo_state(board) == before


def test_no_commit_writes_files_only(board, tmp_path):
    entry = make_entry()
    sub, rep = _files(tmp_path, entry, make_report(entry))
    head = git(board, "rev-parse", "HEAD")
    result = _approve(board, sub, rep, commit=False)
    assert result.commit is None
    assert git(board, "rev-parse", "HEAD") == head
    status = git(board, "status", "--porcelain", "--untracked-files=all")
    assert " M leaderboard/README.md" in status and "?? leaderboard/entries/cifar10/l2/demo-net-l2.json" in status


def test_cli_approve_json_and_refusal(board, tmp_path):
    entry = make_entry()
    sub, rep = _files(tmp_path, entry, make_report(entry, verdict="unconfirmed"))
    env = dict(os.environ, CURATOR_PLUGINS="no-plugin-loaded")
    cmd = [str(Path(sys.executable).parent / "curator"), "approve", str(sub), "--report", str(rep), "--store", "leaderboard",
           "--format", "json"]
    before = repo_state(board)
    bad = subprocess.run(cmd, cwd=board, env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "not 'confirmed'" in bad.stderr and "Traceback" not in bad.stderr
    assert repo_state(board) == before
    write(rep, make_report(entry))
    ok = subprocess.run(cmd + ["--pr", "7"], cwd=board, env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["action"] == "add" and out["commit"] == git(board, "rev-parse", "HEAD").strip()
    assert out["message"].endswith("(PR #7)")


def test_steps_are_documented():
    for step in STEPS:
        assert step in git_transaction.__doc__ or step in open(git_transaction.__file__).read()


def test_duplicate_of_another_stored_entry_is_refused(board, tmp_path):
    legacy = read_json(board / "leaderboard/entries/cifar10/l2/old-b.json")
    dup = make_entry("old-b-again", certified=61.0, clean=None, year=2020)
    dup["paper"] = legacy["paper"]
    dup["training"] = legacy["training"]
    sub, rep = _files(tmp_path, dup, make_report(dup))
    before = repo_state(board)
    with pytest.raises(ApprovalRefused, match="duplicate of .*old-b.json"):
        _approve(board, sub, rep)
    assert repo_state(board) == before


def test_concurrent_change_is_refused_by_the_lock(board, tmp_path):
    entry = make_entry()
    sub, rep = _files(tmp_path, entry, make_report(entry))
    lock = board / ".git" / git_transaction.LOCK_NAME
    lock.write_text("12345\n")
    before = repo_state(board)
    with pytest.raises(ApprovalRefused, match="another curator store change"):
        _approve(board, sub, rep)
    assert repo_state(board) == before
    lock.unlink()
    assert _approve(board, sub, rep).commit
    assert not lock.exists()


@pytest.mark.parametrize("fail_after", [None, "old-entry-removed", "index-updated"])
def test_supersede_that_changes_the_setting_moves_the_file(board, tmp_path, fail_after):
    legacy = read_json(board / "leaderboard/entries/mnist/linf/old-c.json")
    claim = make_entry("old-c", dataset="mnist", norm="l2", radius_text="1.58", certified=80.0, clean=None,
                       year=2018)
    claim["paper"] = legacy["paper"]
    sub, rep = _files(tmp_path, claim, make_report(claim))
    before = repo_state(board)

    def fault(step):
        if step == fail_after:
            raise InjectedFault(step)

    if fail_after:
        with pytest.raises(InjectedFault):
            _approve(board, sub, rep, supersede=True, reason="the paper's table is l2 at 1.58", fault=fault)
        assert repo_state(board) == before
        return
    result = _approve(board, sub, rep, supersede=True, reason="the paper's table is l2 at 1.58")
    assert not (board / "leaderboard/entries/mnist/linf/old-c.json").exists()
    assert result.entry_path.endswith("entries/mnist/l2/old-c.json")
    stored = read_json(result.entry_path)
    assert stored["history"][-1]["previous"]["setting.norm"] == "linf"
    assert stored["history"][-1]["previous"]["setting.radius_text"] == "0.1"
    show = git(board, "show", "--name-status", "--no-renames", "--format=", "HEAD")
    assert "D\tleaderboard/entries/mnist/linf/old-c.json" in show
    assert "A\tleaderboard/entries/mnist/l2/old-c.json" in show
    assert git(board, "status", "--porcelain").strip() == ""
