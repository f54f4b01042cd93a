"""Per-sample randomized-smoothing logs in Cohen et al.'s format, and what they certify.

A log is tab-separated with the header ``idx label predict radius correct time`` (``predict`` −1
means abstain, ``time`` is h:mm:ss.ff or seconds). Certified accuracy at radius r is the share of
rows that are correct with radius ≥ r (Cohen et al.'s ``ApproximateAccuracy``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from curator.core.errors import CuratorError
from curator.core.stats import DEFAULT_CONFIDENCE, Interval, certified_accuracy_at

HEADER = ("idx", "label", "predict", "radius", "correct", "time")
MAX_LOG_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class LogRow:
    idx: int
    label: int
    predict: int
    radius: float
    correct: bool


def read_log(path: str | Path) -> list[LogRow]:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_LOG_BYTES:
            raise CuratorError(f"{p}: log is over {MAX_LOG_BYTES} bytes")
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CuratorError(f"{p}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CuratorError(f"{p}: not UTF-8 text") from None
    if not lines:
        raise CuratorError(f"{p}: empty log")
    header = tuple(lines[0].strip().split("\t"))
    if header[:5] != HEADER[:5]:
        raise CuratorError(f"{p}: line 1: expected the header {' '.join(HEADER)!r}, got {lines[0]!r}")
    rows: list[LogRow] = []
    seen: set[int] = set()
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        f = line.split("\t")
        try:
            row = LogRow(int(f[0]), int(f[1]), int(f[2]), float(f[3]), bool(int(f[4])))
        except (ValueError, IndexError):
            raise CuratorError(f"{p}: line {lineno}: malformed row {line!r}") from None
        if not math.isfinite(row.radius) or row.radius < 0:
            raise CuratorError(f"{p}: line {lineno}: radius must be a finite number >= 0")
        if row.correct != (row.predict == row.label):
            raise CuratorError(f"{p}: line {lineno}: 'correct' disagrees with predict == label")
        if row.idx in seen:
            raise CuratorError(f"{p}: line {lineno}: index {row.idx} appears twice")
        seen.add(row.idx)
        rows.append(row)
    if not rows:
        raise CuratorError(f"{p}: the log has no rows")
    return rows


def certified_accuracy(rows: list[LogRow], radius: float, confidence: float = DEFAULT_CONFIDENCE) -> Interval:
    """Share of rows that are correct (never an abstention) with certified radius ≥ ``radius``."""
    radii = [None if r.predict == -1 else r.radius for r in rows]
    return certified_accuracy_at(radii, [r.correct for r in rows], radius, confidence)
