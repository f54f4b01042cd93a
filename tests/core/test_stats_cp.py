"""Clopper–Pearson bounds of curator.core.stats (computed with scipy.special.betaincinv) against values
known in closed form and against scipy.stats' beta quantile, to 1e-12."""

import sys

import pytest
from scipy.stats import beta

from curator.core.stats import cp_lower, cp_upper


@pytest.mark.parametrize("n", [1, 2, 10, 100, 100000])
@pytest.mark.parametrize("alpha", [0.001, 0.005, 0.05])
def test_closed_forms(n, alpha):
    # k = n: p^n = alpha; k = 0: (1-p)^n = alpha; k = 1 lower: 1-(1-p)^n = 1-alpha... i.e. Beta(1, n)
    assert cp_lower(n, n, alpha) == pytest.approx(alpha ** (1 / n), abs=1e-12)
    assert cp_upper(0, n, alpha) == pytest.approx(1 - alpha ** (1 / n), abs=1e-12)
    assert cp_lower(1, n, alpha) == pytest.approx(1 - (1 - alpha) ** (1 / n), abs=1e-12)
    assert cp_upper(n - 1, n, alpha) == pytest.approx((1 - alpha) ** (1 / n), abs=1e-12)


@pytest.mark.parametrize("k,n,alpha", [(300, 500, 0.005), (7, 20, 0.05), (99990, 100000, 0.001), (1, 3, 0.2),
                                       (50, 100, 0.0005), (120, 120, 0.001), (0, 7, 0.01)])
def test_same_values_as_scipy_stats_beta(k, n, alpha):
    lo = 0.0 if k == 0 else beta.ppf(alpha, k, n - k + 1)
    hi = 1.0 if k == n else beta.ppf(1 - alpha, k + 1, n - k)
    assert cp_lower(k, n, alpha) == pytest.approx(lo, abs=1e-12)
    assert cp_upper(k, n, alpha) == pytest.approx(hi, abs=1e-12)


def test_stats_module_does_not_import_scipy_stats():
    import subprocess

    code = "import sys, curator.core.stats; print('scipy.stats' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
