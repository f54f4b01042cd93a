"""Exact binomial statistics and the verdict rules of ``curator verify``.

Every interval here is Clopper–Pearson (the "exact" binomial interval obtained by inverting two
one-sided binomial tests): its coverage is at least the nominal level for every n and every true
proportion, which is what a certificate or a verdict may rely on (a normal approximation may
under-cover at small n or near 0 and 1). The beta quantile (``scipy.special.betaincinv``, the inverse regularized incomplete beta
function) gives it exactly; ``scipy.stats`` is not imported because its import alone costs about a second
per CLI call.

The verdict rules are spelled out, with the numbers used, in ``docs/verdicts.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_CONFIDENCE = 0.99  # two-sided level of the certified-accuracy interval of a report
DEFAULT_MAX_UNDECIDED_SHARE = 0.10  # over this share of error/timeout samples the run cannot decide
MIN_PUBLISHABLE_N = 500  # fewest samples that can confirm a claim (the whole test set when it is smaller)

VERDICTS = ("confirmed", "refuted", "unconfirmed", "error")


def _check(successes: int, n: int) -> None:
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")


def cp_lower(successes: int, n: int, alpha: float) -> float:
    """One-sided Clopper–Pearson lower bound: P(p < bound) <= alpha for the true proportion p.

    This is the bound of Cohen et al.'s CERTIFY (``proportion_confint(k, n, 2*alpha, "beta")[0]``).
    """
    _check(successes, n)
    if successes == 0:
        return 0.0
    # The alpha-quantile of Beta(k, n-k+1).
    from scipy.special import betaincinv  # here, not at import: every CLI command imports this module

    return float(betaincinv(successes, n - successes + 1, alpha))


def cp_upper(successes: int, n: int, alpha: float) -> float:
    """One-sided Clopper–Pearson upper bound: P(p > bound) <= alpha."""
    _check(successes, n)
    if successes == n:
        return 1.0
    # The (1-alpha)-quantile of Beta(k+1, n-k).
    from scipy.special import betaincinv

    return float(betaincinv(successes + 1, n - successes, 1.0 - alpha))


def cp_interval(successes: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """Two-sided Clopper–Pearson interval at ``confidence`` (each tail (1-confidence)/2)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if n == 0:
        return 0.0, 1.0
    a = (1.0 - confidence) / 2.0
    return cp_lower(successes, n, a), cp_upper(successes, n, a)


@dataclass(frozen=True)
class Interval:
    """A proportion in percent with its two-sided Clopper–Pearson interval (the report's shape)."""

    value: float
    lower: float
    upper: float
    confidence: float
    successes: int
    n: int
    method: str = "clopper-pearson"

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "lower": self.lower,
            "upper": self.upper,
            "confidence": self.confidence,
            "method": self.method,
            "successes": self.successes,
            "n": self.n,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Interval:
        return cls(
            value=d["value"], lower=d["lower"], upper=d["upper"], confidence=d["confidence"],
            successes=int(d.get("successes", 0)), n=int(d.get("n", 0)), method=d.get("method", "clopper-pearson"),
        )


def proportion(successes: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """``successes / n`` in percent with its two-sided interval (n = 0 → value 0, interval [0, 100])."""
    _check(successes, n)
    lo, hi = cp_interval(successes, n, confidence)
    value = 100.0 * successes / n if n else 0.0
    return Interval(value=value, lower=100.0 * lo, upper=100.0 * hi, confidence=confidence, successes=successes, n=n)


def certified_accuracy(statuses: Sequence[str], labels: Sequence[int], predicted: Sequence[int],
                       confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Certified accuracy = (certified AND correct) / n over the sampled inputs, with its interval."""
    if not (len(statuses) == len(labels) == len(predicted)):
        raise ValueError("statuses, labels and predicted must have the same length")
    k = sum(1 for s, y, p in zip(statuses, labels, predicted, strict=True) if s == "certified" and y == p)
    return proportion(k, len(statuses), confidence)


def certified_accuracy_at(radii: Sequence[float | None], correct: Sequence[bool], radius: float,
                          confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Certified accuracy at ``radius`` from per-sample certified radii (Cohen et al.'s analysis):
    a sample counts when it is correct and its certified radius is >= ``radius``; an abstention
    has radius None (or any value, with correct False)."""
    k = sum(1 for r, c in zip(radii, correct, strict=True) if c and r is not None and r >= radius)
    return proportion(k, len(radii), confidence)


# --------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class Verdict:
    status: str  # one of VERDICTS
    reason: str
    measured: Interval | None = None  # curator's certified accuracy, shown beside the claim

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"status": self.status, "reason": self.reason}
        if self.measured is not None:
            d["measured"] = {k: self.measured.as_dict()[k] for k in ("value", "lower", "upper", "confidence", "n")}
        return d


def _pct(x: float) -> str:
    return f"{x:.2f}%"


def publishable_minimum(n_total: int) -> int:
    """The fewest samples on which a claim can be confirmed: :data:`MIN_PUBLISHABLE_N`, or the
    whole test set when it is smaller (docs/verdicts.md, "Minimum n")."""
    return max(1, min(MIN_PUBLISHABLE_N, int(n_total)))


def decide(
    claimed: float,
    certified: Interval,
    *,
    same_protocol: bool,
    attack: Interval | None = None,
    soundness_failures: Sequence[dict[str, Any]] = (),
    undecided: int = 0,
    max_undecided_share: float = DEFAULT_MAX_UNDECIDED_SHARE,
    verifier: str = "the verifier",
    claimed_n: int | None = None,
    min_n: int | None = None,
) -> Verdict:
    """The verdict on a claimed certified accuracy ``claimed`` (percent), in this order:

    1. ``error`` — a soundness failure: an attack broke a sample the verifier certified, so the
       verifier's output cannot be trusted.
    2. ``refuted`` — ``claimed`` is above the upper end of the attack's robust-accuracy interval
       (an attack upper-bounds the true robust accuracy; this holds even when no sample was
       certified, e.g. after the attack pre-pass stopped the run).
    3. ``error`` — no sample was verified, or more than ``max_undecided_share`` of the samples
       ended in ``error``/``timeout`` (``undecided``).
    4. ``refuted`` — ``same_protocol`` (the claim's own verifier and parameters were run) and
       ``claimed`` is above the upper end of the certified interval: the claimed protocol
       certifies significantly less than claimed. When the claim states on how many samples it was
       measured (``claimed_n``), the claim is itself a binomial measurement and the test is two-sample:
       refuted only if the claim's own lower Clopper–Pearson bound (one tail of the same confidence)
       is above curator's upper bound, so an honest claim is refuted with probability at most
       1 − confidence; otherwise ``unconfirmed``.
    5. ``unconfirmed`` — ``claimed`` is below the lower end of the certified interval: curator
       measured significantly more, so the claimed number is not what this model and protocol give.
       Not so when the run is another verifier's (``same_protocol`` false: the claim names its own
       certifier): then it is ``confirmed`` as a conservative lower bound (on at least ``min_n``).
    6. ``unconfirmed`` — ``claimed`` is inside the interval but the run has fewer than ``min_n``
       samples: so wide an interval contains nearly any claim and proves nothing.
    7. ``confirmed`` — ``claimed`` is inside the certified interval (``lower <= claimed <= upper``)
       on at least ``min_n`` samples.
    8. ``unconfirmed`` — curator certified significantly less than claimed with another (weaker)
       verifier: a weaker verifier cannot refute a stronger one.

    Every verdict from rule 4 on carries ``measured``: curator's number and interval.
    """
    untrusted = _untrusted_run(claimed, certified, attack, soundness_failures, undecided, max_undecided_share,
                               verifier)
    if untrusted is not None:
        return untrusted
    if claimed < certified.lower:
        return _below_interval(claimed, certified, same_protocol=same_protocol, verifier=verifier, min_n=min_n)
    if claimed <= certified.upper:
        return _inside_interval(claimed, certified, min_n=min_n)
    return _above_interval(claimed, certified, same_protocol=same_protocol, verifier=verifier, claimed_n=claimed_n)


def _interval_text(certified: Interval) -> str:
    return f"{certified.confidence:.0%} interval [{_pct(certified.lower)}, {_pct(certified.upper)}]"


def _measured_text(certified: Interval) -> str:
    return f"curator certified {_pct(certified.value)} ({_interval_text(certified)}, n={certified.n})"


def _untrusted_run(claimed: float, certified: Interval, attack: Interval | None,
                   soundness_failures: Sequence[dict[str, Any]], undecided: int, max_undecided_share: float,
                   verifier: str) -> Verdict | None:
    """Rules 1–3: the run's certificates cannot be trusted, an attack refutes the claim whatever was
    certified, or the run cannot decide. ``None`` when the certified interval decides."""
    if soundness_failures:
        first = soundness_failures[0]
        return Verdict("error", (
            f"soundness failure: {first.get('attack', 'the attack')} broke sample {first.get('index')} that "
            f"{first.get('verifier', verifier)} certified ({len(soundness_failures)} such sample(s)); "
            "the certificates of this run cannot be trusted"))
    if attack is not None and attack.n > 0 and claimed > attack.upper:
        return Verdict("refuted", (
            f"claimed {_pct(claimed)} is above the upper end {_pct(attack.upper)} of the {attack.confidence:.0%} "
            f"interval of the attacked (robust) accuracy {_pct(attack.value)} on {attack.n} samples"))
    if certified.n == 0:
        return Verdict("error", "no sample was verified")
    if undecided > max_undecided_share * certified.n:
        return Verdict("error", (
            f"{undecided} of {certified.n} samples ended in error or timeout, over the "
            f"{max_undecided_share:.0%} limit: the run cannot decide"), certified)
    return None


def _below_interval(claimed: float, certified: Interval, *, same_protocol: bool, verifier: str,
                    min_n: int | None) -> Verdict:
    """Rule 5: curator certified significantly more than claimed."""
    measured = _measured_text(certified)
    if same_protocol:
        return Verdict("unconfirmed", (
            f"claimed {_pct(claimed)} is below the lower end of the interval: {measured}, significantly more "
            "than claimed, so the claimed number is not what this model and protocol give"), certified)
    # A certified accuracy is a lower bound on robust accuracy: another (here stronger) verifier
    # certifying significantly more than the paper's tool is what an honest claim looks like.
    if min_n is not None and certified.n < min_n:
        return Verdict("unconfirmed", (
            f"claimed {_pct(claimed)} is below the interval, but {measured} on fewer than the {min_n} samples "
            "a confirmation needs"), certified)
    return Verdict("confirmed", (
        f"claimed {_pct(claimed)} is below the interval: {measured} with {verifier}, significantly more than "
        "the claim's own certifier gave; the claim holds as a conservative lower bound"), certified)


def _inside_interval(claimed: float, certified: Interval, *, min_n: int | None) -> Verdict:
    """Rules 6 and 7: the claim agrees with curator's measurement, if that has enough samples to mean it."""
    measured = _measured_text(certified)
    if min_n is not None and certified.n < min_n:
        return Verdict("unconfirmed", (
            f"claimed {_pct(claimed)} is inside the interval, but {measured} on fewer than the {min_n} samples "
            "a confirmation needs: so wide an interval proves nothing"), certified)
    return Verdict("confirmed", f"claimed {_pct(claimed)} is inside the interval: {measured}", certified)


def _above_interval(claimed: float, certified: Interval, *, same_protocol: bool, verifier: str,
                    claimed_n: int | None) -> Verdict:
    """Rules 4 and 8: curator certified significantly less than claimed."""
    ci = _interval_text(certified)
    if same_protocol and claimed_n:
        tail = (1.0 - certified.confidence) / 2.0
        successes = min(claimed_n, max(0, round(claimed / 100.0 * claimed_n)))
        claim_lower = 100.0 * cp_lower(successes, claimed_n, tail)
        if claim_lower <= certified.upper:
            return Verdict("unconfirmed", (
                f"the claim's own protocol certifies {_pct(certified.value)} ({ci}, n={certified.n}), less than the "
                f"claimed {_pct(claimed)}; but the claim was measured on {claimed_n} samples and its own lower bound "
                f"{_pct(claim_lower)} is not above {_pct(certified.upper)}: the two measurements do not differ "
                "significantly"), certified)
    if same_protocol:
        return Verdict("refuted", (
            f"the claim's own verifier and protocol certify {_pct(certified.value)} ({ci}, n={certified.n}): "
            f"the claimed {_pct(claimed)} is significantly above it"), certified)
    return Verdict("unconfirmed", (
        f"{verifier} certifies {_pct(certified.value)} ({ci}, n={certified.n}), less than the claimed "
        f"{_pct(claimed)}; a different verifier than the claim's cannot refute it"), certified)
