"""``curator transition``: move an entry along the lifecycle (publish, dispute, refute, reinstate)."""

from __future__ import annotations

import click

from curator.board.transition import transition_entry
from curator.cli.common import emit, format_option


@click.command("transition")
@click.argument("entry_id")
@click.option("--to", "to", required=True, type=click.Choice(["published", "disputed", "refuted"]),
              help="The new status.")
@click.option("--reason", default=None, help="Why (required for disputes and their outcome).")
@click.option("--report", "report", default=None, type=click.Path(dir_okay=False, path_type=str),
              help="A report on this claim to store with the move (e.g. the attack that refutes it).")
@click.option("--store", "store_root", default="leaderboard", show_default=True,
              type=click.Path(file_okay=False, path_type=str))
@click.option("--no-commit", is_flag=True, help="Write the files but do not commit them.")
@format_option
def transition_command(entry_id, to, reason, report, store_root, no_commit, fmt):
    """Move ENTRY_ID to another status (verified → published, published → disputed, disputed →
    refuted or back to published), recorded in its history and committed as the bot."""
    result = transition_entry(store_root, entry_id, to, reason=reason, report_path=report, commit=not no_commit)
    emit(result.as_dict(), fmt, lambda r: r["message"] + (f"\ncommit {r['commit']}" if r["commit"] else ""))


COMMANDS = [transition_command]
