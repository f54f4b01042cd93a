"""The smoothing verifier against a classifier whose smoothed probability is known in closed form.

f(x) = 1 if w·x > b else 0. Under x + N(0, σ²I), P(f = 1) = Φ((w·x − b)/(σ‖w‖)), so the smoothed
classifier's exact ℓ2 robust radius is the distance |w·x − b|/‖w‖ to the hyperplane. A sound
certificate exceeds that radius in at most an α share of independent runs.
"""

import math

import pytest
from scipy.stats import binom, norm

from curator.api.registry import get_registry
from curator_plugins.smoothing import Smoothing, with_defaults
from curator_plugins.smoothing.certify import (
    look_alphas,
    look_schedule,
    norm_factor,
    radius_from_p,
    threshold,
)
from smoothingkit import Halfspace, task_for


def test_registered_through_the_entry_point():
    assert get_registry().verifier("smoothing").certification == "probabilistic"


def test_radius_formulas_and_thresholds_are_inverse():
    for noise in ("gaussian", "uniform", "laplace"):
        for r in (0.05, 0.3, 0.9):
            p = threshold(r, noise, 0.5)
            assert radius_from_p(p, noise, 0.5) == pytest.approx(r, rel=1e-9)
    assert radius_from_p(norm.cdf(1.0), "gaussian", 0.25) == pytest.approx(0.25)
    assert radius_from_p(0.75, "uniform", 1.0) == pytest.approx(0.5)  # 2λ(pA − ½)
    assert radius_from_p(0.75, "laplace", 1.0) == pytest.approx(-math.log(0.5))  # −λ log(2(1 − pA))
    assert radius_from_p(0.5, "gaussian", 1.0) == 0.0
    assert norm_factor("linf", "gaussian", 64) == 8.0 and norm_factor("l1", "gaussian", 64) == 1.0


def test_look_schedule_and_budget():
    looks = look_schedule(128, 2.0, 100000)
    assert looks[0] == 128 and looks[-1] == 100000 and looks == sorted(set(looks))
    a = look_alphas(len(looks), 0.001)
    assert sum(a) == pytest.approx(0.001) and a[-1] == 0.0005


@pytest.mark.parametrize("mode", ["certify", "sequential"])
def test_certified_radius_exceeds_true_radius_at_most_alpha_share(mode):
    sigma, alpha, runs = 0.5, 0.1, 300
    model = Halfspace([1.0, 0.0], 0.0)
    x = [0.3, 0.0]  # true radius 0.3, pA = Φ(0.6) ≈ 0.726
    true_radius = 0.3
    # in sequential mode the claimed radius is just above the truth: every "certified" is a false certificate
    claimed = true_radius * 1.02 if mode == "sequential" else 0.01
    params = {"sigma": sigma, "n0": 20, "n": 2000, "alpha": alpha, "batch_size": 4000, "mode": mode, "n_first": 50}
    results = Smoothing().verify(task_for(model, x, runs, claimed, params))
    assert len(results) == runs
    if mode == "certify":
        wrong = sum(1 for r in results if r.radius is not None and r.radius > true_radius)
        assert sum(r.status == "certified" for r in results) > runs // 2  # the test has power
    else:
        wrong = sum(1 for r in results if r.status == "certified")
    # at most an alpha share, with a binomial margin (a one-in-a-million false alarm)
    assert wrong <= binom.ppf(1 - 1e-6, runs, alpha), wrong


def test_sequential_certifies_easy_points_with_few_draws_and_agrees():
    model = Halfspace([1.0, 0.0], 0.0)
    params = {"sigma": 0.25, "n0": 100, "n": 100000, "alpha": 0.001, "batch_size": 100000}
    x = [1.0, 0.0]  # pA = Φ(4): radius about 0.9
    seq = Smoothing().verify(task_for(model, x, 3, 0.25, {**params, "mode": "sequential"}))
    cert = Smoothing().verify(task_for(model, x, 3, 0.25, params))
    for s, c in zip(seq, cert, strict=True):
        assert s.status == c.status == "certified"
        assert s.extra["n_used"] < 2000 and c.extra["n_used"] == 100100
    far = Smoothing().verify(task_for(model, [0.02, 0.0], 2, 0.25, {**params, "mode": "sequential"}))
    assert all(r.status != "certified" and r.extra["n_used"] < 5000 for r in far)


def test_abstains_on_a_coin_flip_and_labels_wrong_class():
    model = Halfspace([1.0, 0.0], 0.0)
    res = Smoothing().verify(task_for(model, [0.0, 0.0], 4, 0.1, {"sigma": 0.5, "n": 2000, "alpha": 0.01}))
    assert all(r.status == "abstain" and r.predicted == -1 for r in res)


def test_seeded_and_independent_of_batching():
    model = Halfspace([1.0, 0.0], 0.0)
    p = {"sigma": 0.5, "n": 3000, "alpha": 0.01}
    a = Smoothing().verify(task_for(model, [0.2, 0.0], 3, 0.1, {**p, "batch_size": 3000}, seed=5))
    b = Smoothing().verify(task_for(model, [0.2, 0.0], 3, 0.1, {**p, "batch_size": 3000}, seed=5))
    assert [r.extra["count"] for r in a] == [r.extra["count"] for r in b]
    c = Smoothing().verify(task_for(model, [0.2, 0.0], 3, 0.1, {**p, "batch_size": 3000}, seed=6))
    assert [r.extra["count"] for r in a] != [r.extra["count"] for r in c]


@pytest.mark.parametrize("noise", ["uniform", "laplace"])
def test_l1_noises_are_sound_on_a_halfspace(noise):
    # along a coordinate axis the l1 distance to the hyperplane x0 = 0 is |x0|; the smoothed
    # classifier's exact l1 radius for this axis-aligned halfspace is at least the certified one
    model = Halfspace([1.0, 0.0], 0.0)
    runs, alpha = 200, 0.1
    res = Smoothing().verify(task_for(model, [0.3, 0.0], runs, 0.01,
                                      {"sigma": 0.5, "n0": 20, "n": 2000, "alpha": alpha, "noise": noise}, norm="l1"))
    assert sum(r.status == "certified" for r in res) > runs // 2
    wrong = sum(1 for r in res if r.radius is not None and r.radius > 0.3)
    assert wrong <= binom.ppf(1 - 1e-6, runs, alpha)


def test_linf_goes_through_l2_and_says_so():
    v = Smoothing()
    note = v.threat_note("linf", 2 / 255, (1, 8, 8), {"sigma": 0.25})
    assert "l2" in note and "8" in note
    assert v.threat_note("l2", 0.5, (1, 8, 8), {"sigma": 0.25}) is None
    model = Halfspace([1.0] + [0.0] * 15, 0.0)
    x = [1.0] + [0.0] * 15
    res = v.verify(task_for(model, x, 1, 0.05, {"sigma": 0.25, "n": 5000}, norm="linf"))[0]
    # l2 radius R certifies the linf ball of radius R / sqrt(16)
    assert res.status == "certified" and res.radius == pytest.approx(norm.ppf(res.extra["p_lower"]) * 0.25 / 4)


def test_defaults():
    assert with_defaults({"sigma": 0.1})["n"] == 100000 and with_defaults({"sigma": 0.1})["n0"] == 100
