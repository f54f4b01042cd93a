"""``curator approve``: put a confirmed claim and its report into the store and commit them."""

from __future__ import annotations

import click

from curator.board.approve import approve
from curator.cli.common import emit, format_option


@click.command("approve")
@click.argument("submission", type=click.Path(dir_okay=False, path_type=str))
@click.option("--report", "report", required=True, type=click.Path(dir_okay=False, path_type=str),
              help="The verification report (curator verify --out) that confirms the submission.")
@click.option("--pr", type=click.IntRange(min=1), default=None, help="Pull request number, for the record.")
@click.option("--no-commit", is_flag=True, help="Write the files but do not commit them.")
@click.option("--store", "store_root", default="leaderboard", show_default=True,
              type=click.Path(file_okay=False, path_type=str), help="The leaderboard store folder.")
@click.option("--publish", is_flag=True, help="Publish at once (verified → published).")
@click.option("--supersede", is_flag=True, help="Replace the numbers of an entry the board already shows.")
@click.option("--reason", default=None, help="Why the old claim is superseded (required with --supersede).")
@click.option("--record", is_flag=True,
              help="Store a claim whose full-protocol run was unconfirmed or refuted, with its report, as submitted.")
@format_option
def approve_command(submission, report, pr, no_commit, store_root, publish, supersede, reason, record, fmt):
    """Approve SUBMISSION into the store with the REPORT that confirms it.

    Refuses (exit 1, nothing written) unless the report is schema-valid, belongs to exactly this
    claim (digest, model sha256, verifier and params), says confirmed, and may publish it
    (curator.board.publication: the claim's full selection on enough samples, numbers and verdict as
    recomputed from its per-sample arrays, the verifier's protocol floor). Commits entry, report
    and the re-rendered README as the bot (CURATOR_BOT_NAME / CURATOR_BOT_EMAIL).

    With --record, a run that did not confirm (unconfirmed or refuted, on the claim's full
    selection, numbers recomputed) is stored with its claim as a submitted entry, so the board shows
    curator's measurement beside the claim; it is never verified or published.
    """
    result = approve(submission, report, store_root=store_root, pr=pr, commit=not no_commit, publish=publish,
                     supersede=supersede, reason=reason, record=record)

    def text(r):  # r is result.as_dict(), as emit() passes the data it prints
        lines = [r["message"]]
        if r.get("commit"):
            lines.append(f"commit {r['commit']}")
        return "\n".join(lines)

    emit(result.as_dict(), fmt, text)


COMMANDS = [approve_command]
