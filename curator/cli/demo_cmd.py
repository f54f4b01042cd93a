"""``curator demo``: the main job on the bundled board (interim, until a bundled claim is verified).

Validates ``leaderboard/`` (schema, semantic rules, duplicates), checks that its README.md is
the current rendering, and prints one setting's table. With ``--board FILE`` it also re-imports
the SoK board into a temporary store and checks that the bundled entries are exactly that import.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from ..errors import UsageError
from ..render import find_setting, group_by_setting, load_valid_entries, ranked_rows, terminal_table, write_readme
from ..validate import iter_problem_lines, validate_paths

SHOWCASE = ("cifar10", "linf", 8 / 255)


def _same_entries(store: Path, other: Path) -> bool:
    mine = {p.relative_to(store): p.read_bytes() for p in (store / "entries").rglob("*.json")}
    theirs = {p.relative_to(other): p.read_bytes() for p in (other / "entries").rglob("*.json")}
    return all(mine.get(k) == v for k, v in theirs.items())


@click.command("demo")
@click.option("--store", type=click.Path(path_type=Path), default=Path("leaderboard"), show_default=True)
@click.option("--board", type=click.Path(path_type=Path), default=None,
              help="Also re-import this SoK board.yml and check the bundled entries equal the import.")
def demo_command(store: Path, board: Path | None) -> None:
    """Validate the bundled leaderboard, check its rendering is current, show one table."""
    if not (store / "entries").is_dir():
        raise UsageError(f"no leaderboard at {store} (run from the repository root, or pass --store)")
    ok = True
    report = validate_paths([store / "entries"])
    for line in iter_problem_lines(report):
        click.echo(line)
    click.echo(f"1. validate {store}/entries: {report.files} entries, {len(report.errors)} errors, {len(report.warnings)} warnings"
               + (" — OK" if report.ok else " — FAILED"))
    ok &= report.ok

    if board is not None:
        from .import_cmd import import_into

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
        click.echo(terminal_table(ranked_rows(members)[:5]))
    sys.exit(0 if ok else 1)


COMMANDS = [demo_command]
