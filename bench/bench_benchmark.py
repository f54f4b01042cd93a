"""Cost of each verifier relative to plain inference, from a benchmark run.

Runs a suite (default: bench/suites/shared-ci.json on ../shared) and prints, per (model, ε,
method), the mean seconds per instance and its ratio to the clean-inference row measured in the
same process on the same samples (the SoK page's "Normal inference" baseline), plus the average
certified radius rows. Numbers for docs/benchmarks.md (## benchmark track).

    python bench/bench_benchmark.py [SUITE] [--shared DIR] [--samples N] [--model ID] [--verifier LABEL]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from curator.benchmark.runner import BenchOptions, run_suite

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("suite", nargs="?", default=str(REPO / "bench" / "suites" / "shared-ci.json"))
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--samples", type=int, default=None)
    ap.add_argument("--model", action="append", default=[])
    ap.add_argument("--verifier", action="append", default=[])
    a = ap.parse_args()
    t0 = time.monotonic()
    r = run_suite(a.suite, BenchOptions(shared=Path(a.shared), samples=a.samples, models=tuple(a.model),
                                        verifiers=tuple(a.verifier), progress=False))
    wall = time.monotonic() - t0
    clean = {c["model"]: max(c["summary"]["mean_seconds"], 1e-6) for c in r["cells"] if c["method"]["kind"] == "clean"}
    print(f"suite {r['suite']['name']}: {wall:.1f} s wall, {r['totals']['instances']} instances, "
          f"{len(r['soundness'])} soundness flags")
    print(f"{'model':<20} {'eps':>6} {'method':<12} {'accuracy':>9} {'s/inst':>8} {'x inference':>12} {'timeouts':>8}")
    for c in r["cells"]:
        if c["method"]["kind"] == "clean":
            continue
        s = c["summary"]
        print(f"{c['model']:<20} {c['radius_text']:>6} {c['method']['label']:<12} {s['accuracy']['value']:8.1f}% "
              f"{s['mean_seconds']:8.3f} {s['mean_seconds'] / clean[c['model']]:11.0f}x {s['timeout']:8d}")
    for row in r["radius"]:
        s = row["summary"]
        print(f"{row['model']:<20} radius {row['method']['label']:<12} average {s['average_radius']:.4f} "
              f"{s['mean_seconds']:.2f} s/sample, {s['timed_out']} hit the time limit")


if __name__ == "__main__":
    main()
