"""``curator ci …``: the steps the GitHub workflows run, one subcommand each (logic in curator.ci, a module per job)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from curator.ci.git import changed_files, extract, merge_base, push_base
from curator.ci.layout import added_submissions, classify
from curator.ci.publish import publish
from curator.ci.shards import reverify_matrix, reverify_shard, shard_report_name
from curator.ci.submission import check_submission
from curator.ci.verdicts import merge_shard_reports
from curator.cli.common import emit, format_option

repo_option = click.option(
    "--repo", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
    help="The git repository (the base branch's checkout).")
base_option = click.option("--base", required=True, help="Base revision (the PR's base or the push's 'before').")
head_option = click.option("--head", required=True, help="Head revision (the PR's head or the pushed commit).")


@click.group("ci")
def ci_group() -> None:
    """Steps of the GitHub workflows (submission check, re-verification, publish)."""


@ci_group.command("changed-entries")
@repo_option
@base_option
@head_option
@click.option("--extract", "extract_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write the changed claim files, read from git objects at HEAD, under this folder.")
@format_option
def changed_entries(repo: Path, base: str, head: str, extract_dir: Path | None, fmt: str) -> None:
    """List the submission and entry files HEAD changes since its merge-base with BASE."""
    changes = changed_files(repo, base, head)
    if extract_dir is not None:
        extract(repo, head, changes, extract_dir)
    doc = {"merge_base": merge_base(repo, base, head), "changes": [c.as_dict() for c in changes]}
    emit(doc, fmt, lambda d: "\n".join(f"{c['status']} {c['kind']:<10} {c['path']}" for c in d["changes"]))


@ci_group.command("check-submission")
@repo_option
@base_option
@head_option
@click.option("--summary-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the markdown summary here (it also goes to $GITHUB_STEP_SUMMARY when set).")
@click.option("--comment-out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the PR comment body here (uploaded as an artifact for comment.yml).")
@click.option("--pr", type=click.IntRange(min=1), help="The pull request number (written beside the comment).")
@format_option
def check_submission_command(repo: Path, base: str, head: str, summary_out: Path | None, comment_out: Path | None,
                             pr: int | None, fmt: str) -> None:
    """Validate the PR's claim files and diff the board; exit 1 when anything is refused."""
    result = check_submission(repo, base, head, summary_out=summary_out, comment_out=comment_out)
    if comment_out is not None and pr is not None:
        (comment_out.parent / "pr-number.txt").write_text(f"{pr}\n", encoding="utf-8")
    emit(result.as_dict(), fmt, lambda _: result.markdown)
    if not result.ok:
        raise SystemExit(1)


@ci_group.command("plan")
@click.option("--entries-dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--shards", type=int, default=4, show_default=True)
def plan_command(entries_dir: Path, shards: int) -> None:
    """Print the job matrix (claims × shards, each shard i/n 1-based) as one line of JSON for $GITHUB_OUTPUT."""
    click.echo(json.dumps(reverify_matrix(entries_dir, shards), separators=(",", ":")))


@ci_group.command("reverify-shard")
@repo_option
@click.option("--entry", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--shard", required=True, metavar="I/N",
              help="Shard I of N, 1-based (1/4 … 4/4): this job's share of the samples.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--samples", type=click.IntRange(min=1), help="Verify only this many samples (smoke runs).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--seed", type=click.IntRange(min=0), help="The run's seed (ci plan picks one per run); all its shards need it.")
def reverify_shard_command(repo: Path, entry: Path, shard: str, out_dir: Path, samples: int | None,
                           device: str | None, seed: int | None) -> None:
    """Run ``curator verify`` on one shard; the report is OUT_DIR/<id>.shard-<i>-of-<n>.json."""
    kind, entry_id = classify(_claim_rel(entry))
    out = out_dir / shard_report_name(entry_id or entry.stem, shard, smoke=samples is not None)
    reverify_shard(repo, entry, shard, out, samples=samples, device=device, seed=seed)
    click.echo(str(out))


def _claim_rel(entry: Path) -> str:
    parts = entry.as_posix().split("/")
    for anchor in ("submissions", "leaderboard"):
        if anchor in parts:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(anchor):])
    return entry.name


@ci_group.command("merge")
@repo_option
@click.option("--reports-dir", required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--comment-out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--summary-out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pr", type=click.IntRange(min=1))
@format_option
def merge_command(repo: Path, reports_dir: Path, out_dir: Path, comment_out: Path | None,
                  summary_out: Path | None, pr: int | None, fmt: str) -> None:
    """Merge shard reports per claim (``curator merge-reports``); exit 1 unless every claim is confirmed."""
    verdicts = merge_shard_reports(repo, reports_dir, out_dir, comment_out=comment_out, summary_out=summary_out,
                                   pr=pr)
    doc = [{"id": v.entry_id, "report": str(v.report), "verdict": v.verdict} for v in verdicts]
    emit(doc, fmt, lambda d: "\n".join(f"{v['id']}: {v['verdict']} ({v['report']})" for v in d))
    if any(v.verdict != "confirmed" for v in verdicts):
        raise SystemExit(1)


@ci_group.command("publish")
@repo_option
@base_option
@head_option
@click.option("--reports-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Merged re-verification reports, <id>.json each.")
@click.option("--pr", type=click.IntRange(min=1))
@click.option("--pr-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Read the PR number from this file when it exists (fetch-reports --pr-out writes it).")
@click.option("--site-out", type=click.Path(file_okay=False, path_type=Path), help="Also build the static site here.")
@format_option
def publish_command(repo: Path, base: str, head: str, reports_dir: Path, pr: int | None, pr_file: Path | None,
                    site_out: Path | None, fmt: str) -> None:
    """Approve each submission BASE..HEAD added, with its report, as one bot commit each; render; site."""
    if pr_file is not None and pr_file.exists():
        text = pr_file.read_text(encoding="utf-8").strip()
        if not text.isdigit() or int(text) < 1:
            raise click.BadParameter(f"{pr_file} does not hold a PR number", param_hint="--pr-file")
        pr = int(text)
    base = push_base(repo, base, head)
    done = publish(repo, base, head, reports_dir, pr=pr, site_out=site_out)
    doc = [{"id": p.entry_id, "report": str(p.report), "commit": p.commit, "action": p.action} for p in done]
    emit(doc, fmt, lambda d: "\n".join(f"{p['action']} {p['id']} in {p['commit'][:12]}" for p in d)
         or "no new submission to publish")


@ci_group.command("fetch-reports")
@click.option("--commit", required=True, help="The pushed merge commit.")
@click.option("--out-dir", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--pr-out", type=click.Path(dir_okay=False, path_type=Path), help="Write the PR number here.")
@click.option("--github-repo", envvar="GITHUB_REPOSITORY", required=True, help="owner/name ($GITHUB_REPOSITORY).")
@click.option("--default-branch", default="main", show_default=True)
@click.option("--api-url", envvar="GITHUB_API_URL", help="GitHub API root ($GITHUB_API_URL).")
@click.option("--base", help="With --head: do nothing unless BASE..HEAD adds a submission (the push's 'before').")
@click.option("--head", help="The pushed commit (see --base).")
@repo_option
def fetch_reports(commit: str, out_dir: Path, pr_out: Path | None, github_repo: str, default_branch: str,
                  api_url: str | None, base: str | None, head: str | None, repo: Path) -> None:
    """Download the re-verification reports of the PR that COMMIT merged (token: $GH_TOKEN)."""
    import os

    from curator.ci.github import GitHub
    from curator.ci.github import fetch_reports as fetch

    if base and head:
        if not added_submissions(changed_files(repo, push_base(repo, base, head), head)):
            click.echo("no new submission in this push: no report needed")
            return

    gh = GitHub(github_repo, os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN"), api_url)
    pr, paths = fetch(gh, commit, out_dir, default_branch)
    if pr_out is not None:
        pr_out.parent.mkdir(parents=True, exist_ok=True)
        pr_out.write_text(f"{pr}\n", encoding="utf-8")
    click.echo(f"PR #{pr}: " + ", ".join(p.name for p in paths))


COMMANDS = [ci_group]
