"""Each claim's shard reports merged into one report, and the verdict comment on the pull request."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curator.ci.commands import merge_reports_argv, run_for_report
from curator.ci.comments import pre, write_comment, write_outputs
from curator.ci.errors import CiError
from curator.ci.shards import SHARD_REPORT_RE, SMOKE_TAG
from curator.core.jsonio import dumps, read_json, write_text_atomic
from curator.core.mdsafe import md_code, md_text

_ICONS = {"confirmed": "✅", "unconfirmed": "⚠️", "refuted": "❌", "error": "💥"}


@dataclass
class VerdictRow:
    """One claim's line in the verdict comment: its merged report, the verdict and what a reviewer reads first."""

    entry_id: str
    report: Path
    verdict: str
    summary: dict[str, Any]


def report_summary(report: dict[str, Any]) -> dict[str, Any]:
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


def shard_reports_by_claim(reports_dir: Path) -> dict[str, list[Path]]:
    """The shard reports under ``reports_dir``, grouped by claim id (smoke runs apart)."""
    by_entry: dict[str, list[Path]] = {}
    for path in sorted(reports_dir.rglob("*.shard-*-of-*.json")):
        if m := SHARD_REPORT_RE.fullmatch(path.name):
            by_entry.setdefault(m.group(1), []).append(path)
    if not by_entry:
        raise CiError(f"no shard reports (<id>.shard-<i>-of-<n>.json) under {reports_dir}")
    return by_entry


def merge_shard_reports(repo: Path, reports_dir: Path, out_dir: Path, *, comment_out: Path | None = None,
                        summary_out: Path | None = None, pr: int | None = None) -> list[VerdictRow]:
    """Merge each claim's shard reports into ``out_dir/<id>.json`` and write the verdict comment."""
    by_entry = shard_reports_by_claim(reports_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for entry_id, parts in sorted(by_entry.items()):
        out = out_dir / f"{entry_id}.json"
        run_for_report(merge_reports_argv([str(p) for p in parts], str(out)), repo, out,
                       f"curator merge-reports ({entry_id})")
        report = read_json(out)
        rows.append(VerdictRow(entry_id, out, verdict_status(report), report_summary(report)))
    markdown = verdict_markdown(rows, pr)
    write_outputs(markdown, summary_out)
    if comment_out is not None:
        write_comment(markdown, comment_out)
        if pr is not None:
            write_text_atomic(comment_out.parent / "pr-number.txt", f"{pr}\n")
    return rows


def verdict_markdown(rows: list[VerdictRow], pr: int | None) -> str:
    lines = ["## curator re-verification", ""]
    lines += ["| claim | verdict |", "| --- | --- |"]
    for v in rows:
        smoke = " (smoke run: cannot publish)" if v.entry_id.endswith(SMOKE_TAG) else ""
        lines.append(f"| {md_code(v.entry_id)} | {_ICONS.get(v.verdict, '❔')} {md_text(v.verdict)}{smoke} |")
    for v in rows:
        lines += ["", f"<details><summary>{md_text(v.entry_id)}: report summary</summary>", "",
                  pre(dumps(v.summary)), "</details>"]
    if any(v.entry_id.endswith(SMOKE_TAG) for v in rows):
        lines += ["", "Smoke run (`samples` > 0): these reports never publish; run reverify with samples 0 "
                      "(the claim's full protocol) before merging."]
    elif all(v.verdict == "confirmed" for v in rows):
        lines += ["", "All claims confirmed: on merge, the bot publishes them with this report."]
    else:
        lines += ["", "Only confirmed claims can be published; merging this PR publishes nothing for the others."]
    return "\n".join(lines) + "\n"
