"""``curator import``: writes through the store, all-or-nothing, idempotent, and the committed board is current."""

import json
import os

from click.testing import CliRunner

from curator.cli import main
from curator.core.jsonio import read_json


def run(*args):
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def _snapshot(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.json"))}


def test_import_real_board_twice_is_byte_identical(shared, tmp_path):
    board = shared / "data" / "sok" / "board.yml"
    store = tmp_path / "lb"
    code, out, err = run("import", "sok-board", str(board), "--into", str(store), "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["entries"] == 151 and doc["settings"] == 18 and len(doc["written"]) == 151 and doc["warnings"]
    first = _snapshot(store)
    assert len(first) == 151 and all(k.startswith("entries/") for k in first)
    mtimes = {p: os.stat(p).st_mtime_ns for p in store.rglob("*.json")}
    code, out, err = run("import", "sok-board", str(board), "--into", str(store))
    assert code == 0 and "0 written, 151 unchanged" in out and "warning: " in err
    assert _snapshot(store) == first
    assert mtimes == {p: os.stat(p).st_mtime_ns for p in store.rglob("*.json")}
    code, out, _ = run("validate", str(store))
    assert code == 0


def test_committed_board_equals_a_fresh_import(shared, repo, tmp_path):
    store = tmp_path / "lb"
    code, _, err = run("import", "sok-board", str(shared / "data" / "sok" / "board.yml"), "--into", str(store))
    assert code == 0, err
    committed = {k: read_json(repo / "leaderboard" / k) for k in _snapshot(repo / "leaderboard") if k.startswith("entries/")}
    legacy = {k: v for k, v in committed.items() if v.get("status") == "legacy"}
    # the committed legacy rows are the import plus the maintainers' re-verification note (last key)
    assert all(list(v)[-1] == "reverification" for v in legacy.values())
    assert {k: {f: x for f, x in v.items() if f != "reverification"} for k, v in legacy.items()} == \
        {k: read_json(store / k) for k in _snapshot(store)}


def test_reimport_keeps_the_maintainers_note(shared, repo, tmp_path):
    import shutil

    store = tmp_path / "lb"
    shutil.copytree(repo / "leaderboard", store)
    before = _snapshot(store)
    code, out, err = run("import", "sok-board", str(shared / "data" / "sok" / "board.yml"), "--into", str(store))
    assert code == 0 and "0 written, 151 unchanged" in out, err
    assert _snapshot(store) == before
    notes = [read_json(p).get("reverification") for p in (store / "entries").rglob("*.json")]
    assert sum(1 for n in notes if n and n["state"] == "pending") == 5
    assert sum(1 for n in notes if n == {"state": "not-reverifiable", "reason": "no public weights"}) == 146


def test_duplicate_against_existing_store_writes_nothing(shared, tmp_path):
    store = tmp_path / "lb"
    board = shared / "data" / "sok" / "board.yml"
    run("import", "sok-board", str(board), "--into", str(store))
    # The same claim already in the store under another id: importing again would duplicate it.
    src = next(store.rglob("mnist-linf-0-1-certified-training-small-boxes-are-all-you-need.json"))
    entry = json.loads(src.read_text(encoding="utf-8"))
    entry["id"] = "sabr-mnist-submitted"
    (src.parent / "sabr-mnist-submitted.json").write_text(json.dumps(entry), encoding="utf-8")
    src.unlink()
    before = _snapshot(store)
    code, _, err = run("import", "sok-board", str(board), "--into", str(store))
    assert code == 1 and "duplicate of" in err and "nothing written" in err
    assert _snapshot(store) == before


def test_usage_errors(tmp_path):
    code, _, err = run("import", "sok-board", str(tmp_path / "missing.yml"), "--into", str(tmp_path))
    assert code == 2 and "no such file" in err
    (tmp_path / "b.yml").write_text("[]", encoding="utf-8")
    code, _, err = run("import", "no-such-importer", str(tmp_path / "b.yml"), "--into", str(tmp_path))
    assert code == 1 and "unknown importer 'no-such-importer'" in err
