"""Randomized-smoothing certificates: Cohen et al.'s CERTIFY and a sequential test of the same claim.

The smoothed classifier is ``g(x) = argmax_c P(f(x + ε) = c)`` for noise ε. If the top class has
probability ``pA`` then ``g`` is constant on a ball whose radius depends on the noise:

* Gaussian N(0, σ²I), ℓ2 (Cohen, Rosenfeld & Kolter 2019, Thm. 1): ``R = σ·Φ⁻¹(pA)``.
* Uniform U[-λ, λ]^d, ℓ1 (Yang et al. 2020, "Randomized smoothing of all shapes and sizes";
  also Lee et al. 2019): ``R = 2λ·(pA − ½)`` — moving by δ moves at most ``‖δ‖₁/(2λ)`` of the
  probability mass, because the shifted cube overlaps the cube in volume ``∏(1 − |δᵢ|/2λ)``.
* Laplace with scale λ, ℓ1 (Teng et al. 2020): ``R = −λ·log(2(1 − pA))``.

Here σ (the ``sigma`` parameter) is the scale parameter of each distribution: the standard
deviation for Gaussian noise, the half-width λ for uniform noise, the Laplace scale λ.
All radii are monotone in pA, so "certified at radius r" ⇔ ``pA_lower ≥ p*(r)`` with
``p* = radius⁻¹(r)`` (:func:`threshold`).

Probabilistic guarantee (both modes): for every input x, with probability at least 1 − α over the
noise drawn for x, if the procedure returns class c with radius R (status ``certified``), then the
smoothed classifier g returns c everywhere on the ball of radius R around x. The classifier that
is certified is g, not the base network f. ``mode: certify`` is Cohen et al.'s CERTIFY exactly
(N0 selection draws, N estimation draws, one-sided Clopper–Pearson lower bound at level α,
abstain when it is ≤ ½); ``mode: sequential`` is proved in docs/smoothing.md.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from scipy.stats import norm as _normal

from curator.api.stats import cp_lower, cp_upper

from .noise import NATIVE_NORM


class TimeLimit(Exception):
    pass


def radius_from_p(p: float, noise: str, sigma: float) -> float:
    """Certified radius (in the noise's native norm) for a lower bound ``p`` on pA; 0 when p ≤ ½."""
    if p <= 0.5:
        return 0.0
    if noise == "gaussian":
        return float(sigma * _normal.ppf(p))
    if noise == "uniform":
        return float(2.0 * sigma * (p - 0.5))
    if noise == "laplace":
        return float(-sigma * math.log(2.0 * (1.0 - p))) if p < 1.0 else math.inf
    raise ValueError(f"unknown noise {noise!r}")


def threshold(r: float, noise: str, sigma: float) -> float:
    """``p*(r)``: the smallest pA whose radius is ≥ r (native norm)."""
    if noise == "gaussian":
        return float(_normal.cdf(r / sigma))
    if noise == "uniform":
        return 0.5 + r / (2.0 * sigma)
    if noise == "laplace":
        return 1.0 - 0.5 * math.exp(-r / sigma)
    raise ValueError(f"unknown noise {noise!r}")


def norm_factor(task_norm: str, noise: str, dim: int) -> float:
    """c such that the task-norm ball of radius r lies inside the native-norm ball of radius c·r.

    ‖δ‖₂ ≤ ‖δ‖₁, ‖δ‖₂ ≤ √d‖δ‖∞, ‖δ‖₁ ≤ √d‖δ‖₂, ‖δ‖₁ ≤ d‖δ‖∞.
    """
    native = NATIVE_NORM[noise]
    if task_norm == native:
        return 1.0
    table = {
        ("l2", "linf"): math.sqrt(dim),
        ("l2", "l1"): 1.0,
        ("l1", "l2"): math.sqrt(dim),
        ("l1", "linf"): float(dim),
    }
    return table[(native, task_norm)]


def draw_noise(shape: tuple[int, ...], noise: str, sigma: float, gen: torch.Generator, device: str) -> torch.Tensor:
    if noise == "gaussian":
        return torch.randn(shape, generator=gen, device=device) * sigma
    if noise == "uniform":
        return (torch.rand(shape, generator=gen, device=device) * 2.0 - 1.0) * sigma
    if noise == "laplace":
        # difference of two Exp(1) variables is Laplace(0, 1); 1 - U lies in (0, 1] so log is finite
        e1 = -torch.log1p(-torch.rand(shape, generator=gen, device=device))
        e2 = -torch.log1p(-torch.rand(shape, generator=gen, device=device))
        return (e1 - e2) * sigma
    raise ValueError(f"unknown noise {noise!r}")


@dataclass
class Sampler:
    """Draws noisy copies of one input in batches and counts the base classifier's votes."""

    model: torch.nn.Module
    x: torch.Tensor  # one input, shape [*input_shape], on device
    num_classes: int
    noise: str
    sigma: float
    batch_size: int
    gen: torch.Generator
    device: str
    deadline: float | None = None
    forward_passes: int = 0

    @torch.no_grad()
    def counts(self, num: int) -> torch.Tensor:
        out = torch.zeros(self.num_classes, dtype=torch.long)
        remaining = num
        while remaining > 0:
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise TimeLimit()
            m = min(self.batch_size, remaining)
            batch = self.x.unsqueeze(0).expand(m, *self.x.shape)
            noisy = batch + draw_noise(tuple(batch.shape), self.noise, self.sigma, self.gen, self.device)
            pred = self.model(noisy).argmax(dim=1)
            out += torch.bincount(pred.cpu(), minlength=self.num_classes)[: self.num_classes]
            remaining -= m
            self.forward_passes += m
        return out


@dataclass
class Outcome:
    predicted: int  # -1: abstain
    certified: bool
    radius: float | None  # native norm; None when abstaining
    p_lower: float
    count: int  # votes for the selected class among the estimation draws
    n_used: int  # forward passes including selection
    looks: int = 1
    extra: dict = field(default_factory=dict)


def certify(sampler: Sampler, n0: int, n: int, alpha: float, r_native: float) -> Outcome:
    """Cohen et al. 2019 CERTIFY: select cA from n0 draws, estimate from n fresh draws."""
    c_a = int(sampler.counts(n0).argmax())
    n_a = int(sampler.counts(n)[c_a])
    p_lower = cp_lower(n_a, n, alpha)
    if p_lower <= 0.5:
        return Outcome(-1, False, None, p_lower, n_a, sampler.forward_passes)
    radius = radius_from_p(p_lower, sampler.noise, sampler.sigma)
    return Outcome(c_a, radius >= r_native, radius, p_lower, n_a, sampler.forward_passes)


def look_schedule(n_first: int, growth: float, n_max: int) -> list[int]:
    """Cumulative sample counts at which the sequential test looks: n_first·growth^k, capped, ending at n_max."""
    looks: list[int] = []
    m = float(max(1, min(n_first, n_max)))
    while int(m) < n_max:
        if not looks or int(m) > looks[-1]:
            looks.append(int(m))
        m *= growth
    looks.append(n_max)
    return looks


def look_alphas(k: int, alpha: float) -> list[float]:
    """Error budget per look: half of α on the last look (where the close calls are decided), the
    other half split evenly over the earlier looks; the sum is exactly α (Bonferroni)."""
    if k == 1:
        return [alpha]
    early = alpha / 2.0 / (k - 1)
    return [early] * (k - 1) + [alpha / 2.0]


def sequential(sampler: Sampler, n0: int, n: int, alpha: float, r_native: float,
               n_first: int, growth: float) -> Outcome:
    """Decide "certified at r" ⇔ pA_lower ≥ p*(r), looking at geometrically spaced sample counts.

    At look k (cumulative m_k draws, s_k votes for cA) with budget α_k: certified as soon as the
    one-sided Clopper–Pearson lower bound at level α_k is ≥ p* (and > ½); not certified as soon as
    the upper bound at level α_k is < p*, or no later look could certify even if every remaining
    draw voted for cA (curtailment); otherwise draw up to the next look. Σ α_k = α, so with
    probability ≥ 1 − α every lower bound of every look holds at once, whichever look stops
    (proof in docs/smoothing.md). The radius reported is the one the stopping look's bound gives.
    """
    p_star = threshold(r_native, sampler.noise, sampler.sigma)
    c_a = int(sampler.counts(n0).argmax())
    looks = look_schedule(n_first, growth, n)
    alphas = look_alphas(len(looks), alpha)
    drawn = successes = 0
    p_lower = 0.0
    for k, (m_k, a_k) in enumerate(zip(looks, alphas, strict=True), start=1):
        successes += int(sampler.counts(m_k - drawn)[c_a])
        drawn = m_k
        p_lower = cp_lower(successes, drawn, a_k)
        radius = radius_from_p(p_lower, sampler.noise, sampler.sigma)
        if p_lower > 0.5 and radius >= r_native:
            return Outcome(c_a, True, radius, p_lower, successes, sampler.forward_passes, k, {"p_star": p_star})
        if (cp_upper(successes, drawn, a_k) < p_star or k == len(looks)
                or cannot_certify(successes, drawn, looks[k:], alphas[k:], r_native, sampler)):
            if p_lower <= 0.5:
                return Outcome(-1, False, None, p_lower, successes, sampler.forward_passes, k, {"p_star": p_star})
            return Outcome(c_a, False, radius, p_lower, successes, sampler.forward_passes, k, {"p_star": p_star})
    raise AssertionError("unreachable: the last look always decides")


def cannot_certify(successes: int, drawn: int, later_looks: list[int], later_alphas: list[float], r_native: float,
                   sampler: Sampler) -> bool:
    """Curtailment: True when no later look could certify even if every remaining draw voted for cA.
    Stopping then changes no decision (and so no guarantee); it saves the draws of samples whose
    claimed radius is out of reach of n draws (e.g. r = 4σ, where even pA = 1 gives σ·Φ⁻¹(α^(1/n)) < r)."""
    for m, a in zip(later_looks, later_alphas, strict=True):
        best = cp_lower(successes + (m - drawn), m, a)
        if best > 0.5 and radius_from_p(best, sampler.noise, sampler.sigma) >= r_native:
            return False
    return True


def sample_generator(seed: int, index: int, device: str) -> torch.Generator:
    """A generator seeded from (run seed, test index): a sample's noise does not depend on how the
    run is sharded or batched, so shards reproduce the unsharded run exactly."""
    gen = torch.Generator(device=device)
    gen.manual_seed((int(seed) * 1_000_003 + int(index)) % (2**63 - 1))
    return gen


