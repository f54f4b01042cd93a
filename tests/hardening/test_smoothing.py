"""Hardening: the smoothing certificate's failure rate stays within α, over many runs.

Extends tests/plugins/test_smoothing.py::test_certified_radius_exceeds_true_radius_at_most_alpha_share (one
pA, one α) to a grid: several known pA (from a coin-flip-close 0.6 to 0.99), several α, both CERTIFY
and the sequential mode, the claimed radius just above the exact one (the hardest case: any
certificate there is false). For a halfspace classifier under N(0, σ²I) the smoothed classifier's
exact ℓ2 radius is the distance to the plane, so a failure is exact, not estimated. Each cell
asserts failures ≤ the binomial 1 − 10⁻⁶ quantile of Bin(runs, α) (a sound method fails that
check with probability < 10⁻⁶ per cell), and the pooled failure rate over the grid is reported.
"""

from __future__ import annotations

import pytest
from scipy.stats import binom, norm

from curator_plugins.smoothing import Smoothing
from smoothingkit import Halfspace, task_for

SIGMA = 0.5
POOL = {"runs": 0, "failures": 0, "budget": 0.0}


def failures(mode: str, p_a: float, alpha: float, runs: int, n: int, seed: int) -> int:
    """Independent runs at a point with smoothed probability ``p_a``; how many certify a false radius."""
    true_radius = SIGMA * norm.ppf(p_a)
    x = [true_radius, 0.0]
    claimed = true_radius * 1.02
    params = {"sigma": SIGMA, "n0": 32, "n": n, "alpha": alpha, "batch_size": 8192, "mode": mode, "n_first": 64}
    results = Smoothing().verify(task_for(Halfspace([1.0, 0.0], 0.0), x, runs, claimed, params, seed=seed))
    assert len(results) == runs
    if mode == "certify":
        # the certified radius itself must not exceed the truth (and so neither may a certificate at `claimed`)
        bad = sum(1 for r in results if r.radius is not None and r.radius > true_radius)
        assert bad >= sum(r.status == "certified" for r in results)
    else:
        bad = sum(1 for r in results if r.status == "certified")
    POOL["runs"] += runs
    POOL["failures"] += bad
    POOL["budget"] += runs * alpha
    return bad


FAST_GRID = [(m, p, a) for m in ("certify", "sequential") for p, a in ((0.6, 0.2), (0.9, 0.1), (0.99, 0.05))]
SLOW_GRID = [(m, p, a) for m in ("certify", "sequential") for p in (0.55, 0.7, 0.8, 0.9, 0.97, 0.995)
             for a in (0.01, 0.05, 0.2)]


@pytest.mark.parametrize("mode,p_a,alpha", FAST_GRID)
def test_failure_rate_within_alpha_fast(mode, p_a, alpha):
    runs = 300
    bad = failures(mode, p_a, alpha, runs, n=1000, seed=11)
    assert bad <= binom.ppf(1 - 1e-6, runs, alpha), (mode, p_a, alpha, bad)


@pytest.mark.slow
@pytest.mark.parametrize("mode,p_a,alpha", SLOW_GRID)
def test_failure_rate_within_alpha_slow(mode, p_a, alpha):
    runs = 2000
    bad = failures(mode, p_a, alpha, runs, n=2000, seed=29)
    assert bad <= binom.ppf(1 - 1e-6, runs, alpha), (mode, p_a, alpha, bad)
    print(f"smoothing {mode} pA={p_a} alpha={alpha}: {bad}/{runs} false certificates; pooled {POOL}")


def test_the_check_has_power():
    """Control: a 'certificate' without the confidence bound (α = 0.5, a coin) fails far more often
    than α = 0.05 allows — the failure count is measuring something."""
    runs = 300
    bad = failures("certify", 0.9, 0.5, runs, n=1000, seed=3)
    assert bad > binom.ppf(1 - 1e-6, runs, 0.05), bad
