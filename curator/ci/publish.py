"""On a push to main: each submission the push added is approved with its re-verification report,
in one bot commit each; then the board is checked to be rendered and the site built."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curator.board.approve import RECORDED_VERDICTS
from curator.ci.commands import approve_argv, render_check_argv, run_checked, site_argv
from curator.ci.errors import CiError
from curator.ci.git import changed_files, git, resolve
from curator.ci.layout import added_submissions
from curator.core.digest import claim_digest
from curator.core.errors import CuratorError
from curator.core.jsonio import read_json


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
    changes = added_submissions(changed_files(repo, base, head))
    if git(repo, "status", "--porcelain", "--untracked-files=no").strip():
        raise CiError("the work tree has uncommitted changes; publish starts from a clean checkout")
    published: list[Published] = []
    for change in changes:
        report = reports_dir / f"{change.entry_id}.json"
        if not report.is_file():
            raise CiError(f"no re-verification report for {change.entry_id} ({report}): "
                          "run the reverify workflow on the pull request before merging")
        entry = read_json(repo / change.path)
        record = recomputed_verdict(report) in RECORDED_VERDICTS
        check_report_binding(entry, report, publishing=not record)
        run_checked(approve_argv(change.path, str(report), pr, record=record), repo,
                    f"curator approve ({change.entry_id})")
        published.append(Published(change.entry_id, report, resolve(repo, "HEAD"),
                                   "recorded" if record else "published"))
    if published:
        run_checked(render_check_argv(), repo, "curator render --check")
    if site_out is not None:
        run_checked(site_argv(str(site_out)), repo, "curator site")
    return published


def recomputed_verdict(report_path: Path) -> str | None:
    """The verdict the report's own per-sample arrays give (never the one it states)."""
    from curator.board.reverification import recomputed

    try:
        return recomputed(read_json(report_path))["verdict"]["status"]
    except (CuratorError, KeyError, TypeError, ValueError):
        return None


def check_report_binding(entry: dict[str, Any], report_path: Path, publishing: bool = True) -> None:
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
