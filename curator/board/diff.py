"""``curator diff BASE..HEAD``: what a pull request changes on the board, for its comment.

The comparison starts from ``git merge-base BASE HEAD``, not from BASE itself: when main has moved
on since the PR branched, comparing with main's tip would list main's newer entries as removed
by the PR. Entries are read from the commits' trees (never from the work tree), so the diff is
exactly what the two revisions contain.

Reported: new entries, removed entries, changed numbers (certified/clean accuracy, radius,
dataset, norm), other changed claim fields, status changes, and rank moves per setting (rank =
1 + the number of entries in the setting with a strictly higher certified accuracy; refuted
entries are not ranked).

Refused (``DiffResult.problems``; the command exits 1 naming each):

* any claim field (every leaf but status/history/reports: numbers, model sha256 and url, paper …)
  of an entry the board already shows (status in :data:`curator.board.lifecycle.PROTECTED_STATUSES`)
  changed without supersede metadata: a new history item with a ``reason`` and ``previous``
  holding every changed leaf's old value (a legacy entry re-verified may add fields, not change
  numbers);
* history items edited or removed (history is append-only), a move the lifecycle does not allow,
  a dispute/refute without a reason, a status change not recorded in history;
* a move to verified/published (supersedes included) whose history item does not cite a report
  that is stored in the head tree and confirms the entry as it is at head
  (:mod:`curator.board.diff_reports`: content-addressed path of this entry, ``entry.sha256`` = the claim
  digest, same model sha256, verdict confirmed) — history metadata written by hand proves nothing;
* a report cited in history or added to ``reports[]`` that is missing or another entry's;
  ``reports[]`` losing items;
* a new entry that claims ``verified``/``published`` without such a report;
* a protected entry deleted (refute it instead).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from curator.board import lifecycle
from curator.board.diff_reports import StoredReports, binding_problem, cited_report
from curator.core.errors import CuratorError, UsageError
from curator.core.jsonio import MAX_JSON_BYTES, JsonFileError, loads
from curator.core.mdsafe import md_code, md_text

CONFIRMED_STATUSES = ("verified", "published")


@dataclass
class DiffResult:
    base: str
    head: str
    merge_base: str
    new: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    status: list[dict[str, Any]] = field(default_factory=list)
    ranks: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"base": self.base, "head": self.head, "merge_base": self.merge_base, "ok": self.ok,
                "new": self.new, "removed": self.removed, "changed": self.changed, "status_changes": self.status,
                "rank_moves": self.ranks, "problems": self.problems}


def parse_range(spec: str) -> tuple[str, str]:
    if "..." in spec:
        base, head = spec.split("...", 1)
    elif ".." in spec:
        base, head = spec.split("..", 1)
    else:
        raise UsageError(f"revision range {spec!r} is not BASE..HEAD")
    if not base or not head:
        raise UsageError(f"revision range {spec!r} needs both BASE and HEAD")
    return base, head


def entries_at(repo: Any, rev: str, store: str) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """``id → entry`` for every ``<store>/entries/*/*/*.json`` in ``rev``'s tree, and the set of
    report paths (relative to the store) present there."""
    commit = repo.commit(rev)
    try:
        tree = commit.tree / store if store not in ("", ".") else commit.tree
    except KeyError:
        return {}, set()
    entries: dict[str, dict[str, Any]] = {}
    reports: set[str] = set()
    for item in tree.traverse():
        if item.type != "blob":
            continue
        rel = PurePosixPath(item.path).relative_to(tree.path) if tree.path else PurePosixPath(item.path)
        parts = rel.parts
        if len(parts) == 3 and parts[0] == "reports":
            reports.add(rel.as_posix())
            continue
        if len(parts) != 4 or parts[0] != "entries" or not parts[3].endswith(".json"):
            continue
        name = f"{rev}:{item.path}"
        if item.mode & 0o170000 == 0o120000:
            raise CuratorError(f"{name}: a symbolic link in the store")
        if item.size > MAX_JSON_BYTES:
            raise CuratorError(f"{name}: {item.size} bytes, over the {MAX_JSON_BYTES}-byte limit")
        try:
            doc = loads(item.data_stream.read().decode("utf-8"), name)
        except (UnicodeDecodeError, JsonFileError) as exc:
            raise CuratorError(f"{name}: unreadable entry: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
            raise CuratorError(f"{name}: not an entry (no id)")
        if doc["id"] in entries:
            raise CuratorError(f"{name}: entry id {doc['id']} appears twice")
        entries[doc["id"]] = doc
    return entries, reports


def setting_key(e: dict[str, Any]) -> tuple[str, str, float]:
    s = e.get("setting", {})
    return (str(s.get("dataset")), str(s.get("norm")), float(s.get("radius") or 0.0))


def setting_label(e: dict[str, Any]) -> str:
    s = e.get("setting", {})
    return f"{s.get('dataset')} {s.get('norm')} ε={s.get('radius_text')}"


def ranks(entries: dict[str, dict[str, Any]]) -> dict[str, tuple[tuple, int]]:
    """``id → (setting, rank)``; competition ranking by certified accuracy, refuted entries unranked."""
    by_setting: dict[tuple, list[tuple[float, str]]] = {}
    for eid, e in entries.items():
        if e.get("status") == "refuted":
            continue
        acc = e.get("result", {}).get("certified_accuracy")
        if isinstance(acc, (int, float)):
            by_setting.setdefault(setting_key(e), []).append((float(acc), eid))
    out = {}
    for key, rows in by_setting.items():
        for acc, eid in rows:
            out[eid] = (key, 1 + sum(1 for other, _ in rows if other > acc))
    return out


def _supersede_problems(eid: str, old: dict[str, Any], new: dict[str, Any], changed: dict[str, Any]) -> list[str]:
    """Every changed claim leaf must have its old value in a new supersede item's ``previous``."""
    added = new.get("history", [])[len(old.get("history", [])):]
    items = lifecycle.supersede_items(added)
    missing = []
    for path, value in changed.items():
        if not any(path in item["previous"] and item["previous"][path] == value for item in items):
            missing.append(f"{path} {value!r} → {lifecycle.claim_leaves(new).get(path)!r}")
    if not missing:
        return []
    what = "numbers" if all(p in lifecycle.NUMBER_FIELDS for p in changed) else "claim fields"
    return [f"{eid}: {old.get('status')} {what} changed without supersede metadata (a new history item with "
            f"reason and previous values): {', '.join(missing)}"]


def _confirming_items(history: list[Any]) -> list[dict[str, Any]]:
    return [h for h in history if isinstance(h, dict) and h.get("status") in CONFIRMED_STATUSES]


def _claim_change_problems(eid: str, old: dict[str, Any], new: dict[str, Any], changed: dict[str, Any]) -> list[str]:
    """A protected entry's claim changes only by a supersede, or (legacy → verified) by a re-verification
    that keeps the numbers and adds what the import lacked; either way a stored report must confirm
    the new claim (checked with the history)."""
    added = new.get("history", [])[len(old.get("history", [])):]
    numbers = {k: v for k, v in changed.items() if k in lifecycle.NUMBER_FIELDS}
    if old.get("status") == "legacy" and _confirming_items(added):
        if not numbers:
            return []
        # Re-verified and then superseded within the range: the re-verification may complete the
        # import's fields (approve allows that); changed numbers need a supersede's previous values.
        changed = numbers
    return _supersede_problems(eid, old, new, changed) if changed else []


def _history_problems(eid: str, old: dict[str, Any], new: dict[str, Any], reports: StoredReports) -> list[str]:
    """The added history items: allowed moves, a reason where a person decided, and every cited report
    stored and of this entry; the last confirming item's report must confirm the entry as it is now."""
    old_hist, new_hist = old.get("history", []), new.get("history", [])
    if new_hist[: len(old_hist)] != old_hist:
        return [f"{eid}: history items were edited or removed (history is append-only)"]
    added = new_hist[len(old_hist):]
    if any(not isinstance(item, dict) for item in added):
        return [f"{eid}: a history item is not an object"]
    state = old.get("status")
    for item in added:
        target = item.get("status")
        superseding = bool(item.get("reason")) and isinstance(item.get("previous"), dict)
        if superseding and state in lifecycle.PROTECTED_STATUSES and target in CONFIRMED_STATUSES \
                and state != "refuted":
            state = target
            continue
        if not lifecycle.allowed(state, target):
            return [f"{eid}: history moves {state} → {target}, which the lifecycle does not allow"]
        if (state, target) in lifecycle.NEEDS_REASON and not str(item.get("reason") or "").strip():
            return [f"{eid}: history moves {state} → {target} without a reason"]
        state = target
    if state != new.get("status"):
        return [f"{eid}: status {old.get('status')} → {new.get('status')} is not recorded in history"]
    problems = [p for item in added if item.get("report") is not None
                for p in [_cited_problem(eid, item.get("report"), reports)] if p]
    confirming = _confirming_items(added)
    if confirming and not problems:
        last = binding_problem(eid, new, confirming[-1].get("report"), reports, confirming=True)
        problems += [last] if last else []
    return problems


def _cited_problem(eid: str, rel: Any, reports: StoredReports) -> str | None:
    return cited_report(eid, rel, reports)[1]


def _reports_list_problems(eid: str, old: dict[str, Any], new: dict[str, Any], reports: StoredReports) -> list[str]:
    """``reports[]`` only grows, and whatever it gains is stored and this entry's."""
    def paths(e: dict[str, Any]) -> list[Any]:
        items = e.get("reports", [])
        return [r.get("path") for r in items if isinstance(r, dict)] if isinstance(items, list) else []

    before, after = paths(old), paths(new)
    lost = [p for p in before if p not in after]
    if lost:
        return [f"{eid}: reports were removed from the entry: {', '.join(map(str, lost))}"]
    return [p for rel in after if rel not in before for p in [_cited_problem(eid, rel, reports)] if p]


def _new_entry_problems(eid: str, e: dict[str, Any], in_tree: set[str], reports: StoredReports) -> list[str]:
    """A new shown entry is what ``curator approve`` writes: a stored report confirms this very claim."""
    if e.get("status") in ("submitted", "legacy"):
        return []
    cited = [r.get("path") for r in e.get("reports", []) if isinstance(r, dict)] \
        if isinstance(e.get("reports"), list) else []
    if not cited or any(p not in in_tree for p in cited):
        return [f"{eid}: new entry is {e.get('status')} but its reports are not in the tree "
                "(only curator approve adds verified entries)"]
    problems = [p for rel in cited for p in [_cited_problem(eid, rel, reports)] if p]
    history = e.get("history") if isinstance(e.get("history"), list) else []
    confirming = _confirming_items(history)
    rel = confirming[-1].get("report") if confirming else cited[-1]
    last = binding_problem(eid, e, rel, reports, confirming=True)
    return problems + ([last] if last and last not in problems else [])


def _compare_entry(result: DiffResult, eid: str, a: dict[str, Any], b: dict[str, Any],
                   stored: StoredReports) -> None:
    changed_values = lifecycle.changed_claim_values(a, b)
    numbers = {k: v for k, v in changed_values.items() if k in lifecycle.NUMBER_FIELDS}
    other = {k: v for k, v in changed_values.items() if k not in numbers}
    if changed_values:
        added = b.get("history", [])[len(a.get("history", [])):]
        reasons = [i.get("reason") for i in lifecycle.supersede_items(added)]
        leaves_b = lifecycle.claim_leaves(b)
        result.changed.append({
            "id": eid, "setting": setting_label(b),
            "numbers": {k: {"before": v, "after": leaves_b.get(k)} for k, v in numbers.items()},
            "fields": sorted(other), "reason": reasons[-1] if reasons else None})
    protected = a.get("status") in lifecycle.PROTECTED_STATUSES
    if changed_values and protected:
        result.problems.extend(_claim_change_problems(eid, a, b, changed_values))
    if a.get("status") != b.get("status") or a.get("history", []) != b.get("history", []):
        if a.get("status") != b.get("status"):
            result.status.append({"id": eid, "setting": setting_label(b), "before": a.get("status"),
                                  "after": b.get("status")})
        result.problems.extend(_history_problems(eid, a, b, stored))
    if a.get("reports", []) != b.get("reports", []):
        result.problems.extend(_reports_list_problems(eid, a, b, stored))


def diff(repo_path: str, spec: str, store: str = "leaderboard") -> DiffResult:
    import git

    base_rev, head_rev = parse_range(spec)
    try:
        repo = git.Repo(repo_path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(f"{repo_path} is not in a git repository") from None
    try:
        base_c, head_c = repo.commit(base_rev), repo.commit(head_rev)
    except (git.BadName, ValueError) as exc:
        raise UsageError(f"unknown revision in {spec!r}: {exc}") from None
    bases = repo.merge_base(base_c, head_c)
    if not bases:
        raise CuratorError(f"{base_rev} and {head_rev} have no common ancestor")
    mb = bases[0].hexsha
    store = PurePosixPath(store).as_posix().strip("/")
    old, _ = entries_at(repo, mb, store)
    new, new_reports = entries_at(repo, head_c.hexsha, store)
    result = DiffResult(base_c.hexsha, head_c.hexsha, mb)

    stored = StoredReports(repo, head_c.hexsha, store)
    for eid in sorted(set(new) - set(old)):
        e = new[eid]
        result.new.append({"id": eid, "setting": setting_label(e), "status": e.get("status"),
                           "certified_accuracy": e.get("result", {}).get("certified_accuracy"),
                           "clean_accuracy": e.get("result", {}).get("clean_accuracy"),
                           "title": e.get("paper", {}).get("title"), "url": e.get("paper", {}).get("url")})
        result.problems.extend(_new_entry_problems(eid, e, new_reports, stored))
    for eid in sorted(set(old) - set(new)):
        e = old[eid]
        result.removed.append({"id": eid, "setting": setting_label(e), "status": e.get("status")})
        if e.get("status") in lifecycle.PROTECTED_STATUSES:
            result.problems.append(f"{eid}: a {e.get('status')} entry was deleted (refute it instead)")
    for eid in sorted(set(old) & set(new)):
        _compare_entry(result, eid, old[eid], new[eid], stored)

    ra, rb = ranks(old), ranks(new)
    for eid in sorted(set(ra) | set(rb)):
        before, after = ra.get(eid), rb.get(eid)
        if before and after and before[1] == after[1] and before[0] == after[0]:
            continue
        e = new.get(eid) or old[eid]
        result.ranks.append({"id": eid, "setting": setting_label(e), "before": before[1] if before else None,
                             "after": after[1] if after else None})
    result.ranks.sort(key=lambda r: (r["setting"], r["after"] or 10**9, r["id"]))
    return result


def _cell(v: Any, limit: int = 200) -> str:
    """Entry fields are the submitter's words: inert in the PR comment (curator.core.mdsafe)."""
    return "—" if v is None else (md_text(v, limit) or "—")


def _pct(v: Any) -> str:
    if v is None:
        return "—"
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return _cell(v, 40)
    return f"{v:.2f}".rstrip("0").rstrip(".") + "%"


def to_markdown(r: DiffResult) -> str:
    lines = ["## Leaderboard changes", "",
             f"Compared `{r.merge_base[:12]}` (merge base) with `{r.head[:12]}`.", ""]
    if not (r.new or r.removed or r.changed or r.status or r.problems):
        lines.append("No leaderboard changes.")
        return "\n".join(lines) + "\n"
    lines.append(f"**{len(r.new)} new, {len(r.changed)} changed, {len(r.status)} status changes, "
                 f"{len(r.removed)} removed.**")
    if r.problems:
        lines += ["", "### ❌ Problems", ""] + [f"- {_cell(p, 600)}" for p in r.problems]
    if r.new:
        lines += ["", "### New entries", "", "| setting | id | certified | clean | status | paper |",
                  "|---|---|---:|---:|---|---|"]
        for n in r.new:
            # The paper's URL is shown as text, not as a link: a submitter picks it.
            paper = _cell(n.get("title")) + (f" ({_cell(n['url'])})" if n.get("url") else "")
            lines.append(f"| {_cell(n['setting'])} | {md_code(n['id'])} | {_pct(n['certified_accuracy'])} | "
                         f"{_pct(n['clean_accuracy'])} | {_cell(n['status'])} | {paper} |")
    if r.changed:
        lines += ["", "### Changed entries", "", "| id | setting | numbers | other fields | supersede reason |",
                  "|---|---|---|---|---|"]
        for c in r.changed:
            nums = "; ".join(f"{k}: {_cell(v['before'])} → {_cell(v['after'])}" for k, v in c["numbers"].items())
            lines.append(f"| {md_code(c['id'])} | {_cell(c['setting'])} | {_cell(nums or None)} | "
                         f"{_cell(', '.join(map(str, c['fields'])) or None, 600)} | {_cell(c['reason'])} |")
    if r.status:
        lines += ["", "### Status changes", "", "| id | setting | before | after |", "|---|---|---|---|"]
        lines += [f"| {md_code(s['id'])} | {_cell(s['setting'])} | {_cell(s['before'])} | {_cell(s['after'])} |"
                  for s in r.status]
    if r.removed:
        lines += ["", "### Removed entries", "", "| id | setting | status |", "|---|---|---|"]
        lines += [f"| {md_code(s['id'])} | {_cell(s['setting'])} | {_cell(s['status'])} |" for s in r.removed]
    if r.ranks:
        lines += ["", "### Rank moves", "", "| setting | id | before | after |", "|---|---|---:|---:|"]
        lines += [f"| {_cell(m['setting'])} | {md_code(m['id'])} | {_cell(m['before'])} | {_cell(m['after'])} |"
                  for m in r.ranks]
    return "\n".join(lines) + "\n"
