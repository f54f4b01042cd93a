"""``curator validate PATH...``: schema and semantic checks of entry files (exit 0/1/2)."""

from __future__ import annotations

import sys

import click

from curator.cli.common import emit, format_option
from curator.core.validate import iter_problem_lines
from curator.verify.claim_checks import validate_claims


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=False, file_okay=True, dir_okay=True))
@click.option("--no-plugins", is_flag=True, help="Skip the checks that need installed plugins (verifier, architecture, dataset).")
@click.option("--online", is_flag=True, help="Also check title/year/authors/ids against the paper services (see docs/scrapers.md).")
@click.option("--offline", is_flag=True, help="With --online: answer from the response cache only.")
@click.option("--store", type=click.Path(file_okay=False, exists=True), default=None,
              help="A leaderboard store folder: each `supersedes` must name one of its entries (same setting).")
@format_option
def validate_command(paths: tuple[str, ...], no_plugins: bool, online: bool, offline: bool, store, fmt: str) -> None:
    """Validate entry files (or folders of them, recursively).

    Prints every problem as ``file: /json/pointer: message``. Exit 0: valid (warnings allowed);
    1: invalid; 2: usage error (e.g. a path that does not exist). ``--online`` compares each
    schema-valid entry's paper block with the scraped record (title similarity ≥ 0.9).
    """
    report = validate_claims(paths, use_plugins=not no_plugins, store=store)
    if online or offline:
        from curator.api.registry import get_registry
        from curator.papers.http import HttpClient
        from curator.papers.online_check import check_online

        scrapers = get_registry().all("scraper")
        http = HttpClient(offline=offline)
        for i, (file, entry) in enumerate(sorted(report.entries.items()), 1):
            if fmt != "json":
                click.echo(f"online check {i}/{len(report.entries)}: {file}", err=True)
            report.problems.extend(check_online(entry, file, scrapers=scrapers, http=http))
    if fmt == "json":
        emit(report.as_dict(), fmt, str)
    else:
        for line in iter_problem_lines(report):
            click.echo(line)
        verdict = "valid" if report.ok else "INVALID"
        click.echo(
            f"{report.files} file(s): {verdict} — {len(report.errors)} error(s), {len(report.warnings)} warning(s)",
            err=True,
        )
    sys.exit(0 if report.ok else 1)


COMMANDS = [validate_command]
