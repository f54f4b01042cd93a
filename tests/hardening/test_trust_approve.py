"""A forged verdict: a hand-set "confirmed" on a report whose samples certify nothing must not be approved.
approve (and ci publish) recompute totals, interval and verdict from the per-sample arrays and refuse any
difference."""

from __future__ import annotations

import copy

import pytest

from curator.board.approve import ApprovalRefused
from trustkit import approve_into, board, deterministic_claim, run, write_claim, zero_network


@pytest.fixture(scope="module")
def refuted(tmp_path_factory):
    """A real run: an all-zero network certifies 0 of the 360 digits, the claim says 50%."""
    tmp = tmp_path_factory.mktemp("zero")
    weights, model = zero_network(tmp / "claim")
    entry = deterministic_claim("zero-net-forged", model, 50.0)
    path = write_claim(tmp / "claim", entry, weights)
    report = run(path, tmp, attack=None)
    assert report["totals"]["certified_correct"] == 0 and report["verdict"]["status"] == "refuted"
    return path, report


def test_a_forged_confirmed_verdict_is_refused(refuted, tmp_path):
    path, report = refuted
    forged = copy.deepcopy(report)
    forged["verdict"] = {"status": "confirmed", "reason": "claimed 50.00% is inside the interval"}
    with pytest.raises(ApprovalRefused, match="recomputed verdict is refuted"):
        approve_into(board(tmp_path), path, forged, tmp_path)


def test_forged_totals_and_interval_are_refused(refuted, tmp_path):
    path, report = refuted
    forged = copy.deepcopy(report)
    forged["totals"].update(certified_correct=180, certified=180)
    forged["certified_accuracy"].update(value=50.0, lower=43.2, upper=56.8, successes=180)
    forged["verdict"] = {"status": "confirmed", "reason": "claimed 50.00% is inside the interval"}
    with pytest.raises(ApprovalRefused, match="stored totals differs") as info:
        approve_into(board(tmp_path), path, forged, tmp_path)
    assert "stored certified_accuracy differs" in str(info.value)


def test_ci_publish_uses_the_same_check(refuted):
    from curator.ci.errors import CiError
    from curator.ci.publish import check_report_binding
    from curator.core.jsonio import read_json

    path, report = refuted
    forged = copy.deepcopy(report)
    forged["verdict"] = {"status": "confirmed", "reason": "forged"}
    out = path.parent / "forged-report.json"
    out.write_text(__import__("json").dumps(forged))
    with pytest.raises(CiError, match="recomputed verdict is refuted"):
        check_report_binding(read_json(path), out)
