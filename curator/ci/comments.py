"""Markdown for job summaries and pull-request comments: untrusted text shown, never rendered."""

from __future__ import annotations

import os
from pathlib import Path

from curator.core.jsonio import write_text_atomic
from curator.core.mdsafe import md_block, md_text

MAX_COMMENT_CHARS = 60_000  # GitHub refuses comments over 65,536 characters


def pre(text: str, limit: int = 8000) -> str:
    """Untrusted text (validator messages quote submissions) shown verbatim, never as markdown."""
    return md_block(text, limit)


def cell(text: str) -> str:
    """Untrusted text as one table cell (``—`` when empty)."""
    return md_text(text, 80) or "—"


def capped(body: str) -> str:
    if len(body) <= MAX_COMMENT_CHARS:
        return body
    return body[: MAX_COMMENT_CHARS - 40] + "\n\n… (comment truncated)\n"


def write_outputs(markdown: str, out: Path | None) -> None:
    """The summary to ``out`` and, inside GitHub Actions, to the job summary."""
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out, markdown)
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as fh:
            fh.write(markdown + "\n")


def write_comment(markdown: str, out: Path) -> None:
    """The pull-request comment body (cut to what GitHub accepts), uploaded for comment.yml to post."""
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, capped(markdown))
