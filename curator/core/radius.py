"""Radii as papers write them ("8/255", "0.1", "36/255") and as numbers."""

from __future__ import annotations

import re
from fractions import Fraction

_NUMBER = r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?"
_RADIUS_RE = re.compile(rf"^\s*({_NUMBER})\s*(?:/\s*({_NUMBER}))?\s*$")


def parse_radius(text: str) -> float:
    """``"8/255"`` → 0.03137…, ``"0.1"`` → 0.1. Raises ``ValueError`` on anything else."""
    if not isinstance(text, str):
        raise ValueError(f"radius text must be a string, not {type(text).__name__}")
    m = _RADIUS_RE.match(text)
    if not m:
        raise ValueError(f"cannot parse radius {text!r} (expected a number or a fraction like 8/255)")
    num = Fraction(m.group(1))
    if m.group(2) is not None:
        den = Fraction(m.group(2))
        if den == 0:
            raise ValueError(f"radius {text!r} divides by zero")
        num /= den
    return float(num)


RADIUS_TOLERANCE = 1e-9
