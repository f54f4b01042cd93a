"""The bundled ibp / crown / pgd plugins on a published model: Wong & Kolter 2018 (MNIST, ℓ∞ 0.1).

Published: certified (robust) error 5.8% on the 10,000 test images. CI runs an evenly spaced
slice (every 100th image); the slow test runs every 10th; bench/bench_bounds.py runs all 10,000.
"""

from __future__ import annotations

import math

import pytest
import torch

from curator.api import VerifyTask
from curator.api.registry import get_registry
from mnist_idx import mnist_test, wong_kolter_model

PUBLISHED_ROBUST_ERROR = 0.058
EPS = 0.1


def _task(model, x, y, idx, params=None, **kw) -> VerifyTask:
    return VerifyTask(model=model, inputs=x, labels=y, indices=idx, norm="linf", radius=EPS,
                      params=params or {}, num_classes=10, **kw)


def _run(shared, stride: int):
    model = wong_kolter_model(shared)
    x, y = mnist_test(shared)
    idx = list(range(0, 10000, stride))
    x, y = x[idx], y[idx]
    reg = get_registry()
    out = {}
    for name in ("ibp", "crown", "pgd"):
        out[name] = reg.verifier(name).verify(_task(model, x, y, idx))
    return model, x, y, out


@pytest.fixture(scope="module")
def wk100(shared):
    return _run(shared, 100)


def _binomial_tolerance(p: float, n: int, z: float = 3.0) -> float:
    return z * math.sqrt(p * (1 - p) / n)


def _check(model, x, y, out, tolerance: float):
    n = len(y)
    crown, ibp, pgd = out["crown"], out["ibp"], out["pgd"]
    assert all(r.status in ("certified", "not_certified") for r in crown + ibp)
    crown_acc = sum(r.certified_correct for r in crown) / n
    ibp_acc = sum(r.certified_correct for r in ibp) / n
    robust_error = 1 - crown_acc
    assert abs(robust_error - PUBLISHED_ROBUST_ERROR) <= tolerance, robust_error
    assert ibp_acc < crown_acc  # IBP is far looser on this (LP-trained) model
    # Per sample: ibp ⇒ crown.
    for a, b in zip(ibp, crown, strict=True):
        assert a.index == b.index
        if a.status == "certified":
            assert b.status == "certified"
    # The attack never breaks a certified sample, and its accuracy is an upper bound.
    pgd_acc = sum(r.status == "not_broken" for r in pgd) / n
    assert pgd_acc >= crown_acc
    for c, a in zip(crown, pgd, strict=True):
        if c.certified_correct:
            assert a.status == "not_broken", (c.index, a.extra.get("margin"))
    # Witnesses are real: re-executed here, they are misclassified and inside the ε-ball ∩ box.
    broken = [(i, r) for i, r in enumerate(pgd) if r.status == "broken"]
    assert broken, "PGD should break some samples of this model at ε = 0.1"
    for i, r in broken:
        w = r.extra["witness"]
        assert w.shape == x[i].shape
        assert float((w - x[i]).abs().max()) <= EPS + 1e-6 and float(w.min()) >= 0 and float(w.max()) <= 1
        with torch.no_grad():
            assert int(model(w[None]).argmax(1)) != int(y[i])
        assert r.extra["margin"] < 0


def test_wong_kolter_slice_reproduces_published_robust_error(wk100):
    model, x, y, out = wk100
    clean = sum(r.correct for r in out["crown"]) / len(y)
    assert clean >= 0.97  # published clean error 1.8%
    _check(model, x, y, out, tolerance=max(0.02, _binomial_tolerance(PUBLISHED_ROBUST_ERROR, len(y))))


def test_crown_respects_time_limit_and_reports_progress(shared):
    model = wong_kolter_model(shared)
    x, y = mnist_test(shared, 4)
    seen = []
    task = _task(model, x, y, [0, 1, 2, 3], params={"batch_size": 2}, time_limit=1e-9, progress=seen.append)
    res = get_registry().verifier("crown").verify(task)
    assert [r.status for r in res] == ["timeout"] * 4
    assert sum(seen) == 4


@pytest.mark.slow
def test_wong_kolter_every_tenth_image(shared):
    model, x, y, out = _run(shared, 10)
    _check(model, x, y, out, tolerance=0.01 + _binomial_tolerance(PUBLISHED_ROBUST_ERROR, len(y), z=2.0))
