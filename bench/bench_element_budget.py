"""CROWN's element budget on a CPU: the ``crown`` verifier at batch 1 and 32 with the GPU budget
(2^25 elements per A tensor, the baseline) and the CPU one (2^21), in the same process on the same
images. Prints seconds per sample and the speed-up over the baseline.

    python bench/bench_element_budget.py [--shared DIR] [--eps 0.03] [--n 32] [--repeat 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import curator.engines.bounds.network as network
from curator.api import VerifyTask
from curator.api.registry import get_registry
from curator.benchmark.runner import load_suite, model_url
from curator.verify.artifacts import default_cache_dir, fetch
from curator.verify.models import load_model

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(REPO.parent / "shared"))
    ap.add_argument("--eps", type=float, default=0.03)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    if not (Path(a.shared) / "artifacts").is_dir():
        print(f"shared material not found at {a.shared}; nothing to benchmark")
        return
    reg = get_registry()
    shared = Path(a.shared).resolve()
    suite = load_suite(REPO / "bench" / "suites" / "shared-full.json", reg, shared).data
    split = reg.dataset("mnist").load(shared / "artifacts" / "mnist", default_cache_dir(), progress=False)
    x, y = split.take(list(range(0, 100 * a.n, 100)))
    crown = reg.verifier("crown")
    print(f"crown on {a.n} MNIST test images, linf eps={a.eps}, cpu; best of {a.repeat} runs")
    print(f"{'model':<18} {'batch':>5} {'2^25 (s/sample)':>16} {'2^21 (s/sample)':>16} {'speed-up':>9}")
    for mid in ("wong-kolter-2018", "mnist-net-256x4"):
        spec = next(m for m in suite["models"] if m["id"] == mid)
        block = {**spec["model"], "url": model_url(spec["model"]["url"])}
        model = load_model(block, fetch(block["url"], block["sha256"], default_cache_dir(), progress=False), reg, "cpu")
        for batch in (1, 32):
            best = {}
            for budget in (network.DEFAULT_ELEMENT_BUDGET, network.CPU_ELEMENT_BUDGET):
                times = []
                for _ in range(a.repeat):
                    saved = network.CPU_ELEMENT_BUDGET
                    network.CPU_ELEMENT_BUDGET = budget  # what a network on the CPU uses
                    try:
                        t0 = time.perf_counter()
                        crown.verify(VerifyTask(model=model, inputs=x, labels=y, indices=list(range(a.n)),
                                                norm="linf", radius=a.eps, params={"batch_size": batch},
                                                num_classes=10))
                        times.append((time.perf_counter() - t0) / a.n)
                    finally:
                        network.CPU_ELEMENT_BUDGET = saved
                best[budget] = min(times)
            base, cpu = best[network.DEFAULT_ELEMENT_BUDGET], best[network.CPU_ELEMENT_BUDGET]
            print(f"{mid:<18} {batch:>5} {base:16.4f} {cpu:16.4f} {base / cpu:8.2f}x")


if __name__ == "__main__":
    main()
