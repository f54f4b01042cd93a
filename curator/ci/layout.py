"""Which paths a submission pull request may change, and what each changed path is.

* A researcher's pull request adds ``submissions/<id>.json`` (one claim, ``status: submitted``) and
  nothing else: any other changed path (entries, reports, README, code, docs, templates,
  workflows) fails the submission check and is listed in its comment and ``--format json``.
* ``leaderboard/`` is written only by commits on main (the bot's publish, a maintainer's
  ``curator transition``/``approve``); ``curator diff`` still runs on a PR's entry edits so the
  comment says what they would change, and it refuses claim changes without supersede metadata
  and status moves without a stored report that confirms exactly the claim.
* When a submission is merged, ``publish`` approves it with its re-verification report: the entry
  is written to ``leaderboard/entries/`` (status published, with its history), the report to
  ``leaderboard/reports/`` and the README is re-rendered, all in one commit by the bot.
  ``submissions/<id>.json`` stays as the submitter's record, never edited again: a pull request that
  modifies or deletes an existing submission is refused (a correction is a new submission).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

SUBMISSIONS_DIR = "submissions"
ENTRIES_DIR = "leaderboard/entries"
# Written only by the bot (approve/render); a pull request that edits them is refused.
BOT_ONLY = ("leaderboard/reports/", "leaderboard/README.md")
SLUG = r"[a-z0-9](?:[a-z0-9-]{0,126}[a-z0-9])?"
SUBMISSION_RE = re.compile(rf"^{SUBMISSIONS_DIR}/({SLUG})\.json$")
ENTRY_RE = re.compile(rf"^{ENTRIES_DIR}/{SLUG}/(?:l1|l2|linf)/({SLUG})\.json$")


@dataclass(frozen=True)
class Change:
    path: str
    status: str  # A (added), M (modified), D (deleted), T (type changed)
    kind: str  # submission | entry | bot-only | misplaced | other
    entry_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "kind": self.kind, "id": self.entry_id}


def classify(path: str) -> tuple[str, str | None]:
    """The kind of a repository path (see :class:`Change`) and, for a claim file, its id."""
    if m := SUBMISSION_RE.fullmatch(path):
        return "submission", m.group(1)
    if m := ENTRY_RE.fullmatch(path):
        return "entry", m.group(1)
    if path.startswith(BOT_ONLY) or path in BOT_ONLY:
        return "bot-only", None
    if path.startswith(SUBMISSIONS_DIR + "/") or path.startswith(ENTRIES_DIR + "/"):
        # In the right folder but not named like a claim (nested, upper case, not .json …).
        return "misplaced", None
    return "other", None


def claim_changes(changes: Sequence[Change]) -> list[Change]:
    """Claim files to read: new submissions and added or changed entries."""
    return [c for c in changes if (c.kind == "submission" and c.status == "A")
            or (c.kind == "entry" and c.status != "D")]


def added_submissions(changes: Sequence[Change]) -> list[Change]:
    """The submissions a change adds: what publish approves."""
    return [c for c in changes if c.kind == "submission" and c.status == "A"]
