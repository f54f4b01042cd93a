"""``curator board``: maintainers' commands on the stored board (``curator board annotate``)."""

from __future__ import annotations

from pathlib import Path

import click

from curator.board.reverification import ANNOTATION_STATES
from curator.cli.common import emit, format_option


@click.group("board")
def board_group() -> None:
    """Maintainers' notes on the stored board."""


@board_group.command("annotate")
@click.argument("ids", nargs=-1)
@click.option("--store", type=click.Path(path_type=Path, file_okay=False), default=Path("leaderboard"),
              show_default=True, help="The leaderboard store.")
@click.option("--state", required=True, type=click.Choice(ANNOTATION_STATES),
              help="not-reverifiable (with the reason why) or pending (public weights exist; a re-run is to come).")
@click.option("--reason", required=True, help='e.g. "no public weights", "the verifiers lack a softplus layer".')
@click.option("--all-legacy", is_flag=True, help="Also every legacy entry that has no note yet.")
@format_option
def annotate_command(ids: tuple[str, ...], store: Path, state: str, reason: str, all_legacy: bool, fmt: str) -> None:
    """Record why the entries IDS cannot be re-verified, or that they are pending (idempotent).

    The note only ever lowers what a row shows: `re-verified` comes from a stored report alone."""
    from curator.board.annotate import annotate
    from curator.core.errors import UsageError

    if not ids and not all_legacy:
        raise UsageError("name entry ids or give --all-legacy")
    doc = annotate(store, list(ids), state, reason, all_legacy=all_legacy)
    emit(doc, fmt, lambda d: f"annotated {len(d['written'])} entries as {d['state']} ({d['reason']}); "
                             f"{d['unchanged']} already so; README {d['readme']}")


COMMANDS = [board_group]
