"""curator.board.render: ranking, ties, status labels, determinism and the committed README."""

from curator.board.render import group_by_setting, ranked_rows, render_markdown, status_label, write_readme
from factories import make_entry


def _e(eid, cert, **kw):
    e = make_entry(id=eid, **kw)
    e["result"] = {"certified_accuracy": cert}
    e["paper"] = dict(e["paper"], title=f"Paper {eid}", url=f"https://example.org/{eid}")
    return e


def test_rank_ties_share_a_rank():
    rows = ranked_rows([_e("a", 50), _e("b", 60), _e("c", 50), _e("d", 40)])
    assert [(r["rank"], r["id"]) for r in rows] == [(1, "b"), (2, "a"), (2, "c"), (4, "d")]


def test_status_labels_never_come_from_the_entry_itself():
    # An entry's own `reports[]` list proves nothing: only a stored report that passes
    # curator.board.reverification's checks makes a row re-verified (tests/board/test_reverification.py).
    report = {"path": "reports/x/" + "a" * 64 + ".json", "sha256": "a" * 64, "verdict": "confirmed", "date": "2026-01-01"}
    assert status_label(make_entry(status="verified", reports=[report])) == "claimed"
    assert status_label(make_entry(status="verified")) == "claimed"
    assert status_label(make_entry(status="legacy")) == "claimed"
    assert status_label(make_entry(status="disputed")) == "claimed (disputed)"
    note = {"state": "not-reverifiable", "reason": "no public weights"}
    assert status_label(make_entry(status="legacy", reverification=note)) == "not re-verifiable: no public weights"
    md = render_markdown([_e("x", 70, status="published", reports=[report]), _e("y", 80, status="refuted"),
                          _e("z", 60, status="legacy", reverification=note)])
    assert "re-verified](" not in md and report["path"] not in md
    assert "Paper y" not in md  # refuted claims are not listed
    assert "**0 of 2 rows re-verified (1 not re-verifiable, 1 claimed, not yet re-verified).**" in md


def test_settings_grouped_by_radius_value_and_ordered():
    a = _e("a", 50)
    b = _e("b", 40)
    b["setting"]["radius_text"] = "0.03137254902"
    b["setting"]["radius"] = 0.03137254902
    c = _e("c", 90)
    c["setting"] = {"dataset": "mnist", "norm": "linf", "radius": 0.1, "radius_text": "0.1"}
    groups = group_by_setting([a, b, c])
    assert [(s.dataset, s.radius_text, len(m)) for s, m in groups] == [("mnist", "0.1", 1), ("cifar10", "8/255", 2)]


def test_markdown_escapes_cells_and_is_deterministic():
    e = _e("pipe", 10)
    e["paper"]["title"] = "A | B [draft]"
    md1 = render_markdown([e, _e("z", 20)])
    md2 = render_markdown([_e("z", 20), e])
    assert md1 == md2
    assert "[A \\| B \\[draft\\]](https://example.org/pipe)" in md1
    assert md1.endswith("\n") and not md1.endswith("\n\n")


def test_committed_readme_is_current(repo):
    assert write_readme(repo / "leaderboard", check=True), "leaderboard/README.md is stale: run `curator render`"


def test_write_readme_and_check(tmp_path, repo):
    import shutil

    shutil.copytree(repo / "leaderboard" / "entries" / "mnist", tmp_path / "entries" / "mnist")
    assert write_readme(tmp_path, check=True) is False and not (tmp_path / "README.md").exists()
    assert write_readme(tmp_path) is False
    first = (tmp_path / "README.md").read_bytes()
    assert write_readme(tmp_path) is True and (tmp_path / "README.md").read_bytes() == first
    assert b"## MNIST, \xe2\x84\x93\xe2\x88\x9e, \xce\xb5 = 0.1" in first


def test_markdown_cells_of_each_state_and_the_supersede_link():
    from curator.board.reverification import RowState

    iv = {"value": 94.32, "lower": 93.71, "upper": 94.89, "confidence": 0.99}
    states = {
        "old": RowState("not-reverifiable", reason="no public weights", superseded_by="new"),
        "new": RowState("re-verified", certified=iv, clean=98.9, verifier="crown 1.0.0",
                        report="reports/new/" + "a" * 64 + ".json", n=10000),
        "low": RowState("unconfirmed", certified=dict(iv, value=50.0, lower=48.1, upper=51.9), verifier="crown 1.0.0",
                        report="reports/low/" + "b" * 64 + ".json", n=10000),
        "wait": RowState("pending", reason="public weights: x/y"),
    }
    import re

    md = render_markdown([_e("old", 94.18), _e("new", 94.18), _e("low", 83.09), _e("wait", 60)], states)
    md = re.sub(r" +\|", " |", md)  # tabulate pads the cells
    assert "| 94.32 [93.71, 94.89] |" in md
    assert f"[re-verified](reports/new/{'a' * 64}.json) · crown 1.0.0 · clean 98.90% |" in md
    assert "not re-verifiable: no public weights · see [new](#new) |" in md and '| <a id="new"></a>1 |' in md
    assert f"[unconfirmed](reports/low/{'b' * 64}.json) · crown 1.0.0 · lower bound 48.10% · clean" not in md
    assert f"[unconfirmed](reports/low/{'b' * 64}.json) · crown 1.0.0 · lower bound 48.10% |" in md
    assert "re-verification pending · public weights: x/y |" in md
    assert "**1 of 4 rows re-verified (1 unconfirmed, 1 not re-verifiable, 1 pending).**" in md
