"""``curator board annotate``: the maintainers' re-verification note, idempotent and all-or-nothing."""

import json
import shutil

from click.testing import CliRunner

from curator.cli import main
from curator.core.jsonio import read_json

WONG = "mnist-linf-0-1-provable-defenses-against-adversarial-examples"


def run(*args):
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def _snapshot(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_annotate_is_idempotent_and_renders(repo, tmp_path):
    store = tmp_path / "lb"
    shutil.copytree(repo / "leaderboard" / "entries" / "mnist", store / "entries" / "mnist")
    for p in (store / "entries").rglob("*.json"):  # back to a fresh import: legacy rows, no notes
        doc = read_json(p)
        if doc["status"] != "legacy":
            p.unlink()
            continue
        doc.pop("reverification", None)
        p.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    code, out, err = run("board", "annotate", WONG, "--store", str(store), "--state", "pending",
                         "--reason", "public weights", "--format", "json")
    assert code == 0, err
    assert len(json.loads(out)["written"]) == 1
    code, out, err = run("board", "annotate", "--all-legacy", "--store", str(store), "--state", "not-reverifiable",
                         "--reason", "no public weights", "--format", "json")
    doc = json.loads(out)
    total = len(list((store / "entries").rglob("*.json")))
    assert code == 0 and len(doc["written"]) == total - 1 and doc["readme"] == "written"
    assert read_json(next(store.rglob(f"{WONG}.json")))["reverification"] == {"state": "pending",
                                                                               "reason": "public weights"}
    readme = (store / "README.md").read_text()
    assert f"0 of {total} rows re-verified ({total - 1} not re-verifiable, 1 pending)" in readme
    before = _snapshot(store)
    code, out, _ = run("board", "annotate", "--all-legacy", "--store", str(store), "--state", "not-reverifiable",
                       "--reason", "no public weights")
    assert code == 0 and "annotated 0 entries" in out and _snapshot(store) == before
    assert run("render", "--store", str(store), "--check")[0] == 0


def test_annotate_refuses_unknown_ids_and_bad_arguments(repo, tmp_path):
    store = tmp_path / "lb"
    shutil.copytree(repo / "leaderboard" / "entries" / "mnist", store / "entries" / "mnist")
    before = _snapshot(store)
    code, _, err = run("board", "annotate", WONG, "no-such-entry", "--store", str(store), "--state", "pending",
                       "--reason", "x")
    assert code == 1 and "no-such-entry" in err and _snapshot(store) == before
    code, _, err = run("board", "annotate", WONG, "--store", str(store), "--state", "re-verified", "--reason", "x")
    assert code == 2  # a note can never say re-verified
    code, _, err = run("board", "annotate", WONG, "--store", str(store), "--state", "pending", "--reason", " ")
    assert code == 1 and "needs a reason" in err and _snapshot(store) == before
    code, _, err = run("board", "annotate", "--store", str(store), "--state", "pending", "--reason", "x")
    assert code == 2 and "--all-legacy" in err
