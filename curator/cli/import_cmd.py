"""``curator import IMPORTER FILE --into leaderboard/``: a foreign board as entries in the store."""

from __future__ import annotations

from pathlib import Path

import click

from curator.api.registry import get_registry
from curator.board.reverification import ANNOTATION_FIELD
from curator.board.store import StorePathError, entry_path, iter_entry_files
from curator.cli.common import emit, format_option
from curator.core.errors import CuratorError, UsageError
from curator.core.jsonio import JsonFileError, dumps, read_json, write_bytes_atomic
from curator.core.validate import find_duplicates
from curator.verify.claim_checks import check_claim


def import_into(importer_name: str, source: Path, store: Path) -> dict:
    """Run an importer and write its entries into ``store``; all-or-nothing on invalid output.

    Every entry is validated (schema, semantic rules, duplicates against itself and the store)
    before anything is written; files whose bytes would not change are left alone, so a re-run
    changes nothing.
    """
    registry = get_registry()
    importer = registry.importer(importer_name)
    if not source.is_file():
        raise UsageError(f"no such file: {source}")
    batch = importer.read(source)

    planned: dict[Path, bytes] = {}
    problems = []
    for entry in batch.entries:
        try:
            path = entry_path(store, entry)
        except StorePathError as exc:
            raise CuratorError(f"importer {importer_name!r} produced an entry that cannot be stored: {exc}") from None
        if path in planned:
            raise CuratorError(f"importer {importer_name!r} produced two entries with id {entry.get('id')!r}")
        entry = _keep_annotation(entry, path)
        problems.extend(p for p in check_claim(entry, str(path), registry) if p.severity == "error")
        planned[path] = dumps(entry).encode("utf-8")

    existing = []
    for f in iter_entry_files(store):
        if f in planned:
            continue
        try:
            existing.append((str(f), read_json(f)))
        except JsonFileError:
            continue  # `curator validate` reports it; it cannot be a duplicate we would add
    new = [(str(p), e) for p, e in zip(planned, batch.entries, strict=True)]
    problems.extend(p for p in find_duplicates(existing + new) if p.file in {f for f, _ in new})
    if problems:
        lines = "\n".join(str(p) for p in problems[:20])
        more = f"\n… and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise CuratorError(f"importer {importer_name!r} produced {len(problems)} invalid entr(y/ies); nothing written:\n{lines}{more}")

    written, unchanged = [], []
    for path, data in planned.items():
        if path.is_file() and path.read_bytes() == data:
            unchanged.append(str(path))
            continue
        write_bytes_atomic(path, data)
        written.append(str(path))
    settings = sorted({(e["setting"]["dataset"], e["setting"]["norm"], e["setting"]["radius_text"]) for e in batch.entries})
    return {
        "importer": importer_name,
        "source": str(source),
        "store": str(store),
        "entries": len(batch.entries),
        "settings": len(settings),
        "written": written,
        "unchanged": len(unchanged),
        "warnings": batch.warnings,
    }


def _keep_annotation(entry: dict, path: Path) -> dict:
    """``entry`` with the maintainers' re-verification note of the stored file at ``path``, if any:
    a re-import refreshes the claim but does not wipe what the maintainers recorded about it."""
    if ANNOTATION_FIELD in entry or not path.is_file():
        return entry
    try:
        stored = read_json(path)
    except JsonFileError:
        return entry
    if not isinstance(stored, dict) or ANNOTATION_FIELD not in stored:
        return entry
    return {**entry, ANNOTATION_FIELD: stored[ANNOTATION_FIELD]}  # last, where `curator board annotate` puts it


def _text(doc: dict) -> str:
    return (
        f"imported {doc['entries']} entries in {doc['settings']} settings from {doc['source']} into {doc['store']}: "
        f"{len(doc['written'])} written, {doc['unchanged']} unchanged"
    )


@click.command("import")
@click.argument("importer")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--into", "store", type=click.Path(path_type=Path), default=Path("leaderboard"), show_default=True,
              help="The leaderboard store to write entries into.")
@format_option
def import_command(importer: str, source: Path, store: Path, fmt: str) -> None:
    """Import a foreign leaderboard FILE with the IMPORTER plugin (e.g. sok-board)."""
    doc = import_into(importer, source, store)
    emit(doc, fmt, _text)
    if fmt != "json":
        for w in doc["warnings"]:
            click.echo(f"warning: {w}", err=True)


COMMANDS = [import_command]
