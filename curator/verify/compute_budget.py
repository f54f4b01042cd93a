"""What re-verifying a claim will cost, estimated from the claim alone, and the most curator will spend.

``curator ci plan`` runs this on every claim before any GPU job starts: a claim whose protocol
would need more than :data:`MAX_FORWARD_PASSES` forward-pass equivalents is refused up front,
naming the claim and the numbers, instead of holding the runners for days (``n: 1e8`` with
500 images is 5·10^10 passes, about a thousand times Cohen et al.'s CIFAR-10 protocol).

The estimate counts images × work per image:

* images: the claim's ``sample_selection`` over the dataset's test-set size (known sizes below;
  an unknown dataset counts as the largest, ImageNet's 50,000 validation images);
* smoothing: ``n0 + n`` noisy forward passes per image (Cohen et al.'s CERTIFY; sequential mode
  may stop earlier but may also draw up to ``n``);
* other verifiers: a fixed cost per image in forward-pass equivalents (:data:`PER_IMAGE`), plus
  the PGD pre-pass that deterministic claims get.
"""

from __future__ import annotations

import math
from typing import Any

# Cohen et al.'s protocol on the full 10,000-image CIFAR-10 test set at n = 100,000 is 1.0·10^9;
# 50,050,000 (500 images) is what the board's papers re-run. Twice the former is the ceiling.
MAX_FORWARD_PASSES = 2_000_000_000

TEST_SET_SIZES = {"mnist": 10_000, "fashion-mnist": 10_000, "fmnist": 10_000, "cifar10": 10_000, "cifar100": 10_000,
                  "svhn": 26_032, "tinyimagenet": 10_000, "imagenet": 50_000, "imagenet64": 50_000, "digits": 360}
UNKNOWN_TEST_SET = 50_000
# Forward-pass equivalents per image (rough upper estimates of the bundled verifiers' work).
PER_IMAGE = {"ibp": 2, "crown": 500, "lipschitz": 2, "milp": 100_000}
DEFAULT_PER_IMAGE = 100_000  # an unknown (third-party) verifier: assume the expensive kind
ATTACK_PER_IMAGE = 1_000  # PGD pre-pass on deterministic claims (steps × restarts, forward + backward)


class BudgetError(ValueError):
    pass


def _count(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


def images(entry: dict[str, Any]) -> int:
    """How many test images the claim's protocol verifies."""
    setting = entry.get("setting") if isinstance(entry.get("setting"), dict) else {}
    result = entry.get("result") if isinstance(entry.get("result"), dict) else {}
    total = TEST_SET_SIZES.get(str(setting.get("dataset")), UNKNOWN_TEST_SET)
    sel = result.get("sample_selection") if isinstance(result.get("sample_selection"), dict) else {"kind": "all"}
    kind = sel.get("kind", "all")
    if kind in ("first", "evenly_spaced"):
        return min(_count(sel.get("n"), total), total)
    if kind == "every_kth":
        k = max(1, _count(sel.get("k"), 1))
        offset = _count(sel.get("offset"), 0)
        return max(0, math.ceil((total - offset) / k))
    return total


def per_image(entry: dict[str, Any]) -> int:
    cert = entry.get("certification") if isinstance(entry.get("certification"), dict) else {}
    verifier = cert.get("verifier")
    params = cert.get("params") if isinstance(cert.get("params"), dict) else {}
    if not verifier:
        return 0  # no model to run: verify refuses the claim at once
    if verifier == "smoothing":
        return _count(params.get("n0"), 100) + _count(params.get("n"), 100_000)
    return PER_IMAGE.get(str(verifier), DEFAULT_PER_IMAGE) + ATTACK_PER_IMAGE


def forward_passes(entry: dict[str, Any]) -> int:
    """Estimated forward-pass equivalents to re-verify ``entry`` on its full protocol."""
    return images(entry) * per_image(entry)


def check_budget(entry: dict[str, Any], where: str) -> int:
    """The estimate, or :class:`BudgetError` naming ``where`` when it is over the ceiling."""
    cost = forward_passes(entry)
    if cost > MAX_FORWARD_PASSES:
        raise BudgetError(f"{where}: re-verifying this claim needs about {cost:,} forward passes "
                          f"({images(entry):,} images × {per_image(entry):,} per image), over curator's limit of "
                          f"{MAX_FORWARD_PASSES:,} per claim; use fewer samples or a smaller n")
    return cost
