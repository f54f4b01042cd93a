"""``curator enrich PATH…``: fill missing paper metadata into entries, as a reviewable diff."""

from __future__ import annotations

import sys

import click

from curator.api.registry import get_registry
from curator.cli.common import emit, format_option
from curator.core.jsonio import JsonFileError, read_json
from curator.core.validate import collect_files
from curator.papers.enrich import apply_changes, enrich_entries
from curator.papers.http import HttpClient


@click.command("enrich")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=False))
@click.option("--apply", "do_apply", is_flag=True, help="Write the changes (each file atomically) instead of only showing them.")
@click.option("--skip-failed", is_flag=True, help="With --apply: write the entries that could be enriched even if others failed.")
@click.option("--offline", is_flag=True, help="Answer from the response cache only.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr.")
@format_option
def enrich_command(paths, do_apply: bool, skip_failed: bool, offline: bool, quiet: bool, fmt: str) -> None:
    """Fill arXiv ids, authors, years and published venues into entries (e.g. the imported SoK board).

    Prints a unified diff (or --format json) of what would change; --apply writes it. Only
    missing fields of the paper block are filled, never a number; entries with verification
    reports are left alone. Exit 1 if some entries could not be looked up (nothing is written
    then unless --skip-failed).
    """
    files, problems = collect_files(paths)
    items = []
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)
    for f in files:
        try:
            items.append((str(f), read_json(f)))
        except JsonFileError as exc:
            click.echo(f"warning: {exc.problem}", err=True)

    def progress(i: int, n: int, file: str) -> None:
        if not quiet:
            click.echo(f"enrich {i}/{n}: {file}", err=True)

    result = enrich_entries(items, get_registry().all("scraper"), HttpClient(offline=offline), progress=progress)
    written: list[str] = []
    if do_apply and (not result.failed or skip_failed):
        written = apply_changes(result.changes)
    doc = result.as_dict()
    doc["written"] = written
    if fmt == "json":
        emit(doc, fmt, str)
    else:
        for change in result.changes:
            click.echo(change.diff(), nl=False)
    for file, error in result.failed:
        click.echo(f"failed: {file}: {error}", err=True)
    for file, reason in result.skipped:
        click.echo(f"skipped: {file}: {reason}", err=True)
    summary = (f"{len(result.changes)} to change, {len(result.unchanged)} unchanged, "
               f"{len(result.skipped)} skipped, {len(result.failed)} failed")
    if do_apply:
        summary += f"; wrote {len(written)} file(s)"
        if result.failed and not skip_failed:
            summary += " (nothing written because of the failures; see --skip-failed)"
    click.echo(summary, err=True)
    sys.exit(1 if result.failed else 0)


COMMANDS = [enrich_command]
