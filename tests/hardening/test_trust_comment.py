"""Hostile markdown in entry fields: they reach the bot's PR comment; they must be shown, never rendered as
links, images, mentions, HTML, code spans or extra table cells."""

from __future__ import annotations

import re

import pytest

from boardkit import git, init_board_repo, make_entry
from curator.board import store
from curator.board.diff import diff, to_markdown
from curator.ci.submission import check_submission
from curator.ci.verdicts import VerdictRow, verdict_markdown
from curator.core.jsonio import dumps

HOSTILE = ("![pwn](https://evil.example/x.png) [click me](javascript:alert(1)) @octocat @org/team "
           "<img src=x onerror=alert(1)> <a href='https://evil.example'>a</a> a|b `rm -rf` **bold** "
           "www.evil.example mail@evil.example \\[esc\\]\n# heading\r\n| forged | row |")


def assert_inert(md: str) -> None:
    rendered = re.sub(r"<pre>.*?</pre>", "", md, flags=re.S)  # GitHub renders nothing inside <pre>
    for bad in ("](", "![", "<img", "<a ", "`rm -rf`", "**bold**", "://", "www.evil", "\n# heading",
                "| forged | row |", "&#64;"):
        assert bad not in rendered, f"{bad!r} reaches the comment"
    assert not re.search(r"@[A-Za-z0-9]", rendered), "an @-mention reaches the comment"
    # every table keeps its column count: no submitted pipe splits a cell
    for block in re.split(r"\n\s*\n", rendered):
        rows = [r for r in block.splitlines() if r.startswith("|")]
        if rows:
            assert len({r.count("|") for r in rows}) == 1, block


@pytest.mark.parametrize("text", [HOSTILE, "@maintainers", "x" * 5000 + "](u)", "`", "\u202eevil", ""])
def test_md_text_output_is_one_inert_line(text):
    from curator.core.mdsafe import md_text

    out = md_text(text, 200)
    assert "\n" not in out and "\r" not in out and "|" not in out and "`" not in out and "<" not in out
    assert not re.search(r"@[A-Za-z0-9]", out) and "](" not in out and "\u202e" not in out
    assert len(out) < 200 * 8  # capped before escaping


def test_md_code_keeps_plain_ids_as_code_and_escapes_the_rest():
    from curator.core.mdsafe import md_code

    assert md_code("submissions/demo-net.json") == "`submissions/demo-net.json`"
    assert "`" not in md_code("a`b") and "](" not in md_code("[x](y)")


def test_hostile_fields_in_the_submission_check_comment(tmp_path):
    repo = init_board_repo(tmp_path / "board")
    git(repo, "checkout", "-q", "-b", "pr")
    claim = make_entry("hostile-claim", title=HOSTILE)
    claim["setting"]["radius_text"] = "[r](https://evil.example) @octocat"
    claim["setting"]["dataset"] = "![d](https://evil.example/d.png)"
    claim["result"]["certified_accuracy"] = "`99` @octocat"
    claim["certification"]["verifier"] = "<img src=x> | @octocat"
    (repo / "submissions").mkdir()
    (repo / "submissions/hostile-claim.json").write_text(dumps(claim))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "hostile claim")
    out = tmp_path / "comment" / "comment.md"
    result = check_submission(repo, "main", "pr", comment_out=out)
    md = out.read_text()
    assert "### The claims" in md and "hostile-claim" in md
    assert_inert(md)
    assert_inert(result.markdown)


def test_hostile_fields_in_the_diff_markdown(tmp_path):
    repo = init_board_repo(tmp_path / "board")
    git(repo, "checkout", "-q", "-b", "pr")
    e = make_entry("hostile-legacy", status="legacy", model=False, title=HOSTILE, clean=None)
    e["paper"]["url"] = "javascript:alert(1)//https://evil.example"
    e["setting"]["radius_text"] = "0.25 | @octocat ![i](https://evil.example/i.png)"
    e["result"]["certified_accuracy"] = "[99](https://evil.example)"
    store.write_entry(repo / "leaderboard", e)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "hostile legacy import")
    md = to_markdown(diff(str(repo), "main..pr"))
    assert "hostile-legacy" in md and "### New entries" in md
    assert_inert(md)


def test_hostile_verdict_and_summary_in_the_reverify_comment(tmp_path):
    verdicts = [VerdictRow("demo-net", tmp_path / "r.json", "confirmed](https://evil.example) @octocat",
                           {"verifier": {"name": "<img src=x> @octocat [x](https://evil.example)"}})]
    md = verdict_markdown(verdicts, 3)
    assert "demo-net" in md
    assert_inert(md)
