"""``curator render`` (leaderboard/README.md) and ``curator show`` (one setting in the terminal)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from curator.board.render import README, find_setting, group_by_setting, load_valid_entries, ranked_rows, terminal_table, write_readme
from curator.board.reverification import board_states, coverage
from curator.cli.common import emit, format_option
from curator.core.errors import CuratorError, UsageError
from curator.core.radius import parse_radius

store_option = click.option("--store", type=click.Path(path_type=Path), default=Path("leaderboard"), show_default=True,
                            help="The leaderboard store (entries/ inside it).")


def _check_store(store: Path) -> None:
    if not store.is_dir():
        raise UsageError(f"no such store folder: {store}")


@click.command("render")
@store_option
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if README.md is stale.")
@format_option
def render_command(store: Path, check: bool, fmt: str) -> None:
    """Write STORE/README.md: one ranked table per setting (and STORE/benchmark/README.md from the
    benchmark results in STORE/benchmark/*.json, when there are any)."""
    from curator.benchmark.render import RESULTS_DIR, store_results, write_markdown

    _check_store(store)
    current = write_readme(store, check=check)
    results = store_results(store)
    if results:
        current = not write_markdown(results, store / RESULTS_DIR, check=check) and current
    target = store / README
    if check:
        state = "current" if current else "stale"
    else:
        state = "unchanged" if current else "written"
    emit({"path": str(target), "state": state, "ok": current or not check}, fmt,
         lambda d: f"{d['path']}: {d['state']}" + (" (run `curator render`)" if d["state"] == "stale" else ""))
    if check and not current:
        sys.exit(1)


@click.command("show")
@store_option
@click.option("--dataset", required=True, help="Dataset, e.g. cifar10 (case and punctuation ignored: CIFAR-10 works).")
@click.option("--norm", required=True, type=click.Choice(["l1", "l2", "linf"], case_sensitive=False))
@click.option("--radius", "radius_text", required=True, help="Radius as written, e.g. 8/255 or 0.5.")
@format_option
def show_command(store: Path, dataset: str, norm: str, radius_text: str, fmt: str) -> None:
    """Print the ranked table of one setting."""
    _check_store(store)
    try:
        radius = parse_radius(radius_text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    entries = load_valid_entries(store)
    found = find_setting(entries, dataset, norm, radius)
    if found is None:
        known = "; ".join(f"{s.dataset} {s.norm} {s.radius_text}" for s, _ in group_by_setting(entries))
        raise CuratorError(f"no entries for {dataset} {norm} {radius_text} in {store} (settings: {known or 'none'})")
    setting, members = found
    states = board_states(store, members)
    rows = ranked_rows(members, states)
    cov = coverage(states[e["id"]] for e in members)
    emit({"setting": setting.as_dict(), "coverage": cov.as_dict(), "rows": rows}, fmt,
         lambda d: f"{setting.title}\n{d['coverage']['line']}.\n\n{terminal_table(d['rows'])}")


COMMANDS = [render_command, show_command]
