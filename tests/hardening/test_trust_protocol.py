"""Weak protocols: smoothing run at params.alpha 0.4999 with n = 100 while the claim
states certification.alpha 0.001, and lipschitz power iteration (1 iteration, safety 0), which is an
estimate, not an upper bound. Publishable claims must meet each verifier's floor, and the report says
which floor applied."""

from __future__ import annotations

import pytest
import torch

from curator.board.approve import ApprovalRefused
from curator.verify.claim_checks import check_claim
from curator.verify.pipeline import VerifyError
from trustkit import approve_into, board, confirmed_claim, deterministic_claim, example, run, set_path, write_claim


def _registry():
    from curator.api.registry import get_registry

    return get_registry()


def test_params_alpha_must_be_the_stated_certification_alpha(tmp_path):
    entry = set_path(example(), certification__params__alpha=0.4999, certification__params__n=100)
    errors = [p for p in check_claim(entry, "digits-smoothing.json", _registry()) if p.severity == "error"]
    assert any(p.pointer == "/certification/params/alpha" for p in errors), errors
    with pytest.raises(VerifyError, match="certification.alpha"):
        run(write_claim(tmp_path / "claim", entry), tmp_path)


def test_smoothing_below_its_floor_is_confirmed_but_never_published(tmp_path):
    # alpha stated consistently, but n = 100 noise draws: far below the floor of 10,000
    entry = set_path(example(), certification__params__n=100, certification__params__n0=20)
    path, report = confirmed_claim(tmp_path, entry)
    assert report["verdict"]["status"] == "confirmed" and report["totals"]["n"] == 360
    floor = report["protocol_floor"]
    assert floor["verifier"] == "smoothing" and "n >= 10,000" in floor["rule"]
    assert any("below 10,000" in p for p in floor["problems"])
    with pytest.raises(ApprovalRefused, match="protocol floor of smoothing"):
        approve_into(board(tmp_path), path, report, tmp_path)


def test_lipschitz_power_iteration_is_not_an_upper_bound_and_is_not_published(tmp_path):
    from curator.api import VerifyTask
    from plugins.lipschitz import margin_constants

    # one power iteration without safety factor underestimates the constant of a random net
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    task = VerifyTask(model=net, inputs=torch.rand(1, 1, 8, 8), labels=torch.zeros(1, dtype=torch.long), indices=[0],
                      norm="l2", radius=0.1, params={}, num_classes=10)
    exact = margin_constants(task, {"l2_method": "exact", "iterations": 200, "safety": 0.0})
    power = margin_constants(task, {"l2_method": "power", "iterations": 1, "safety": 0.0})
    assert bool((power < exact - 1e-6).any()), "power iteration is below the true constant somewhere"

    weak = {"l2_method": "power", "iterations": 1, "safety": 0.0}
    model = example()["model"]
    entry = deterministic_claim("digits-lipschitz-power", model, 1.5, params=weak, radius=0.05)
    path, report = confirmed_claim(tmp_path, entry, attack=None)
    assert report["verdict"]["status"] == "confirmed", report["verdict"]
    assert report["protocol_floor"]["verifier"] == "lipschitz" and report["protocol_floor"]["problems"]
    with pytest.raises(ApprovalRefused, match="l2_method"):
        approve_into(board(tmp_path), path, report, tmp_path)
