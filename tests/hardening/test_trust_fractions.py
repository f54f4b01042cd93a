"""Fractions for percentages: certified_accuracy 0.94 (a fraction, not percent) would be re-verified,
confirmed and shown as "0.94 re-verified". With a model block it is an error unless the entry says
result.accuracy_below_one_percent: true."""

from __future__ import annotations

import pytest

from curator.board.approve import ApprovalRefused
from curator.verify.claim_checks import check_claim
from curator.verify.pipeline import VerifyError
from trustkit import approve_into, board, example, run, set_path, write_claim


def _errors(entry):
    from curator.api.registry import get_registry

    return [p for p in check_claim(entry, f"{entry['id']}.json", get_registry()) if p.severity == "error"]


def test_a_fraction_with_a_model_is_an_error(tmp_path):
    entry = set_path(example(), result__certified_accuracy=0.94)
    errors = _errors(entry)
    assert any(p.pointer == "/result/certified_accuracy" and "percent" in p.message for p in errors), errors
    path = write_claim(tmp_path / "claim", entry)
    with pytest.raises(VerifyError, match="accuracy_below_one_percent"):
        run(path, tmp_path, samples=2)


def test_approve_refuses_the_fraction_claim(tmp_path):
    entry = set_path(example(), result__certified_accuracy=0.94)
    path = write_claim(tmp_path / "claim", entry)
    honest = run(write_claim(tmp_path / "honest", example()), tmp_path, samples=2)
    with pytest.raises(ApprovalRefused, match="not a valid entry"):
        approve_into(board(tmp_path), path, honest, tmp_path)


def test_an_explicitly_marked_tiny_percentage_is_accepted():
    entry = set_path(example(), result__certified_accuracy=0.94, result__accuracy_below_one_percent=True)
    assert _errors(entry) == []
    legacy = set_path(example(), result__certified_accuracy=0.94)
    del legacy["model"]
    legacy["status"] = "legacy"
    assert _errors(legacy) == []  # no model: nothing to re-verify, still only a warning
