"""``curator demo``: re-verify the bundled example claim offline, then check the bundled board.

1. ``curator verify examples/digits-smoothing.json``: a small noise-trained classifier on the
   scikit-learn digits (``examples/train_digits.py``), certified with randomized smoothing
   (Cohen et al.'s CERTIFY) on the whole 360-image test split — about one and a half minutes on one CPU
   core — and compared with the claim: the verdict must be ``confirmed``. ``--samples N`` runs a quick
   prefix, a smoke run that cannot confirm: it must only not refute the claim.
2. Validates ``leaderboard/`` (schema, semantic rules, duplicates), checks that its README.md is
   the current rendering, and prints one setting's table. With ``--board FILE`` it also re-imports
   the SoK board into a temporary store and checks that the bundled entries are exactly that import.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from curator.board.render import find_setting, group_by_setting, load_valid_entries, ranked_rows, terminal_table, write_readme
from curator.core.errors import UsageError
from curator.core.validate import iter_problem_lines
from curator.verify.claim_checks import validate_claims

SHOWCASE = ("cifar10", "linf", 8 / 255)
EXAMPLE = Path("examples") / "digits-smoothing.json"


def verify_example(example: Path, samples: int | None, quiet: bool) -> bool:
    from curator.cli.verify_cmd import progress_factory, text_summary
    from curator.verify.pipeline import VerifyOptions, verify_entry

    if not example.is_file():
        raise UsageError(f"no example claim at {example} (run from the repository root, or pass --example)")
    click.echo(f"0. curator verify {example}" + (f" --samples {samples}" if samples else "")
               + " (randomized smoothing, CPU, offline)")
    bars = progress_factory(quiet)
    try:
        report = verify_entry(example, VerifyOptions(samples=samples, device="cpu", progress=not quiet),
                              on_progress=bars)
    finally:
        if bars is not None:
            bars.close()
    click.echo(text_summary(report))
    if report.get("smoke_run"):
        # A prefix cannot confirm (too few samples, not the claim's selection): it only has to run
        # and not contradict the claim.
        return report["verdict"]["status"] in ("confirmed", "unconfirmed")
    return report["verdict"]["status"] == "confirmed"


def _same_entries(store: Path, other: Path) -> bool:
    """Every imported entry is in ``store`` as imported (the maintainers' re-verification note aside)."""
    from curator.board.reverification import ANNOTATION_FIELD
    from curator.core.jsonio import read_json

    def claims(root: Path) -> dict[Path, dict]:
        out = {}
        for p in (root / "entries").rglob("*.json"):
            doc = read_json(p)
            if isinstance(doc, dict):
                doc.pop(ANNOTATION_FIELD, None)
            out[p.relative_to(root)] = doc
        return out

    mine, theirs = claims(store), claims(other)
    return all(mine.get(k) == v for k, v in theirs.items())


@click.command("demo")
@click.option("--store", type=click.Path(path_type=Path), default=Path("leaderboard"), show_default=True)
@click.option("--board", type=click.Path(path_type=Path), default=None,
              help="Also re-import this SoK board.yml and check the bundled entries equal the import.")
@click.option("--verify/--no-verify", "do_verify", default=True, show_default=True,
              help="Re-verify the bundled example claim first.")
@click.option("--example", type=click.Path(path_type=Path, dir_okay=False), default=EXAMPLE, show_default=True)
@click.option("--samples", type=click.IntRange(min=1), default=None, help="Verify only the first N samples.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def demo_command(store: Path, board: Path | None, do_verify: bool, example: Path, samples: int | None,
                 quiet: bool) -> None:
    """Re-verify the bundled example claim (→ confirmed), then check the bundled leaderboard."""
    ok = True
    if do_verify:
        ok &= verify_example(example, samples, quiet)
        click.echo("")
    if not (store / "entries").is_dir():
        raise UsageError(f"no leaderboard at {store} (run from the repository root, or pass --store)")
    report = validate_claims([store / "entries"])
    for line in iter_problem_lines(report):
        click.echo(line)
    click.echo(f"1. validate {store}/entries: {report.files} entries, {len(report.errors)} errors, {len(report.warnings)} warnings"
               + (" — OK" if report.ok else " — FAILED"))
    ok &= report.ok

    if board is not None:
        from curator.cli.import_cmd import import_into

        with tempfile.TemporaryDirectory() as tmp:
            doc = import_into("sok-board", board, Path(tmp))
            same = _same_entries(store, Path(tmp))
        click.echo(f"   re-import {board}: {doc['entries']} entries, {len(doc['warnings'])} quirk warnings, "
                   + ("identical to the bundled entries — OK" if same else "DIFFERS from the bundled entries"))
        ok &= same

    current = write_readme(store, check=True)
    click.echo(f"2. render {store}/README.md: " + ("current — OK" if current else "STALE (run `curator render`)"))
    ok &= current

    entries = load_valid_entries(store) if report.ok else []
    settings = group_by_setting(entries)
    click.echo(f"3. the board: {sum(len(m) for _, m in settings)} entries in {len(settings)} settings")
    found = find_setting(entries, *SHOWCASE)
    if found:
        setting, members = found
        click.echo(f"\n{setting.title}\n")
        from curator.board.reverification import board_states

        click.echo(terminal_table(ranked_rows(members, board_states(store, members))[:5]))
    sys.exit(0 if ok else 1)


COMMANDS = [demo_command]
