"""Samples/s of the complete `milp` verifier against CROWN (curator.engines.bounds) in the same process.

Nets: the three VNN-COMP 2022 mnist_fc MLPs (ε=0.02 and 0.03) and the Wong & Kolter 2018 MNIST
conv net (ε=0.1, its published radius), on the first N MNIST test images, with a short per-sample
MILP time limit. Prints per setting: CROWN's and MILP's certified counts, MILP statuses, samples/s
of each and the slowdown ratio MILP/CROWN. Needs ../shared beside the checkout.

    python bench/bench_milp.py [--n 8] [--time-limit 20]
"""

from __future__ import annotations

import argparse
import gzip
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from torch import nn

from curator.api import VerifyTask
from curator.api.registry import get_registry
from curator.engines.bounds import from_module
from curator.engines.onnx import onnx_to_torch

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "artifacts"


def mnist(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    images = np.frombuffer(gzip.open(SHARED / "mnist" / "t10k-images-idx3-ubyte.gz").read()[16:], np.uint8)
    labels = np.frombuffer(gzip.open(SHARED / "mnist" / "t10k-labels-idx1-ubyte.gz").read()[8:], np.uint8)
    x = torch.from_numpy(images[: n * 784].reshape(n, 1, 28, 28).astype(np.float32) / 255.0)
    return x, torch.from_numpy(labels[:n].astype(np.int64))


def wong_kolter() -> nn.Sequential:
    model = nn.Sequential(nn.Conv2d(1, 16, 4, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 4, stride=2, padding=1),
                          nn.ReLU(), nn.Flatten(), nn.Linear(32 * 7 * 7, 100), nn.ReLU(), nn.Linear(100, 10))
    state = torch.load(SHARED / "models" / "wong-kolter-2018" / "mnist.pth", weights_only=True, map_location="cpu")
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.eval()


def run(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, time_limit: float) -> None:
    bounded = from_module(model, tuple(x.shape[1:]))
    start = time.perf_counter()
    with torch.no_grad():
        pred = model(x).argmax(1)
        crown = (bounded.margin_lower_bounds(x, y, "linf", eps).min(1).values > 0) & (pred == y)
    crown_s = time.perf_counter() - start
    task = VerifyTask(model=model, inputs=x, labels=y, indices=list(range(len(y))), norm="linf", radius=eps,
                      params={}, num_classes=10, time_limit=time_limit)
    start = time.perf_counter()
    results = get_registry().verifier("milp").verify(task)
    milp_s = time.perf_counter() - start
    statuses = Counter(r.status for r in results)
    milp_cert = sum(r.status == "certified" and r.correct for r in results)
    n = len(y)
    print(f"{name:>8} eps={eps:<5} n={n}: crown {int(crown.sum())}/{n} certified, {n / crown_s:8.1f} samples/s | "
          f"milp {milp_cert}/{n} certified {dict(statuses)}, {n / milp_s:6.3f} samples/s | "
          f"milp/crown time ratio {milp_s / crown_s:7.0f}x", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--time-limit", type=float, default=20.0)
    args = ap.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} not found")
        return
    x, y = mnist(args.n)
    print(f"milp vs crown, CPU ({torch.get_num_threads()} threads), first {args.n} MNIST test images, "
          f"MILP time limit {args.time_limit:g} s per sample")
    for net in ("256x2", "256x4", "256x6"):
        model = onnx_to_torch(SHARED / "vnncomp2022-mnist_fc" / "onnx" / f"mnist-net_{net}.onnx.gz",
                              input_shape=(1, 28, 28))
        for eps in (0.02, 0.03):
            run(net, model, x, y, eps, args.time_limit)
    run("wong-kolter", wong_kolter(), x, y, 0.1, args.time_limit)


if __name__ == "__main__":
    main()
