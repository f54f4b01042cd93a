"""The submission check of a pull request: every claim file it adds validated, the board diffed,
and the comment that says what was refused and why (both read as data, never checked out)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curator.ci.commands import Ran, diff_argv, run, validate_argv
from curator.ci.comments import cell, pre, write_comment, write_outputs
from curator.ci.git import changed_files, extract, git, merge_base, read_blob, resolve
from curator.ci.layout import ENTRIES_DIR, SUBMISSIONS_DIR, Change, claim_changes
from curator.core.jsonio import JsonFileError, loads, read_json
from curator.core.mdsafe import md_code, md_text

# A pull request that touches submissions/ or leaderboard/ is a submission PR: it may add
# submissions/<id>.json and nothing else. Code, docs, templates and workflows change in a
# maintainers' PR of their own, which the submission check never passes.
OUT_OF_SCOPE = ("a submission pull request changes only submissions/<id>.json; "
                "open a separate pull request for anything else")
ENTRY_BY_PR = ("leaderboard/ is written only by the bot's commits on main (curator approve, publish, "
               "transition); a pull request never edits entries — submit a new claim instead")


@dataclass
class FileCheck:
    change: Change
    ok: bool
    messages: list[str] = field(default_factory=list)
    claim: dict[str, str] | None = None


@dataclass
class SubmissionCheck:
    ok: bool
    files: list[FileCheck]
    diff: Ran | None
    markdown: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "files": [{**f.change.as_dict(), "ok": f.ok, "messages": f.messages} for f in self.files],
            "diff_exit": None if self.diff is None else self.diff.returncode,
            "out_of_scope": out_of_scope(self.files),
        }


def out_of_scope(files: Sequence[FileCheck]) -> list[str]:
    """Changed paths that a submission pull request may not touch (anything but submissions/<id>.json)."""
    return [f.change.path for f in files if f.change.kind != "submission"]


def check_submission(repo: Path, base: str, head: str, *, summary_out: Path | None = None,
                     comment_out: Path | None = None) -> SubmissionCheck:
    """Validate every claim file the PR adds or changes, and diff the board (both read as data)."""
    changes = changed_files(repo, base, head)
    claims = claim_changes(changes)
    results = [check for change in changes if (check := _refused_change(change)) is not None]
    results += _checked_claims(repo, head, claims)
    diff = run(diff_argv(merge_base(repo, base, head), resolve(repo, head)), repo) if (claims or any(
        c.kind == "entry" for c in changes)) else None
    ok = all(f.ok for f in results) and (diff is None or diff.ok) and bool(claims or not changes)
    markdown = submission_markdown(results, diff, ok, claims)
    write_outputs(markdown, summary_out)
    if comment_out is not None:
        write_comment(markdown, comment_out)
    return SubmissionCheck(ok, results, diff, markdown)


def _refused_change(change: Change) -> FileCheck | None:
    """The refusal of a change no submission may make (None for a claim file, checked on its own)."""
    if change.kind == "bot-only":
        why = "written by the bot only; remove this change from the pull request"
    elif change.kind == "misplaced":
        why = f"submissions are {SUBMISSIONS_DIR}/<id>.json (id: lowercase letters, digits, '-')"
    elif change.kind == "submission" and change.status != "A":
        why = "a submission is kept as it was merged; submit a new file (a new id) instead of changing it"
    elif change.kind == "entry" and change.status == "D":
        why = "entries are never deleted; dispute or supersede them instead"
    elif change.kind == "other":
        why = OUT_OF_SCOPE
    else:
        return None
    return FileCheck(change, False, [f"{change.path}: {why}"])


def _checked_claims(repo: Path, head: str, claims: list[Change]) -> list[FileCheck]:
    """Each claim file, extracted from git objects, run through ``curator validate`` and the rules
    of its place in the repository."""
    results = []
    with tempfile.TemporaryDirectory(prefix="curator-pr-") as tmp:
        files = extract(repo, head, claims, Path(tmp))
        for change, path in zip(claims, files, strict=True):
            store = repo / "leaderboard"
            ran = run(validate_argv([str(path)], store if store.is_dir() else None), repo)
            rules = _local_rules(repo, head, change)
            if change.kind == "entry":
                rules.append(f"{change.path}: {ENTRY_BY_PR}")
            messages = [m.replace(tmp + os.sep, "") for m in _validate_messages(ran)] + rules
            results.append(FileCheck(change, ran.ok and not rules, messages, _claim_row(path)))
    return results


def _claim_row(path: Path) -> dict[str, str] | None:
    """What the claim says, for the comment's table (any field may be missing or of a wrong type)."""
    try:
        entry = read_json(path)
    except JsonFileError:
        return None
    if not isinstance(entry, dict):
        return None

    def get(*keys: str) -> str:
        node: Any = entry
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return "" if node is None or isinstance(node, (dict, list)) else str(node)[:80]

    return {"paper": get("paper", "title"), "year": get("paper", "year"), "dataset": get("setting", "dataset"),
            "norm": get("setting", "norm"), "radius": get("setting", "radius_text"),
            "certified": get("result", "certified_accuracy"), "verifier": get("certification", "verifier")}


def _validate_messages(ran: Ran) -> list[str]:
    """The problems ``curator validate --format json`` listed (its last output lines when it printed none)."""
    try:
        doc = loads(ran.stdout or "null")
    except JsonFileError:
        doc = None
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "message" in node and isinstance(node["message"], str):
                where = " ".join(str(node[k]) for k in ("file", "pointer") if node.get(k))
                found.append(f"{where}: {node['message']}" if where else node["message"])
            else:
                for value in node.values():
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    if not found and not ran.ok:
        found = [line for line in (ran.stderr or ran.stdout).strip().splitlines()[-20:] if line]
    return found


def _local_rules(repo: Path, head: str, change: Change) -> list[str]:
    """What the schema cannot know: the file's place in the repository."""
    problems = []
    if change.kind == "submission":
        try:
            entry = loads(read_blob(repo, head, change.path).decode("utf-8", errors="replace"), change.path)
        except JsonFileError as exc:
            return [str(exc.problem)]
        if not isinstance(entry, dict):
            return [f"{change.path}: /: a submission is one JSON object"]
        if entry.get("id") != change.entry_id:
            problems.append(f"{change.path}: /id: must equal the file name ({change.entry_id!r})")
        if entry.get("status") != "submitted":
            problems.append(f"{change.path}: /status: a new submission has status \"submitted\"")
        existing = git(repo, "ls-tree", "-r", "--name-only", resolve(repo, head), "--", ENTRIES_DIR).split()
        if any(p.endswith(f"/{change.entry_id}.json") for p in existing):
            problems.append(f"{change.path}: /id: the board already has an entry {change.entry_id!r}; choose a new id")
    return problems


# ---------------------------------------------------------------- the comment (markdown, data escaped)


def submission_markdown(results: list[FileCheck], diff: Ran | None, ok: bool, claims: list[Change]) -> str:
    icon = "✅" if ok else "❌"
    lines = [f"## {icon} curator submission check", ""]
    lines += _scope_lines(out_of_scope(results))
    lines += _file_lines(results) + _claims_table(results) + _diff_lines(diff)
    if ok and claims:
        lines += ["", "Next: a maintainer re-verifies the claim on a GPU runner (label `reverify`); "
                      "the verdict is posted here."]
    return "\n".join(lines) + "\n"


def _scope_lines(beyond: list[str]) -> list[str]:
    if not beyond:
        return []
    lines = [f"**This pull request changes {len(beyond)} file(s) besides submissions/&lt;id&gt;.json**, "
             "which a submission pull request may not do:", ""]
    lines += [f"- {md_code(p)}" for p in beyond[:50]]
    if len(beyond) > 50:
        lines.append(f"- … and {len(beyond) - 50} more")
    return lines + [""]


def _file_lines(results: list[FileCheck]) -> list[str]:
    if not results:
        return ["No submission or leaderboard entry changed."]
    lines = ["| file | change | check |", "| --- | --- | --- |"]
    for f in results:
        lines.append(f"| {md_code(f.change.path)} | {f.change.status} | {'✅ valid' if f.ok else '❌ refused'} |")
    for f in results:
        if f.messages:
            lines += ["", f"<details{'' if f.ok else ' open'}><summary>{md_text(f.change.path, 300)}</summary>",
                      "", pre("\n".join(f.messages)), "</details>"]
    return lines


def _claims_table(results: list[FileCheck]) -> list[str]:
    rows = [f for f in results if f.claim]
    if not rows:
        return []
    lines = ["", "### The claims", "", "| id | paper | setting | certified accuracy | verifier |",
             "| --- | --- | --- | --- | --- |"]
    for f in rows:
        c = f.claim or {}
        setting = f"{cell(c['dataset'])} {cell(c['norm'])} ε={cell(c['radius'])}"
        paper = cell(c["paper"]) + (f" ({cell(c['year'])})" if c["year"] else "")
        lines.append(f"| {md_code(f.change.entry_id)} | {paper} | {setting} | {cell(c['certified'])} % "
                     f"| {cell(c['verifier'])} |")
    return lines


def _diff_lines(diff: Ran | None) -> list[str]:
    if diff is None:
        return []
    lines = ["", "### What this changes on the board", ""]
    if diff.ok:
        lines.append(pre(diff.stdout) if "<" in diff.stdout else (diff.stdout.strip() or "(no change)"))
    else:
        lines += [f"❌ `curator diff` refused this change (exit {diff.returncode}):", "",
                  pre(diff.stderr + "\n" + diff.stdout)]
    return lines
