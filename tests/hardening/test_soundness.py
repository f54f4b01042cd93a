"""Hardening: soundness of every deterministic verifier on the real artifacts in ../shared.

For the Wong-Kolter 2018 MNIST model (ℓ∞ 0.1) and the VNN-COMP 2022 ``mnist_fc`` nets, every
sample that *any* verifier plugin (ibp, crown, lipschitz, milp) certifies is attacked with the
``pgd`` plugin with more restarts than the default 3 × 50 (fast: 8 × 50; slow: 20 × 100), aimed at the certified class:
none may be broken. And no instance that VNN-COMP's official answers mark ``sat`` (a
counterexample exists) is ever certified by any of them, through the plugin interface. Counts of
certificates and attacks are printed (``-s``) and reported in docs/security.md.

Fast: a slice (6 Wong-Kolter images, 16 images of the 256x2 net with MILP on 6, three of its
``sat`` instances, MILP on one). ``--slow``: 100 Wong-Kolter images with MILP on 10 of them, all three nets at
ε 0.02 and 0.03 on 60 images each with MILP on 15, and all 18 ``sat`` instances.
"""

from __future__ import annotations

import csv

import pytest
import torch

from curator.api import VerifyTask
from curator.api.registry import get_registry
from curator.engines.onnx import onnx_to_torch
from curator.engines.vnnlib import read_vnnlib
from mnist_idx import mnist_test, wong_kolter_model

VNN = ("artifacts", "vnncomp2022-mnist_fc")
DEFAULT_PGD = {"restarts": 3, "steps": 50}  # plugins/pgd defaults
FAST_PGD = {"restarts": 6, "steps": 50}  # more restarts than the default; CI's 2 cores allow this much
STRONG_PGD = {"restarts": 20, "steps": 100}
TOTALS = {"certified": 0, "attacked": 0, "broken": 0, "sat_checked": 0}


def _task(model, x, y, norm, eps, params=None, time_limit=None, shape_idx=None):
    return VerifyTask(model=model, inputs=x, labels=y, indices=list(shape_idx if shape_idx is not None else range(len(y))),
                      norm=norm, radius=eps, params=params or {}, num_classes=10, time_limit=time_limit)


def attack_every_certificate(model, x, y, eps, verifiers, milp_first=0, pgd=STRONG_PGD):
    """Run the verifiers, then the strong attack on every sample any of them certified."""
    reg = get_registry()
    certified: dict[int, tuple[int, str]] = {}
    for name in verifiers:
        xs, ys = (x[:milp_first], y[:milp_first]) if name == "milp" else (x, y)
        if len(ys) == 0:
            continue
        params = {"time_limit": 20} if name == "milp" else {}
        results = reg.verifier(name).verify(_task(model, xs, ys, "linf", eps, params, time_limit=30 if name == "milp" else None))
        assert len(results) == len(ys)
        for i, r in enumerate(results):
            if r.status == "certified":
                if i in certified:  # two verifiers certifying one point must agree on its class
                    assert certified[i][0] == r.predicted, (i, certified[i], name, r.predicted)
                certified.setdefault(i, (r.predicted, name))
    if not certified:
        return 0
    rows = sorted(certified)
    target = torch.tensor([certified[i][0] for i in rows])
    attack = reg.verifier("pgd").verify(_task(model, x[rows], target, "linf", eps, pgd, shape_idx=rows))
    TOTALS["certified"] += len(rows)
    TOTALS["attacked"] += len(rows)
    broken = [(rows[k], certified[rows[k]][1], a.status, a.extra.get("margin")) for k, a in enumerate(attack)
              if a.status in ("broken", "misclassified")]
    TOTALS["broken"] += len(broken)
    assert not broken, f"certified samples broken by PGD: {broken}"
    return len(rows)


def _vnn_model(shared, net: str, shape):
    return onnx_to_torch(shared.joinpath(*VNN, "onnx", f"mnist-net_{net}.onnx.gz"), input_shape=shape)


def _wk(shared, n, stride, milp_first, pgd):
    model = wong_kolter_model(shared)
    x, y = mnist_test(shared)
    idx = list(range(0, stride * n, stride))
    count = attack_every_certificate(model, x[idx], y[idx], 0.1, ["ibp", "crown", "lipschitz", "milp"], milp_first, pgd)
    print(f"wong-kolter: {count}/{n} certified by some verifier, all survived {pgd} PGD")
    assert count > 0.5 * n  # the published certified accuracy is 94.2%: the check is not vacuous


def _fc(shared, net, n, eps, milp_first, pgd):
    model = _vnn_model(shared, net, (1, 28, 28))
    x, y = mnist_test(shared, n)
    count = attack_every_certificate(model, x, y, eps, ["ibp", "crown", "lipschitz", "milp"], milp_first, pgd)
    print(f"mnist_fc {net} eps {eps}: {count}/{n} certified, none broken")
    assert count > 0


def test_wong_kolter_certificates_survive_a_stronger_attack(shared):
    _wk(shared, 6, 1666, 0, FAST_PGD)


def test_mnist_fc_256x2_certificates_survive_a_stronger_attack(shared):
    _fc(shared, "256x2", 16, 0.02, 6, FAST_PGD)


@pytest.mark.slow
def test_wong_kolter_slow(shared):
    _wk(shared, 100, 100, 10, STRONG_PGD)


@pytest.mark.slow
@pytest.mark.parametrize("net", ["256x2", "256x4", "256x6"])
@pytest.mark.parametrize("eps", [0.02, 0.03])
def test_mnist_fc_slow(shared, net, eps):
    _fc(shared, net, 60, eps, 15, STRONG_PGD)


def _sat_instances(shared):
    base = shared.joinpath(*VNN)
    truth = {r["instance"]: r["true_result"] for r in csv.DictReader(open(base / "true_results.csv"))}
    return sorted((k.split("-")[1].removeprefix("net_"), k.split("-", 2)[2]) for k, v in truth.items() if v == "sat")


def _no_sat_certified(shared, instances, verifiers):
    reg = get_registry()
    models = {}
    for net, prop_name in instances:
        if net not in models:
            models[net] = _vnn_model(shared, net, (784,))
        prop = read_vnnlib(shared.joinpath(*VNN, "vnnlib", f"{prop_name}.vnnlib.gz"))
        centre, eps = prop.linf_ball()
        x = torch.tensor(centre, dtype=torch.float32).reshape(1, 784)
        y = torch.tensor([prop.label])
        for name in verifiers:
            params = {"time_limit": 60} if name == "milp" else {}
            (r,) = reg.verifier(name).verify(_task(models[net], x, y, "linf", float(eps), params, time_limit=60))
            assert r.status != "certified", (net, prop_name, name)
            TOTALS["sat_checked"] += 1


def test_no_sat_instance_is_certified_fast(shared):
    sat = [s for s in _sat_instances(shared) if s[0] == "256x2"][:3]
    _no_sat_certified(shared, sat, ["ibp", "crown", "lipschitz"])
    _no_sat_certified(shared, sat[:1], ["milp"])


@pytest.mark.slow
def test_no_sat_instance_is_certified_all_18(shared):
    sat = _sat_instances(shared)
    assert len(sat) == 18
    _no_sat_certified(shared, sat, ["ibp", "crown", "lipschitz", "milp"])
    print(f"soundness totals: {TOTALS}")
