"""The site's plots, as SVG text that is byte-identical on every run.

matplotlib is used through its object API (``Figure`` + the SVG canvas), so no GUI backend or
pyplot global state is involved; ``svg.hashsalt`` fixes the ids matplotlib would otherwise draw
at random, ``svg.fonttype: none`` keeps text as text (small files, no font outlines), and the
``Date`` metadata is dropped.
"""

from __future__ import annotations

import io
from bisect import bisect_left
from collections.abc import Iterable
from typing import Any

import matplotlib

matplotlib.use("Agg")  # never a display backend, even if pyplot is imported elsewhere

from matplotlib import rc_context  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

_RC = {"svg.hashsalt": "curator", "svg.fonttype": "none", "font.size": 11, "axes.spines.top": False,
       "axes.spines.right": False}
# Site plots: large enough to read the axes; the y-axis always spans 0–100 % so that a 0.2-point
# difference between two methods does not look like a gap of half the plot.
FIGSIZE = (7.2, 4.4)
Y_LABEL = "certified accuracy (% of test samples)"
VERIFIED_COLOR = "#1a7f37"
CLAIMED_COLOR = "#6e7781"
BEST_COLOR = "#0969da"


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "curator"}, bbox_inches="tight")
    return buf.getvalue()


def trend_svg(title: str, points: Iterable[tuple[int, float, bool]]) -> str:
    """Best certified accuracy over time in one setting.

    ``points`` are ``(year, certified accuracy %, re-verified?)`` for every entry with a year: all
    are drawn as dots, and a step line follows the best value known up to each year.
    """
    pts = sorted(points)
    with rc_context(_RC):
        fig = Figure(figsize=FIGSIZE)
        ax = fig.add_subplot()
        if pts:
            years = sorted({y for y, _, _ in pts})
            best, run = [], float("-inf")
            for y in years:
                run = max(run, max(a for yy, a, _ in pts if yy == y))
                best.append(run)
            xs = years + [years[-1] + 0.5] if len(years) == 1 else years
            ys = best + [best[-1]] if len(years) == 1 else best
            ax.step(xs, ys, where="post", color=BEST_COLOR, linewidth=1.8, label="best so far")
            for verified, color, label in ((False, CLAIMED_COLOR, "claimed"), (True, VERIFIED_COLOR, "re-verified")):
                sel = [(y, a) for y, a, v in pts if v == verified]
                if sel:
                    ax.scatter([y for y, _ in sel], [a for _, a in sel], s=16, color=color, label=label, zorder=3)
            ax.legend(loc="lower right", frameon=False, fontsize=9)
            # whole years as ticks, never an offset (a single year drew "0.0 … 0.5 +2.019e3")
            ax.set_xticks(range(years[0], years[-1] + 1, max(1, (years[-1] - years[0]) // 10 + 1)))
            ax.set_xlim(years[0] - 0.5, years[-1] + 0.5 + (0.5 if len(years) == 1 else 0))
        else:
            ax.text(0.5, 0.5, "no dated entries", ha="center", va="center", transform=ax.transAxes)
        ax.set_ylim(0, 100)
        ax.set_title(title)
        ax.set_xlabel("year of publication")
        ax.set_ylabel(Y_LABEL)
        ax.grid(alpha=0.3)
        return _svg(fig)


def certified_curve(report: dict[str, Any]) -> list[tuple[float, float]]:
    """``(radius, certified accuracy %)`` steps from a report's per-sample radii: at radius r, the
    share of samples predicted correctly with a certified radius ≥ r (abstentions count as wrong)."""
    s = report.get("samples", {})
    radii, labels, preds = s.get("radius", []), s.get("label", []), s.get("predicted", [])
    n = len(radii)
    if n == 0:
        return []
    good = sorted(r for r, y, p in zip(radii, labels, preds, strict=True) if r is not None and p == y and r >= 0)
    # With step(where="pre"), the value at x_i holds on (x_{i-1}, x_i]: a sample certified at
    # radius g counts for every r <= g.
    curve = [(0.0, 100.0 * len(good) / n)]
    for r in sorted(set(good)):
        curve.append((r, 100.0 * (len(good) - bisect_left(good, r)) / n))
    if good:
        curve.append((good[-1] * 1.02 + 1e-9, 0.0))
    return curve


def radius_svg(title: str, report: dict[str, Any], claimed_radius: float, claimed_accuracy: float,
               norm: str = "") -> str:
    """Certified accuracy versus radius from the report, with the claim marked."""
    curve = certified_curve(report)
    with rc_context(_RC):
        fig = Figure(figsize=FIGSIZE)
        ax = fig.add_subplot()
        if curve:
            xs = [r for r, _ in curve]
            ys = [a for _, a in curve]
            ax.step(xs, ys, where="pre", color=VERIFIED_COLOR, linewidth=1.8, label="curator (from the report)")
        ax.axvline(claimed_radius, color=CLAIMED_COLOR, linestyle="--", linewidth=1)
        ax.scatter([claimed_radius], [claimed_accuracy], color="#cf222e", s=20, zorder=3, label="claim")
        ax.set_xlim(left=0)
        ax.set_ylim(0, 100)
        ax.set_title(title)
        ax.set_xlabel(f"radius ε ({norm} norm, inputs in [0, 1])" if norm else "radius ε (inputs in [0, 1])")
        ax.set_ylabel(Y_LABEL)
        ax.legend(loc="upper right", frameon=False, fontsize=9)
        ax.grid(alpha=0.3)
        return _svg(fig)
