"""Hardening: ids and paths from a submission never write outside the store.

Every hostile value is tried twice: through ``approve`` (the writer maintainers run, with the schema
and semantic checks in front) and straight at the store layer (``store.entry_path``/``write_entry``/
``report_path``), so the last line of defence is proven on its own. A sentinel folder beside the
board and the whole temp tree outside the board are snapshotted before and compared after.
``curator validate`` and ``verify``'s model URLs have their own escape tests
(tests/core/test_validate.py::test_symlink_escaping_the_folder_is_not_read,
tests/verify/test_pipeline.py::test_model_url_never_escapes_the_entry_folder).
"""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path

import pytest

from boardkit import git, init_board_repo, make_entry, make_report, repo_state, write
from curator.api.registry import Registry
from curator.board import store
from curator.board.approve import ApprovalRefused, approve
from curator.ci.layout import classify
from curator.core.errors import CuratorError

NO_PLUGINS = Registry()

# (field, value): each is a path trick a submitter could try.
HOSTILE = {
    "dotdot-id": ("id", "../../sentinel/pwn"),
    "dotdot-deep": ("id", "../" * 12 + "tmp/pwn"),
    "absolute-id": ("id", "/tmp/curator-pwn"),
    "dot-id": ("id", ".."),
    "backslash-id": ("id", "..\\..\\pwn"),
    "cyrillic-o-id": ("id", "dem\u043e-net-l2"),  # Cyrillic 'о' looks like 'o'
    "cyrillic-a-id": ("id", "\u0430-net"),  # Cyrillic 'а'
    "fullwidth-id": ("id", "\uff44emo-net"),
    "kelvin-id": ("id", "\u212aelvin"),  # folds to 'k' under case-insensitive matching
    "zero-width-id": ("id", "demo\u200b-net"),
    "nul-id": ("id", "demo\x00-net"),
    "newline-id": ("id", "demo-net\n"),
    "too-long-id": ("id", "a" * 129),
    "very-long-id": ("id", "a" * 5000),
    "upper-id": ("id", "Demo-Net"),
    "dotdot-dataset": ("dataset", "../../../sentinel"),
    "absolute-dataset": ("dataset", "/tmp"),
    "cyrillic-dataset": ("dataset", "cif\u0430r10"),
    "dotdot-norm": ("norm", "../l2"),
    "newline-norm": ("norm", "l2\n"),
}


def _with(entry: dict, field: str, value: str) -> dict:
    e = copy.deepcopy(entry)
    if field == "id":
        e["id"] = value
    else:
        e["setting"][field] = value
    return e


def tree(root: Path, skip: Path | None = None) -> dict[str, str]:
    """Every file and link under ``root`` (except under ``skip``) with its content hash."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if skip is not None and (d == skip or skip in d.parents):
            dirnames[:] = []
            continue
        for name in filenames + [n for n in dirnames if (d / n).is_symlink()]:
            p = d / name
            rel = p.relative_to(root).as_posix()
            out[rel] = "link:" + os.readlink(p) if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def world(tmp_path):
    board = init_board_repo(tmp_path / "board")
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "keep.txt").write_text("must not change\n")
    return board, sentinel


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_id_or_setting_through_approve_writes_nothing_anywhere(world, tmp_path, case):
    board, sentinel = world
    field, value = HOSTILE[case]
    entry = _with(make_entry(), field, value)
    sub = write(tmp_path / "sub" / "submission.json", entry)
    rep = write(tmp_path / "sub" / "report.json", make_report(entry))
    before_board, before_all = repo_state(board), tree(tmp_path, skip=board)
    with pytest.raises(CuratorError) as info:
        approve(sub, rep, store_root=board / "leaderboard", registry=NO_PLUGINS)
    assert isinstance(info.value, ApprovalRefused)
    assert repo_state(board) == before_board
    assert tree(tmp_path, skip=board) == before_all
    assert not Path("/tmp/curator-pwn").exists() and not Path("/tmp/pwn").exists()


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_values_refused_by_the_store_layer_itself(world, tmp_path, case):
    board, sentinel = world
    root = board / "leaderboard"
    field, value = HOSTILE[case]
    entry = _with(make_entry(), field, value)
    before = tree(tmp_path)
    with pytest.raises(store.StorePathError):
        store.write_entry(root, entry)
    if field == "id":
        with pytest.raises(store.StorePathError):
            store.write_report(root, value, {"x": 1})
        with pytest.raises(store.StorePathError):
            store.find_entry(root, value)
    assert tree(tmp_path) == before


@pytest.mark.parametrize("digest", ["../" + "a" * 61, "A" * 64, "a" * 64 + "\n", "a" * 63, "/" + "a" * 63])
def test_report_digest_must_be_a_sha256(world, digest):
    board, _ = world
    with pytest.raises(store.StorePathError):
        store.report_path(board / "leaderboard", "demo-net-l2", digest)


def _link_cases(board: Path, sentinel: Path) -> dict:
    lb = board / "leaderboard"

    def entries_dataset():
        (lb / "entries/cifar10").rename(board / "moved")
        (lb / "entries/cifar10").symlink_to(sentinel, target_is_directory=True)

    def norm_dir():
        (lb / "entries/cifar10/l2").rename(board / "moved")
        (lb / "entries/cifar10/l2").symlink_to(sentinel, target_is_directory=True)

    def reports_dir():
        (lb / "reports").symlink_to(sentinel, target_is_directory=True)

    def reports_id_dir():
        (lb / "reports").mkdir()
        (lb / "reports/demo-net-l2").symlink_to(sentinel, target_is_directory=True)

    def readme():
        (lb / "README.md").unlink()
        (lb / "README.md").symlink_to(sentinel / "keep.txt")

    def existing_entry_file():
        target = lb / "entries/cifar10/l2/demo-net-l2.json"
        target.symlink_to(sentinel / "keep.txt")

    def entry_link_inside_store():
        # a link to another stored entry: writing would silently rewrite that claim
        (lb / "entries/cifar10/l2/demo-net-l2.json").symlink_to(lb / "entries/cifar10/l2/old-a.json")

    return {"dataset-dir": entries_dataset, "norm-dir": norm_dir, "reports-dir": reports_dir,
            "reports-id-dir": reports_id_dir, "readme": readme, "existing-entry": existing_entry_file,
            "entry-to-entry": entry_link_inside_store}


@pytest.mark.parametrize("case", sorted(_link_cases(Path("b"), Path("s"))))
def test_committed_symlinks_inside_the_store_are_refused(world, tmp_path, case):
    board, sentinel = world
    _link_cases(board, sentinel)[case]()
    git(board, "add", "-A")
    git(board, "commit", "-qm", f"plant a link: {case}")
    entry = make_entry()
    sub = write(tmp_path / "sub" / f"{entry['id']}.json", entry)
    rep = write(tmp_path / "sub" / "report.json", make_report(entry))
    before_board, before_all = repo_state(board), tree(tmp_path, skip=board)
    sentinel_before = tree(sentinel)
    with pytest.raises(ApprovalRefused, match="symbolic link|escapes the store"):
        approve(sub, rep, store_root=board / "leaderboard", registry=NO_PLUGINS)
    assert repo_state(board) == before_board
    assert tree(tmp_path, skip=board) == before_all and tree(sentinel) == sentinel_before


def test_store_root_that_is_a_link_is_refused(world, tmp_path):
    board, sentinel = world
    (board / "real").mkdir()
    linked = tmp_path / "linked-store"
    linked.symlink_to(sentinel, target_is_directory=True)
    entry = make_entry()
    before = tree(sentinel)
    with pytest.raises(store.StorePathError, match="symbolic link"):
        store.write_entry(linked, entry)
    assert tree(sentinel) == before


@pytest.mark.parametrize("path", [
    "submissions/../leaderboard/entries/cifar10/l2/x.json",
    "submissions/x.json\n",
    "submissions/d\u0435mo.json",
    "submissions/" + "a" * 129 + ".json",
    "leaderboard/entries/../../x/l2/y.json",
    "leaderboard/entries/cifar10/l2/y.json\n",
])
def test_ci_never_takes_a_tricky_path_for_a_claim(path):
    kind, eid = classify(path)
    assert eid is None and kind not in ("submission", "entry")
