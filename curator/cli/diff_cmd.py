"""``curator diff BASE..HEAD``: the leaderboard changes of a pull request, as markdown or JSON."""

from __future__ import annotations

import json

import click

from curator.board.diff import diff, to_markdown
from curator.core.errors import CuratorError


@click.command("diff")
@click.argument("revisions")
@click.option("--repo", "repo_path", default=".", show_default=True, type=click.Path(file_okay=False),
              help="The git repository.")
@click.option("--store", "store", default="leaderboard", show_default=True,
              help="The store folder, relative to the repository root.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
def diff_command(revisions, repo_path, store, fmt):
    """Summarise what REVISIONS (BASE..HEAD, compared from their merge base) change on the board.

    Exits 1 when the change is not allowed (a shown number changed without supersede metadata,
    history rewritten, a status jump the lifecycle forbids); the summary is printed first.
    """
    result = diff(repo_path, revisions, store)
    if fmt == "json":
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(to_markdown(result), nl=False)
    if result.problems:
        raise CuratorError("; ".join(result.problems))


COMMANDS = [diff_command]
