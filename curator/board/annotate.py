"""``curator board annotate``: the maintainers' re-verification note on stored entries.

The note (``reverification: {state, reason}``, see :mod:`curator.board.reverification`) says why a claim
cannot be re-run (``not-reverifiable``) or that it can and is waiting (``pending``). It never makes
a row re-verified. All-or-nothing: every changed entry is validated before any file is written, and
a re-run with the same arguments changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from curator.board import store
from curator.board.reverification import ANNOTATION_FIELD, ANNOTATION_STATES
from curator.core.errors import CuratorError
from curator.core.jsonio import dumps, write_bytes_atomic


def _planned(root: Path, ids: Sequence[str], all_legacy: bool) -> list[tuple[Path, dict[str, Any], bool]]:
    """``(path, entry, named)`` for the entries to annotate; ``named``: given by id (overwritten)."""
    loaded = store.load_entries(root)
    by_id = {e.get("id"): (p, e) for p, e in loaded if isinstance(e, dict)}
    unknown = sorted(set(ids) - set(by_id))
    if unknown:
        raise CuratorError(f"no entry with id {', '.join(unknown)} in {root}")
    out = [(by_id[i][0], by_id[i][1], True) for i in dict.fromkeys(ids)]
    if all_legacy:
        named = set(ids)
        out += [(p, e, False) for p, e in loaded if isinstance(e, dict) and e.get("status") == "legacy"
                and e.get("id") not in named and ANNOTATION_FIELD not in e]
    return out


def annotate(store_root: str | Path, ids: Sequence[str], state: str, reason: str, *,
             all_legacy: bool = False) -> dict[str, Any]:
    """Set the note on the entries ``ids`` (replacing theirs) and, with ``all_legacy``, on every
    legacy entry that has none yet; then re-render the store's README."""
    from curator.board.render import write_readme
    from curator.core.validate import check_entry

    root = Path(store_root)
    if state not in ANNOTATION_STATES:
        raise CuratorError(f"state {state!r} is not one of {', '.join(ANNOTATION_STATES)}")
    if not reason or not reason.strip():
        raise CuratorError("an annotation needs a reason")
    note = {"state": state, "reason": reason.strip()}
    writes: list[tuple[Path, bytes]] = []
    problems = []
    unchanged = 0
    for path, entry, _ in _planned(root, ids, all_legacy):
        if entry.get(ANNOTATION_FIELD) == note:
            unchanged += 1
            continue
        new = {**entry, ANNOTATION_FIELD: note}
        problems += [str(p) for p in check_entry(new, str(path), None) if p.severity == "error"]
        writes.append((store.no_symlinks(root, path), dumps(new).encode("utf-8")))
    if problems:
        raise CuratorError("annotating would store invalid entries; nothing written:\n" + "\n".join(problems[:20]))
    for path, data in writes:
        write_bytes_atomic(path, data)
    readme_current = write_readme(root)
    return {"store": str(root), "state": state, "reason": note["reason"], "written": [str(p) for p, _ in writes],
            "unchanged": unchanged, "readme": "unchanged" if readme_current else "written"}
