"""Where the leaderboard keeps its files, and safe paths inside it.

Layout (relative to the store root, ``leaderboard/`` in the repository)::

    entries/<dataset>/<norm>/<id>.json
    reports/<id>/<report-sha256>.json
    README.md                           (rendered tables)

No path built from a submission can leave the store: every component is a slug and the
resolved path is checked to be inside the root (symlinks included).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from curator.core.errors import CuratorError
from curator.core.jsonio import dumps, read_json, sha256_bytes, write_bytes_atomic

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,126}[a-z0-9])?$")
NORMS = ("l1", "l2", "linf")
ENTRIES_DIR = "entries"
REPORTS_DIR = "reports"


class StorePathError(CuratorError):
    pass


def slugify(text: str) -> str:
    """``text`` lowercased, every run of characters other than a-z and 0-9 made one '-', trimmed."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def check_slug(value: Any, what: str) -> str:
    if not isinstance(value, str) or not SLUG_RE.fullmatch(value):  # fullmatch: "x\n" is no slug
        raise StorePathError(f"{what} {value!r} is not a slug (lowercase letters, digits and '-', at most 128)")
    return value


def inside(root: Path, *parts: str) -> Path:
    """``root/parts…`` after checking that it resolves (symlinks followed) inside ``root``."""
    root_resolved = root.resolve()
    candidate = root.joinpath(*parts)
    resolved = candidate.resolve()
    if resolved != root_resolved and root_resolved not in resolved.parents:
        raise StorePathError(f"path {candidate} escapes the store {root}")
    return candidate


def no_symlinks(root: Path, path: Path) -> Path:
    """``path`` after checking that neither the store root nor any existing component between it
    and ``path`` is a symbolic link (a link could point a write at a file outside the store, or
    at another entry)."""
    root_abs = Path(root).absolute()
    if root_abs.is_symlink():
        raise StorePathError(f"the store {root} is a symbolic link; refusing to write through it")
    rel = Path(path).absolute().relative_to(root_abs)
    current = root_abs
    for part in rel.parts:
        current = current / part
        if current.is_symlink():
            raise StorePathError(f"{current} is a symbolic link inside the store; refusing to use it")
    return path


def safe_path(root: Path, *parts: str) -> Path:
    """:func:`inside` plus :func:`no_symlinks`: the path every store write goes through."""
    return no_symlinks(root, inside(root, *parts))


def entry_path(root: Path, entry: dict[str, Any]) -> Path:
    setting = entry.get("setting") or {}
    dataset = check_slug(setting.get("dataset"), "dataset")
    norm = setting.get("norm")
    if norm not in NORMS:
        raise StorePathError(f"norm {norm!r} is not one of {', '.join(NORMS)}")
    eid = check_slug(entry.get("id"), "entry id")
    return safe_path(root, ENTRIES_DIR, dataset, norm, f"{eid}.json")


def report_path(root: Path, entry_id: str, report_sha256: str) -> Path:
    check_slug(entry_id, "entry id")
    if not re.fullmatch(r"[0-9a-f]{64}", report_sha256 or ""):
        raise StorePathError(f"report digest {report_sha256!r} is not a sha256")
    return safe_path(root, REPORTS_DIR, entry_id, f"{report_sha256}.json")


def iter_entry_files(root: Path) -> Iterator[Path]:
    base = root / ENTRIES_DIR
    if not base.is_dir():
        return iter(())
    return iter(sorted(p for p in base.glob("*/*/*.json") if p.is_file()))


def load_entries(root: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every entry in the store (parsed, not validated), in a stable order."""
    return [(p, read_json(p)) for p in iter_entry_files(root)]


def find_entry(root: Path, entry_id: str) -> tuple[Path, dict[str, Any]] | None:
    """The stored entry with this id, wherever its setting put it (ids are unique in the store)."""
    check_slug(entry_id, "entry id")
    base = root / ENTRIES_DIR
    if not base.is_dir():
        return None
    hits = sorted(p for p in base.glob(f"*/*/{entry_id}.json"))
    if len(hits) > 1:
        raise StorePathError(f"entry id {entry_id} is stored twice: {', '.join(str(h) for h in hits)}")
    if not hits:
        return None
    no_symlinks(root, hits[0])
    return hits[0], read_json(hits[0])


def entry_bytes(entry: dict[str, Any]) -> bytes:
    return dumps(entry).encode("utf-8")


def report_bytes(report: dict[str, Any]) -> tuple[bytes, str]:
    """The report as the store keeps it, and its sha256 (the file name: ``sha256sum`` checks it)."""
    data = dumps(report).encode("utf-8")
    return data, sha256_bytes(data)


def write_entry(root: Path, entry: dict[str, Any]) -> Path:
    path = entry_path(root, entry)
    write_bytes_atomic(path, entry_bytes(entry))
    return path


def write_report(root: Path, entry_id: str, report: dict[str, Any]) -> tuple[Path, str]:
    data, sha = report_bytes(report)
    path = report_path(root, entry_id, sha)
    write_bytes_atomic(path, data)
    return path, sha
