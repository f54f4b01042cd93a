"""What the GitHub workflows do, as plain functions: the one place that holds every command line.

The YAML in ``.github/workflows/`` only calls ``curator ci <step>``; the end-to-end test calls the
same steps on real git repositories. So what is tested is exactly what CI runs.

Where things live:

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

Trust: files from a pull request are read as *data* (``git show`` of blobs at the PR's head), never
checked out and never executed; everything that runs is the base branch's curator.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Sequence

from curator.verify.compute_budget import BudgetError, check_budget
from curator.board.approve import RECORDED_VERDICTS
from curator.core.digest import claim_digest
from curator.core.errors import CuratorError, UsageError
from curator.core.jsonio import JsonFileError, dumps, loads, read_json, write_text_atomic
from curator.core.mdsafe import md_block, md_code, md_text

SUBMISSIONS_DIR = "submissions"
ENTRIES_DIR = "leaderboard/entries"
# Written only by the bot (approve/render); a pull request that edits them is refused.
BOT_ONLY = ("leaderboard/reports/", "leaderboard/README.md")
SLUG = r"[a-z0-9](?:[a-z0-9-]{0,126}[a-z0-9])?"
SUBMISSION_RE = re.compile(rf"^{SUBMISSIONS_DIR}/({SLUG})\.json$")
ENTRY_RE = re.compile(rf"^{ENTRIES_DIR}/{SLUG}/(?:l1|l2|linf)/({SLUG})\.json$")
MAX_BLOB_BYTES = 4 * 1024 * 1024  # same cap as jsonio.read_json: an entry is a few KiB
MAX_CHANGED_FILES = 200
MAX_COMMENT_CHARS = 60_000  # GitHub refuses comments over 65,536 characters
ZERO_SHA = "0" * 40

# A pull request that touches submissions/ or leaderboard/ is a submission PR: it may add
# submissions/<id>.json and nothing else. Code, docs, templates and workflows change in a
# maintainers' PR of their own, which the submission check never passes.
OUT_OF_SCOPE = ("a submission pull request changes only submissions/<id>.json; "
                "open a separate pull request for anything else")
ENTRY_BY_PR = ("leaderboard/ is written only by the bot's commits on main (curator approve, publish, "
               "transition); a pull request never edits entries — submit a new claim instead")

SUBMISSION_MARKER = "<!-- curator:submission-check -->"
REVERIFY_MARKER = "<!-- curator:reverify -->"


class CiError(CuratorError):
    pass


# ---------------------------------------------------------------- the command lines CI runs


def curator_argv(*args: str) -> list[str]:
    """``curator …`` as run by this very interpreter (the workflow's and the test's venv alike)."""
    return [sys.executable, "-m", "curator", *args]


def validate_argv(paths: Sequence[str], store: Path | None = None) -> list[str]:
    """``curator validate``; with the board's store, a ``supersedes`` id it lacks is an error."""
    extra = ["--store", str(store)] if store is not None else []
    return curator_argv("validate", *paths, *extra, "--format", "json")


def diff_argv(base: str, head: str) -> list[str]:
    return curator_argv("diff", f"{base}..{head}", "--format", "markdown")


def verify_argv(entry: str, shard: str, out: str, *, samples: int | None = None, device: str | None = None,
                seed: int | None = None) -> list[str]:
    argv = curator_argv("verify", entry, "--shard", shard, "--out", out, "--format", "json", "--quiet")
    if samples is not None:
        argv += ["--samples", str(samples)]
    if device:
        argv += ["--device", device]
    if seed is not None:
        argv += ["--seed", str(seed)]
    return argv


def merge_reports_argv(reports: Sequence[str], out: str) -> list[str]:
    return curator_argv("merge-reports", *reports, "--out", out)


def approve_argv(entry: str, report: str, pr: int | None, record: bool = False) -> list[str]:
    """``curator approve --publish`` for a confirmed claim; ``--record`` keeps a run that did not confirm."""
    mode = "--record" if record else "--publish"
    argv = curator_argv("approve", entry, "--report", report, mode, "--format", "json")
    if pr is not None:
        argv += ["--pr", str(pr)]
    return argv


def render_check_argv() -> list[str]:
    return curator_argv("render", "--check")


def site_argv(out: str) -> list[str]:
    return curator_argv("site", "--out", out)


@dataclass
class Ran:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def shown(self) -> str:
        """The command line as a person would type it (``curator …``)."""
        if self.argv[1:3] == ["-m", "curator"]:
            return "curator " + shlex.join(self.argv[3:])
        return shlex.join(self.argv)


def run(argv: list[str], cwd: Path, *, echo: bool = True, timeout: float | None = None) -> Ran:
    """Run one command, echo it (CI logs show exactly what ran) and capture its output."""
    # PYTHONSAFEPATH: ``python -m curator`` must import the installed curator, never a ``curator/``
    # folder that happens to lie in the working directory (a pull request can add one).
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    ran = Ran(argv, proc.returncode, proc.stdout, proc.stderr)
    if echo:
        print(f"$ {ran.shown}  -> exit {ran.returncode}", file=sys.stderr)
        if proc.stderr.strip():
            print(proc.stderr.rstrip(), file=sys.stderr)
    return ran


def run_checked(argv: list[str], cwd: Path, what: str) -> Ran:
    ran = run(argv, cwd)
    if not ran.ok:
        detail = (ran.stderr or ran.stdout).strip().splitlines()
        raise CiError(f"{what} failed (exit {ran.returncode}): {detail[-1] if detail else 'no output'}")
    return ran


# ---------------------------------------------------------------- git, read-only


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CiError(f"git {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def resolve(repo: Path, rev: str) -> str:
    if not rev or rev.startswith("-"):
        raise UsageError(f"not a revision: {rev!r}")
    return git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()


def merge_base(repo: Path, base: str, head: str) -> str:
    """Where ``head`` forked from ``base``: comparing against it ignores whatever main did since."""
    return git(repo, "merge-base", resolve(repo, base), resolve(repo, head)).strip()


def push_base(repo: Path, before: str, after: str) -> str:
    """The base of a push event: ``before``, or the first parent when the push created the branch."""
    if not before or before == ZERO_SHA:
        return resolve(repo, f"{after}~1")
    return before


@dataclass(frozen=True)
class Change:
    path: str
    status: str  # A (added), M (modified), D (deleted), T (type changed)
    kind: str  # submission | entry | bot-only | other
    entry_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "status": self.status, "kind": self.kind, "id": self.entry_id}


def classify(path: str) -> tuple[str, str | None]:
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


def changed_files(repo: Path, base: str, head: str) -> list[Change]:
    """Files that ``head`` changes relative to its merge-base with ``base`` (renames split into D+A)."""
    mb = merge_base(repo, base, head)
    out = git(repo, "diff", "--name-status", "-z", "--no-renames", mb, resolve(repo, head), "--")
    parts = out.split("\0")
    changes: list[Change] = []
    for status, path in zip(parts[0::2], parts[1::2]):
        if not status:
            continue
        kind, eid = classify(path)
        changes.append(Change(path, status[0], kind, eid))
    if len(changes) > MAX_CHANGED_FILES:
        raise CiError(f"{len(changes)} files changed; a submission changes at most {MAX_CHANGED_FILES}")
    return changes


def claim_changes(changes: Sequence[Change]) -> list[Change]:
    """Claim files to read: new submissions and added or changed entries."""
    return [c for c in changes if (c.kind == "submission" and c.status == "A")
            or (c.kind == "entry" and c.status != "D")]


def read_blob(repo: Path, rev: str, path: str) -> bytes:
    """A file's bytes at ``rev`` straight from the object store: nothing is checked out."""
    spec = f"{resolve(repo, rev)}:{path}"
    if git(repo, "cat-file", "-t", spec).strip() != "blob":
        raise CiError(f"{path} at {rev} is not a regular file")
    size = int(git(repo, "cat-file", "-s", spec).strip())
    if size > MAX_BLOB_BYTES:
        raise CiError(f"{path} is {size} bytes, over the {MAX_BLOB_BYTES}-byte limit")
    mode = git(repo, "ls-tree", resolve(repo, rev), "--", path).split(" ", 1)[0]
    if mode not in ("100644", "100755"):
        raise CiError(f"{path} at {rev} is not a regular file (mode {mode}); symlinks are refused")
    proc = subprocess.run(["git", "cat-file", "blob", spec], cwd=repo, capture_output=True)
    if proc.returncode != 0:
        raise CiError(f"cannot read {path} at {rev}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def extract(repo: Path, head: str, changes: Sequence[Change], out_dir: Path) -> list[Path]:
    """Write the claim files that ``head`` adds or changes under ``out_dir`` (same relative paths)."""
    written = []
    out_dir.mkdir(parents=True, exist_ok=True)
    root = out_dir.resolve()
    for change in claim_changes(changes):
        rel = PurePosixPath(change.path)
        if rel.is_absolute() or ".." in rel.parts:  # classify() already allows only slugs; belt and braces
            raise CiError(f"refusing path {change.path!r}")
        target = root.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = read_blob(repo, head, change.path)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        written.append(target)
    return written


# ---------------------------------------------------------------- summaries (markdown, data escaped)


def _pre(text: str, limit: int = 8000) -> str:
    """Untrusted text (validator messages quote submissions) shown verbatim, never as markdown."""
    return md_block(text, limit)


def _cap(body: str) -> str:
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


# ---------------------------------------------------------------- submission check (pull_request)


@dataclass
class FileCheck:
    change: Change
    ok: bool
    messages: list[str] = field(default_factory=list)
    claim: dict[str, str] | None = None


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


def _cell(text: str) -> str:
    return md_text(text, 80) or "—"


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


def _validate_messages(ran: Ran) -> list[str]:
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


def check_submission(repo: Path, base: str, head: str, *, summary_out: Path | None = None,
                     comment_out: Path | None = None) -> SubmissionCheck:
    """Validate every claim file the PR adds or changes, and diff the board (both read as data)."""
    changes = changed_files(repo, base, head)
    results: list[FileCheck] = []
    for change in changes:
        if change.kind == "bot-only":
            results.append(FileCheck(change, False, [f"{change.path}: written by the bot only; "
                                                     "remove this change from the pull request"]))
        elif change.kind == "misplaced":
            results.append(FileCheck(change, False, [f"{change.path}: submissions are "
                                                     f"{SUBMISSIONS_DIR}/<id>.json (id: lowercase letters, digits, '-')"]))
        elif change.kind == "submission" and change.status != "A":
            results.append(FileCheck(change, False, [f"{change.path}: a submission is kept as it was merged; "
                                                     "submit a new file (a new id) instead of changing it"]))
        elif change.kind == "entry" and change.status == "D":
            results.append(FileCheck(change, False, [f"{change.path}: entries are never deleted; "
                                                     "dispute or supersede them instead"]))
        elif change.kind == "other":
            results.append(FileCheck(change, False, [f"{change.path}: {OUT_OF_SCOPE}"]))
    claims = claim_changes(changes)
    with tempfile.TemporaryDirectory(prefix="curator-pr-") as tmp:
        files = extract(repo, head, claims, Path(tmp))
        for change, path in zip(claims, files):
            store = repo / "leaderboard"
            ran = run(validate_argv([str(path)], store if store.is_dir() else None), repo)
            rules = _local_rules(repo, head, change)
            if change.kind == "entry":
                rules.append(f"{change.path}: {ENTRY_BY_PR}")
            messages = [m.replace(tmp + os.sep, "") for m in _validate_messages(ran)] + rules
            results.append(FileCheck(change, ran.ok and not rules, messages, _claim_row(path)))
    diff = run(diff_argv(merge_base(repo, base, head), resolve(repo, head)), repo) if (claims or any(
        c.kind == "entry" for c in changes)) else None
    ok = all(f.ok for f in results) and (diff is None or diff.ok) and bool(claims or not changes)
    markdown = _submission_markdown(results, diff, ok, claims)
    write_outputs(markdown, summary_out)
    if comment_out is not None:
        comment_out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(comment_out, _cap(markdown))
    return SubmissionCheck(ok, results, diff, markdown)


def _submission_markdown(results: list[FileCheck], diff: Ran | None, ok: bool, claims: list[Change]) -> str:
    icon = "✅" if ok else "❌"
    lines = [f"## {icon} curator submission check", ""]
    beyond = out_of_scope(results)
    if beyond:
        lines += [f"**This pull request changes {len(beyond)} file(s) besides submissions/&lt;id&gt;.json**, "
                  "which a submission pull request may not do:", ""]
        lines += [f"- {md_code(p)}" for p in beyond[:50]] + ([f"- … and {len(beyond) - 50} more"]
                                                                   if len(beyond) > 50 else []) + [""]
    if not results:
        lines.append("No submission or leaderboard entry changed.")
    else:
        lines += ["| file | change | check |", "| --- | --- | --- |"]
        for f in results:
            lines.append(f"| {md_code(f.change.path)} | {f.change.status} | {'✅ valid' if f.ok else '❌ refused'} |")
        for f in results:
            if f.messages:
                lines += ["", f"<details{'' if f.ok else ' open'}><summary>{md_text(f.change.path, 300)}</summary>",
                          "", _pre("\n".join(f.messages)), "</details>"]
    rows = [f for f in results if f.claim]
    if rows:
        lines += ["", "### The claims", "", "| id | paper | setting | certified accuracy | verifier |",
                  "| --- | --- | --- | --- | --- |"]
        for f in rows:
            c = f.claim or {}
            setting = f"{_cell(c['dataset'])} {_cell(c['norm'])} ε={_cell(c['radius'])}"
            paper = _cell(c["paper"]) + (f" ({_cell(c['year'])})" if c["year"] else "")
            lines.append(f"| {md_code(f.change.entry_id)} | {paper} | {setting} | {_cell(c['certified'])} % "
                         f"| {_cell(c['verifier'])} |")
    if diff is not None:
        lines += ["", "### What this changes on the board", ""]
        if diff.ok:
            lines.append(_pre(diff.stdout) if "<" in diff.stdout else (diff.stdout.strip() or "(no change)"))
        else:
            lines += [f"❌ `curator diff` refused this change (exit {diff.returncode}):", "",
                      _pre(diff.stderr + "\n" + diff.stdout)]
    if ok and claims:
        lines += ["", "Next: a maintainer re-verifies the claim on a GPU runner (label `reverify`); "
                      "the verdict is posted here."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- re-verification (GPU runner)


def parse_shard(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"([1-9][0-9]*)/([1-9][0-9]*)", text or "")
    if not m or int(m.group(1)) > int(m.group(2)):
        raise UsageError(f"--shard must be i/n with 1 ≤ i ≤ n, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def plan(entries_dir: Path, shards: int) -> dict[str, Any]:
    """The job matrix: every extracted claim × every shard (names are slugs, safe in job names).

    Every claim's compute is estimated first (curator.verify.compute_budget); one over the limit fails
    the plan, so no runner is started for a protocol curator would never finish.

    Each claim's run gets one fresh random seed, the same for all its shards (they merge only when
    their seeds agree); nobody knows it before the run, so no model can be trained on its noise."""
    from curator.verify.pipeline import fresh_seed

    if not 1 <= shards <= 64:
        raise UsageError("--shards must be between 1 and 64")
    include, over = [], []
    for path in sorted(entries_dir.rglob("*.json")):
        rel = path.relative_to(entries_dir).as_posix()
        kind, eid = classify(rel)
        if kind not in ("submission", "entry"):
            continue
        try:
            entry = read_json(path)
            check_budget(entry if isinstance(entry, dict) else {}, rel)
        except (BudgetError, JsonFileError) as exc:
            over.append(str(exc))
            continue
        seed = fresh_seed()
        for i in range(1, shards + 1):
            include.append({"entry": rel, "id": eid, "shard": f"{i}/{shards}", "index": i, "seed": seed})
    if over:
        raise CiError("refused before any GPU job starts:\n" + "\n".join(over))
    if not include:
        raise CiError(f"no claim files under {entries_dir}")
    return {"include": include}


SMOKE_TAG = ".smoke"  # in the file name of every report of a --samples run: it can never publish


def shard_report_name(entry_id: str, shard: str, smoke: bool = False) -> str:
    i, n = parse_shard(shard)
    return f"{entry_id}{SMOKE_TAG if smoke else ''}.shard-{i}-of-{n}.json"


def reverify_shard(repo: Path, entry: Path, shard: str, out: Path, *, samples: int | None = None,
                   device: str | None = None, seed: int | None = None) -> Ran:
    parse_shard(shard)
    out.parent.mkdir(parents=True, exist_ok=True)
    return _run_for_report(verify_argv(str(entry), shard, str(out), samples=samples, device=device, seed=seed),
                           repo, out, "curator verify")


def _run_for_report(argv: list[str], repo: Path, out: Path, what: str) -> Ran:
    """Run a command that writes a report to ``out``. Exit 1 with a fresh report is a verdict (refuted,
    unconfirmed …), not a failure: the merge and the comment still need it."""
    out.unlink(missing_ok=True)
    ran = run(argv, repo)
    if ran.ok or (ran.returncode == 1 and out.is_file()):
        return ran
    detail = (ran.stderr or ran.stdout).strip().splitlines()
    raise CiError(f"{what} failed (exit {ran.returncode}): {detail[-1] if detail else 'no output'}")


@dataclass
class Verdict:
    entry_id: str
    report: Path
    verdict: str
    summary: dict[str, Any]


def _report_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The part of a report (report.schema.json) a reviewer reads first."""
    keep: dict[str, Any] = {}
    entry = report.get("entry") or {}
    if "claimed_certified_accuracy" in entry:
        keep["claimed_certified_accuracy"] = entry["claimed_certified_accuracy"]
    for key in ("certified_accuracy", "clean_accuracy", "totals", "verdict"):
        if key in report:
            keep[key] = report[key]
    verifier = report.get("verifier") or {}
    if verifier:
        keep["verifier"] = {k: verifier.get(k) for k in ("name", "version", "params")}
    if "environment" in report:
        keep["device"] = (report["environment"] or {}).get("device")
    return keep


def verdict_status(report: Any) -> str:
    verdict = report.get("verdict") if isinstance(report, dict) else None
    status = verdict.get("status") if isinstance(verdict, dict) else verdict
    return status if isinstance(status, str) else "error"


def merge(repo: Path, reports_dir: Path, out_dir: Path, *, comment_out: Path | None = None,
          summary_out: Path | None = None, pr: int | None = None) -> list[Verdict]:
    """Merge each claim's shard reports into ``out_dir/<id>.json`` and write the verdict comment."""
    by_entry: dict[str, list[Path]] = {}
    for path in sorted(reports_dir.rglob("*.shard-*-of-*.json")):
        m = re.fullmatch(rf"({SLUG}(?:{re.escape(SMOKE_TAG)})?)\.shard-([0-9]+)-of-([0-9]+)\.json", path.name)
        if m:
            by_entry.setdefault(m.group(1), []).append(path)
    if not by_entry:
        raise CiError(f"no shard reports (<id>.shard-<i>-of-<n>.json) under {reports_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    verdicts = []
    for entry_id, parts in sorted(by_entry.items()):
        out = out_dir / f"{entry_id}.json"
        _run_for_report(merge_reports_argv([str(p) for p in parts], str(out)), repo, out,
                        f"curator merge-reports ({entry_id})")
        report = read_json(out)
        verdicts.append(Verdict(entry_id, out, verdict_status(report), _report_summary(report)))
    markdown = _verdict_markdown(verdicts, pr)
    write_outputs(markdown, summary_out)
    if comment_out is not None:
        comment_out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(comment_out, _cap(markdown))
        if pr is not None:
            write_text_atomic(comment_out.parent / "pr-number.txt", f"{pr}\n")
    return verdicts


_ICONS = {"confirmed": "✅", "unconfirmed": "⚠️", "refuted": "❌", "error": "💥"}


def _verdict_markdown(verdicts: list[Verdict], pr: int | None) -> str:
    lines = ["## curator re-verification", ""]
    lines += ["| claim | verdict |", "| --- | --- |"]
    for v in verdicts:
        smoke = " (smoke run: cannot publish)" if v.entry_id.endswith(SMOKE_TAG) else ""
        lines.append(f"| {md_code(v.entry_id)} | {_ICONS.get(v.verdict, '❔')} {md_text(v.verdict)}{smoke} |")
    for v in verdicts:
        lines += ["", f"<details><summary>{md_text(v.entry_id)}: report summary</summary>", "",
                  _pre(dumps(v.summary)), "</details>"]
    if any(v.entry_id.endswith(SMOKE_TAG) for v in verdicts):
        lines += ["", "Smoke run (`samples` > 0): these reports never publish; run reverify with samples 0 "
                      "(the claim's full protocol) before merging."]
    elif all(v.verdict == "confirmed" for v in verdicts):
        lines += ["", "All claims confirmed: on merge, the bot publishes them with this report."]
    else:
        lines += ["", "Only confirmed claims can be published; merging this PR publishes nothing for the others."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- publish (push to main)


@dataclass
class Published:
    entry_id: str
    report: Path
    commit: str
    action: str = "published"  # or "recorded": a full run that did not confirm (approve --record)


def publish(repo: Path, base: str, head: str, reports_dir: Path, *, pr: int | None = None,
            site_out: Path | None = None) -> list[Published]:
    """Approve every submission that ``base..head`` added, each with ``reports_dir/<id>.json``.

    A report whose per-sample arrays give ``unconfirmed`` or ``refuted`` (on the claim's full
    protocol) is recorded (``approve --record``): the claim goes in as ``submitted`` with that report,
    so the board shows curator's measurement; only a confirmed claim is published.

    ``curator approve`` refuses a report that does not belong to exactly this claim (entry and
    model digests) or does not say ``confirmed``; nothing is committed for a refused claim. The
    board is then checked to be rendered and, with ``site_out``, the static site is built.
    """
    changes = [c for c in changed_files(repo, base, head) if c.kind == "submission" and c.status == "A"]
    if git(repo, "status", "--porcelain", "--untracked-files=no").strip():
        raise CiError("the work tree has uncommitted changes; publish starts from a clean checkout")
    published: list[Published] = []
    for change in changes:
        report = reports_dir / f"{change.entry_id}.json"
        if not report.is_file():
            raise CiError(f"no re-verification report for {change.entry_id} ({report}): "
                          "run the reverify workflow on the pull request before merging")
        entry = read_json(repo / change.path)
        record = _report_verdict(report) in RECORDED_VERDICTS
        _check_report_binding(entry, report, publishing=not record)
        run_checked(approve_argv(change.path, str(report), pr, record=record), repo,
                    f"curator approve ({change.entry_id})")
        published.append(Published(change.entry_id, report, resolve(repo, "HEAD"),
                                   "recorded" if record else "published"))
    if published:
        run_checked(render_check_argv(), repo, "curator render --check")
    if site_out is not None:
        run_checked(site_argv(str(site_out)), repo, "curator site")
    return published


def _report_verdict(report_path: Path) -> str | None:
    """The verdict the report's own per-sample arrays give (never the one it states)."""
    from curator.board.reverification import recomputed

    try:
        return recomputed(read_json(report_path))["verdict"]["status"]
    except (CuratorError, KeyError, TypeError, ValueError):
        return None


def _check_report_binding(entry: dict[str, Any], report_path: Path, publishing: bool = True) -> None:
    """Fail early, with a message naming both digests, when a report is for another claim, and with
    every reason when the report cannot publish it (curator.board.publication: smoke runs, too few
    samples, weak protocol, numbers that its samples do not give)."""
    from curator.board.publication import publication_problems

    report = read_json(report_path)
    want = claim_digest(entry)
    got = ((report.get("entry") or {}).get("sha256")) if isinstance(report, dict) else None
    if got != want:
        raise CiError(f"{report_path}: /entry/sha256: report is for claim {got}, not {want} "
                      f"({entry.get('id')}); re-run reverify on the merged version")
    if not publishing:
        # Not confirmed: it can only be recorded, and only as a full, honest run of this claim.
        from curator.board.reverification import report_problems

        problems = report_problems(entry, report)
        if problems:
            raise CiError(f"{report_path}: the report cannot publish {entry.get('id')} (not confirmed) and cannot be "
                          "recorded either:\n  " + "\n  ".join(problems))
        return
    problems = publication_problems(entry, report)
    if problems:
        raise CiError(f"{report_path}: the report cannot publish {entry.get('id')}:\n  " + "\n  ".join(problems))
