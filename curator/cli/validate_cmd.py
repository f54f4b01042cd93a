"""``curator validate PATH...``: schema and semantic checks of entry files (exit 0/1/2)."""

from __future__ import annotations

import sys

import click

from ..validate import iter_problem_lines, validate_paths
from .common import emit, format_option


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=False, file_okay=True, dir_okay=True))
@click.option("--no-plugins", is_flag=True, help="Skip the checks that need installed plugins (verifier, architecture, dataset).")
@format_option
def validate_command(paths: tuple[str, ...], no_plugins: bool, fmt: str) -> None:
    """Validate entry files (or folders of them, recursively).

    Prints every problem as ``file: /json/pointer: message``. Exit 0: valid (warnings allowed);
    1: invalid; 2: usage error (e.g. a path that does not exist).
    """
    report = validate_paths(paths, use_plugins=not no_plugins)
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
