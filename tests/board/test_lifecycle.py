"""The claim lifecycle: allowed moves only, each recorded in history."""

from __future__ import annotations

import pytest

from boardkit import make_entry
from curator.board import lifecycle
from curator.board.lifecycle import STATUSES, TRANSITIONS, LifecycleError, supersede, transition
from curator.core.schemas import ENTRY_SCHEMA_ID, validate

ALLOWED = {("submitted", "verified"), ("verified", "published"), ("published", "disputed"),
           ("disputed", "refuted"), ("disputed", "published"), ("legacy", "verified")}


def test_transition_table_is_exactly_the_documented_one():
    assert {(a, b) for a, nexts in TRANSITIONS.items() for b in nexts} == ALLOWED
    assert set(TRANSITIONS) == set(STATUSES)


@pytest.mark.parametrize("old", STATUSES)
@pytest.mark.parametrize("new", STATUSES)
def test_every_pair(old, new):
    e = make_entry(status=old)
    kw = {"report": "reports/x/y.json", "reason": "maintainer decision", "date": "2026-11-30T00:00:00Z"}
    if (old, new) in ALLOWED:
        out = transition(e, new, **kw)
        assert out["status"] == new and e["status"] == old
        assert out["history"][-1] == {"status": new, "date": kw["date"], "report": kw["report"], "reason": kw["reason"]}
        assert validate(out, ENTRY_SCHEMA_ID) == []
    else:
        with pytest.raises(LifecycleError, match="not allowed"):
            transition(e, new, **kw)


def test_verification_needs_a_report_and_disputes_need_a_reason():
    with pytest.raises(LifecycleError, match="report"):
        transition(make_entry(status="legacy"), "verified")
    with pytest.raises(LifecycleError, match="reason"):
        transition(make_entry(status="published"), "disputed")
    with pytest.raises(LifecycleError, match="final"):
        transition(make_entry(status="refuted"), "published", reason="x")


def test_full_path_keeps_every_step():
    e = make_entry()
    e = transition(e, "verified", report="reports/a/1.json", date="d1")
    e = transition(e, "published", date="d2")
    e = transition(e, "disputed", reason="attack breaks 3 samples", date="d3")
    e = transition(e, "published", reason="attack was on the wrong model", date="d4")
    assert [h["status"] for h in e["history"]] == ["verified", "published", "disputed", "published"]


def test_supersede_keeps_previous_values():
    old = transition(make_entry(certified=60.0), "verified", report="reports/a/1.json", date="d1")
    new = make_entry(certified=63.0, clean=80.0)
    out = supersede(old, new, "verified", reason="bigger n", report="reports/a/2.json", date="d2")
    assert out["result"] == {"certified_accuracy": 63.0, "clean_accuracy": 80.0, "n_samples": 500,
                             "sample_selection": {"kind": "every_kth", "k": 20}}
    item = out["history"][-1]
    assert item["previous"] == {"result.certified_accuracy": 60.0, "result.clean_accuracy": 75.0,
                                "status": "verified"}
    assert out["history"][0] == old["history"][0]
    assert validate(out, ENTRY_SCHEMA_ID) == []
    with pytest.raises(LifecycleError, match="reason"):
        supersede(old, new, "verified", reason=" ", report="r")
    refuted = dict(old, status="refuted")
    with pytest.raises(LifecycleError, match="refuted"):
        supersede(refuted, new, "verified", reason="x", report="r")


def test_changed_numbers_only_reports_numbers():
    a = make_entry()
    b = make_entry(title="another title", certified=61.0)
    assert lifecycle.changed_numbers(a, b) == {"result.certified_accuracy": 60.0}
    assert "paper.title" in lifecycle.changed_claim_values(a, b)
