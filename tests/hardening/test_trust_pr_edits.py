"""PR scope: a pull request edits the board beyond its claim (real git repositories).

Each attack is what a hostile submitter can push: entries, history and reports[] are all files
the PR writes, so the check must refuse them and ``curator diff`` must not believe them.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from boardkit import git, init_board_repo, make_entry, make_report
from curator.board import lifecycle, store
from curator.board.diff import diff
from curator.ci.submission import check_submission
from curator.cli import main
from curator.core.jsonio import dumps, read_json

CURATOR = str(Path(sys.executable).parent / "curator")


def bot_publish(repo: Path, entry: dict) -> dict:
    """What the bot's approve commit holds: the report stored by content, the entry moved
    submitted → verified → published citing it (written with curator's own store/lifecycle)."""
    root = repo / "leaderboard"
    path, sha = store.write_report(root, entry["id"], make_report(entry))
    rel = path.relative_to(root).as_posix()
    e = lifecycle.transition(dict(entry, history=[]), "verified", date="2026-11-30T00:00:00Z", report=rel)
    e = lifecycle.transition(e, "published", date="2026-11-30T00:00:00Z", report=rel)
    e["reports"] = [{"path": rel, "sha256": sha, "verdict": "confirmed", "date": "2026-11-30T00:00:00Z"}]
    store.write_entry(root, e)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"leaderboard: publish {entry['id']}")
    return e


@pytest.fixture
def board(tmp_path):
    repo = init_board_repo(tmp_path / "board")
    published = bot_publish(repo, make_entry("honest-net", certified=60.0))
    git(repo, "checkout", "-q", "-b", "pr")
    return repo, published


def commit_entry(repo: Path, entry: dict, message: str) -> None:
    store.write_entry(repo / "leaderboard", entry)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def problems(repo: Path) -> str:
    result = diff(str(repo), "main..pr")
    assert not result.ok
    return "\n".join(result.problems)


def test_the_bots_own_publish_commit_diffs_clean(board):
    repo, _ = board
    assert diff(str(repo), "main~1..main").ok, diff(str(repo), "main~1..main").problems


def test_a_published_entry_citing_another_entrys_report_is_refused(board):
    repo, honest = board
    fake = make_entry("fake-top", certified=99.0)
    fake.update(status="published", history=copy.deepcopy(honest["history"]),
                reports=copy.deepcopy(honest["reports"]))
    commit_entry(repo, fake, "add a published entry")
    assert "fake-top: cites reports/honest-net/" in problems(repo)
    check = check_submission(repo, "main", "pr")
    assert not check.ok
    assert any(p.endswith("fake-top.json") for p in check.as_dict()["out_of_scope"])


def test_a_legacy_entry_moved_to_published_by_hand_written_history_is_refused(board):
    repo, honest = board
    rel = honest["reports"][0]["path"]
    e = read_json(repo / "leaderboard/entries/cifar10/l2/old-a.json")
    e["status"] = "published"
    e["history"] = [{"status": "verified", "date": "2026-12-01", "report": rel},
                    {"status": "published", "date": "2026-12-01", "report": rel}]
    commit_entry(repo, e, "promote a legacy entry")
    assert "old-a: cites " in problems(repo)
    # Citing a report path that is not stored at all is refused too.
    e["history"] = [{"status": "verified", "date": "2026-12-01", "report": "reports/old-a/" + "c" * 64 + ".json"},
                    {"status": "published", "date": "2026-12-01"}]
    commit_entry(repo, e, "promote with an invented report")
    assert "is not in the store at the head revision" in problems(repo)


def test_a_published_number_raised_with_self_written_supersede_metadata_is_refused(board):
    repo, honest = board
    e = copy.deepcopy(honest)
    e["result"]["certified_accuracy"] = 95.0
    e["history"].append({"status": "published", "date": "2026-12-01", "reason": "better training",
                         "report": honest["reports"][0]["path"], "previous": {"result.certified_accuracy": 60.0,
                                                                               "status": "published"}})
    commit_entry(repo, e, "raise a published number")
    text = problems(repo)
    assert "honest-net: report reports/honest-net/" in text and "not this entry's claim" in text


@pytest.mark.parametrize("field,value", [("sha256", "d" * 64), ("url", "https://evil.example/other.safetensors")])
def test_a_published_entrys_model_cannot_be_re_pointed(board, field, value):
    repo, honest = board
    e = copy.deepcopy(honest)
    e["model"][field] = value
    commit_entry(repo, e, "re-point the model")
    assert f"model.{field}" in problems(repo)
    # ... not even with supersede metadata: the cited report verified the old model.
    e["history"].append({"status": "published", "date": "2026-12-01", "reason": "moved the file",
                         "report": honest["reports"][0]["path"],
                         "previous": {f"model.{field}": honest["model"][field], "status": "published"}})
    commit_entry(repo, e, "re-point with metadata")
    assert "not this entry's claim" in problems(repo)


def test_templates_and_workflows_edited_alongside_a_submission_fail_and_are_listed(board, tmp_path):
    repo, _ = board
    claim = make_entry("new-claim", certified=61.0)
    files = {"submissions/new-claim.json": dumps(claim),
             ".github/workflows/publish.yml": "name: publish\non: push\njobs: {}\n",
             "curator/site/templates/setting.html": "<h1>{{ title|safe }}</h1>\n",
             "docs/[click](https:__evil)`x`.md": "hi\n"}
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a claim, and some other things")
    comment = tmp_path / "c" / "comment.md"
    result = CliRunner().invoke(main, ["ci", "check-submission", "--repo", str(repo), "--base", "main", "--head",
                                       "pr", "--comment-out", str(comment), "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    others = sorted(p for p in files if not p.startswith("submissions/"))
    assert doc["ok"] is False and sorted(doc["out_of_scope"]) == others
    by_path = {f["path"]: f for f in doc["files"]}
    assert all(by_path[p]["ok"] is False and "only submissions/<id>.json" in by_path[p]["messages"][0]
               for p in others)
    md = comment.read_text()
    assert "❌" in md and "changes 3 file(s) besides submissions" in md
    assert "`.github/workflows/publish.yml`" in md and "`curator/site/templates/setting.html`" in md
    rendered = re.sub(r"<pre>.*?</pre>", "", md, flags=re.S)  # GitHub renders no markdown inside <pre>
    assert "[click](" not in rendered and "`x`" not in rendered  # the hostile file name is shown inert
    text = CliRunner().invoke(main, ["ci", "check-submission", "--repo", str(repo), "--base", "main",
                                     "--head", "pr"]).output
    assert ".github/workflows/publish.yml" in text


def test_a_pr_editing_an_entry_is_refused_even_when_diff_would_accept_it(board):
    repo, honest = board
    e = read_json(repo / "leaderboard/entries/cifar10/l2/old-a.json")
    e["paper"]["title"] = "A nicer title"  # legacy claim field: needs supersede; the PR is refused anyway
    commit_entry(repo, e, "retitle")
    check = check_submission(repo, "main", "pr")
    assert not check.ok
    messages = [m for f in check.files for m in f.messages]
    assert any("written only by the bot" in m for m in messages)
    cli = subprocess.run([CURATOR, "diff", "main..pr", "--repo", str(repo)], capture_output=True, text=True)
    assert cli.returncode == 1 and "paper.title" in cli.stderr
