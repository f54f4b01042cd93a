"""Certified-radius bisection: all samples in lockstep (``search_radii``) against one sample per
verifier call (``search_radius``, how the benchmark searched before), in the same process on
the same samples. Prints seconds per sample, the ratio, and whether the radii agree.

    python bench/bench_bisection.py [--shared DIR] [--model ID] [--samples N] [--verifier NAME ...]

Defaults: the Wong & Kolter 2018 model of bench/suites/shared-full.json, 20 evenly spaced MNIST
test images, crown and ibp, a cold search on [0, 0.5] to 0.001 (12 calls per sample).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from curator.api.registry import get_registry
from curator.benchmark.runner import Ctx, load_suite, model_url, search_radii, search_radius, select
from curator.verify.artifacts import default_cache_dir, fetch
from curator.verify.models import load_model, resolve_device

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", default=str(REPO / "bench" / "suites" / "shared-full.json"))
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--model", default="wong-kolter-2018")
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--verifier", action="append", default=[])
    a = ap.parse_args()
    if not (Path(a.shared) / "artifacts").is_dir():
        print(f"shared material not found at {a.shared}; nothing to benchmark")
        return
    reg = get_registry()
    suite = load_suite(a.suite, reg, Path(a.shared).resolve()).data
    spec = next(m for m in suite["models"] if m["id"] == a.model)
    ds = {**suite["dataset"], **(spec.get("dataset") or {})}
    cache = default_cache_dir()
    device = resolve_device("auto")
    block = {**spec["model"], "url": model_url(spec["model"]["url"])}
    model = load_model(block, fetch(block["url"], block["sha256"], cache, progress=False), reg, device)
    split = reg.dataset(ds["name"]).load(Path(ds["data_dir"]), cache, progress=False)
    idx = select({"kind": "evenly_spaced", "n": a.samples}, len(split), None)
    x, y = split.take(idx)
    x, y = x.to(device), y.to(device)
    ctx = Ctx(model, x, y, list(idx), spec["norm"], int(block["num_classes"]), device, 0, 120.0, 64, [])
    with torch.no_grad():
        rows = [r for r in range(len(idx)) if int(model(x[r:r + 1]).argmax(1)) == int(y[r])]
    args = (0.0, 0.5, 0.001, 12, 1e9)
    print(f"{a.model}: {len(rows)} correctly classified of {len(idx)} samples, {spec['norm']}, device {device}")
    print(f"{'verifier':<10} {'one at a time':>14} {'lockstep':>10} {'speed-up':>9} {'avg radius':>11} agree")
    for name in a.verifier or ["crown", "ibp"]:
        v = reg.verifier(name)
        params = {}
        t0 = time.perf_counter()
        alone = [search_radius(v, params, ctx, row, *args, 0.0, None) for row in rows]
        t_alone = time.perf_counter() - t0
        t0 = time.perf_counter()
        together = search_radii(v, params, ctx, rows, *args, [0.0] * len(rows), [None] * len(rows))
        t_together = time.perf_counter() - t0
        agree = sum(abs(p[0] - q[0]) <= 1e-12 for p, q in zip(alone, together, strict=True))
        avg = sum(q[0] for q in together) / max(1, len(idx))
        print(f"{name:<10} {t_alone / len(rows):12.3f} s {t_together / len(rows):8.3f} s {t_alone / t_together:8.1f}x "
              f"{avg:11.4f} {agree}/{len(rows)}")


if __name__ == "__main__":
    main()
