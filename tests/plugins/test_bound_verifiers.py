"""The ``ibp`` and ``crown`` verifiers on a small network: statuses, ibp ⇒ crown, soundness
against the attack, unsupported models."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from curator.api import VerifyTask
from curator.api.registry import get_registry
from curator.core.errors import CuratorError


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(144, 16), nn.ReLU(),
                         nn.Linear(16, 3)).eval()


@pytest.mark.parametrize("norm,eps", [("linf", 0.01), ("l2", 0.02), ("l1", 0.02)])
def test_ibp_implies_crown_and_no_certificate_is_broken(norm, eps):
    model = _model()
    x = torch.rand(60, 1, 14, 14, generator=torch.Generator().manual_seed(0))
    y = model(x).argmax(1)
    y[::7] = (y[::7] + 1) % 3
    reg = get_registry()
    task = VerifyTask(model=model, inputs=x, labels=y, indices=list(range(60)), norm=norm, radius=eps,
                      params={}, num_classes=3)
    ibp = reg.verifier("ibp").verify(task)
    crown = reg.verifier("crown").verify(VerifyTask(**{**task.__dict__, "params": {"batch_size": 7}}))
    crown_ibp = reg.verifier("crown").verify(VerifyTask(**{**task.__dict__, "params": {"intermediate": "ibp"}}))
    pgd = reg.verifier("pgd").verify(VerifyTask(**{**task.__dict__, "radius": eps}))
    n_ibp = sum(r.status == "certified" for r in ibp)
    n_crown = sum(r.status == "certified" for r in crown)
    assert 0 < n_ibp <= sum(r.status == "certified" for r in crown_ibp) <= n_crown
    assert n_ibp < n_crown
    with torch.no_grad():
        clean = model(x).argmax(1)
    for a, b, c, p in zip(ibp, crown_ibp, crown, pgd, strict=True):
        assert a.predicted == b.predicted == c.predicted == int(clean[a.index])
        if a.status == "certified":
            assert c.status == "certified" and b.status == "certified"
        if c.status == "certified" and c.correct:
            assert p.status == "not_broken"
        assert c.extra["margin_lower_bound"] >= a.extra["margin_lower_bound"] - 1e-6


def test_unsupported_model_is_a_clear_error():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.Sigmoid()).eval()
    task = VerifyTask(model=model, inputs=torch.rand(2, 4), labels=torch.tensor([0, 1]), indices=[0, 1],
                      norm="linf", radius=0.1, params={}, num_classes=3)
    with pytest.raises(CuratorError, match="Sigmoid"):
        get_registry().verifier("crown").verify(task)


@pytest.mark.parametrize("name", ["ibp", "crown", "lipschitz"])
@pytest.mark.parametrize("norm", ["linf", "l2", "l1"])
def test_per_sample_radii_give_each_row_the_answer_of_its_own_radius(name, norm):
    model = _model()
    x = torch.rand(12, 1, 14, 14, generator=torch.Generator().manual_seed(1))
    y = model(x).argmax(1)
    top = {"linf": 0.1, "l2": 1.0, "l1": 4.0}[norm]
    radii = torch.linspace(0.0, top, 12, dtype=torch.float64)
    verifier = get_registry().verifier(name)
    assert verifier.per_sample_radius
    together = verifier.verify(VerifyTask(model=model, inputs=x, labels=y, indices=list(range(12)), norm=norm,
                                          radius=float(radii.max()), params={"batch_size": 5}, num_classes=3,
                                          radii=radii))
    key = "margin_slack" if name == "lipschitz" else "margin_lower_bound"
    statuses = set()
    for i, res in enumerate(together):
        alone = verifier.verify(VerifyTask(model=model, inputs=x[i:i + 1], labels=y[i:i + 1], indices=[i], norm=norm,
                                           radius=float(radii[i]), params={}, num_classes=3))[0]
        assert (res.index, res.status, res.predicted) == (alone.index, alone.status, alone.predicted)
        assert res.extra[key] == pytest.approx(alone.extra[key], rel=1e-4, abs=1e-5)
        statuses.add(res.status)
    assert statuses == {"certified", "not_certified"}  # the radii span both answers


def test_bounded_network_is_converted_once_per_weights_version():
    from curator.engines.bounds.certify import bounded_network

    model = _model()
    x = torch.rand(2, 1, 14, 14)
    task = VerifyTask(model=model, inputs=x, labels=torch.zeros(2, dtype=torch.long), indices=[0, 1], norm="linf",
                      radius=0.01, params={}, num_classes=3)
    first = bounded_network(task)
    assert bounded_network(task) is first
    with torch.no_grad():
        model[0].weight.mul_(2.0)  # an in-place update: a fresh conversion with the new weights
    second = bounded_network(task)
    assert second is not first
    assert torch.allclose(second(x), model(x), atol=1e-5)
    assert bounded_network(task, torch.float64) is not second


def test_crown_alpha_params_are_validated_and_never_looser():
    from jsonschema import Draft202012Validator

    reg = get_registry()
    crown = reg.verifier("crown")
    model = _model()
    x = torch.rand(8, 1, 14, 14, generator=torch.Generator().manual_seed(1))
    y = model(x).argmax(1)

    def run(params):
        task = VerifyTask(model=model, inputs=x, labels=y, indices=list(range(8)), norm="linf", radius=0.03,
                          params=params, num_classes=3)
        return [r.extra["margin_lower_bound"] for r in crown.verify(task)]

    plain, tuned = run({}), run({"alpha_iterations": 10, "alpha_lr": 0.2})
    assert all(t >= p - 1e-6 for p, t in zip(plain, tuned, strict=True)) and sum(tuned) > sum(plain)
    validator = Draft202012Validator(crown.params_schema)
    assert validator.is_valid({"alpha_iterations": 20, "alpha_lr": 0.5})
    assert not validator.is_valid({"alpha_iterations": -1}) and not validator.is_valid({"alpha_lr": 0})
