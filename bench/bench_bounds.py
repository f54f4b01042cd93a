"""Throughput and certified accuracy of curator's bound engine (ibp, crown).

Models: Wong & Kolter 2018 MNIST (published weights, ℓ∞ ε = 0.1) and the VNN-COMP 2022
mnist_fc 256x2 MLP (its ONNX file when ``curator.engines.onnx`` is installed, else the same shape
with random weights — printed in the output). Baseline: plain forward passes of the same model on
the same images in this process; ratios are (samples/s of the method) / (samples/s of forward).

    python bench/bench_bounds.py [--n 500] [--full] [--device cpu|cuda|all]

``--full`` additionally runs crown on all 10,000 test images of the Wong-Kolter model (about
15 minutes on an idle 2-core CPU) and prints the certified accuracy next to the published 94.2%.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from curator.engines.bounds import from_module

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def read_idx(path: Path) -> np.ndarray:
    data = gzip.open(path).read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist(n: int | None):
    root = SHARED / "artifacts" / "mnist"
    x = torch.tensor(read_idx(root / "t10k-images-idx3-ubyte.gz")[:n].copy()).float().div(255).unsqueeze(1)
    y = torch.tensor(read_idx(root / "t10k-labels-idx1-ubyte.gz")[:n].copy()).long()
    return x, y


def wong_kolter() -> nn.Sequential:
    model = nn.Sequential(
        nn.Conv2d(1, 16, 4, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 100), nn.ReLU(), nn.Linear(100, 10),
    )
    state = torch.load(SHARED / "artifacts/models/wong-kolter-2018/mnist.pth", weights_only=True, map_location="cpu")
    model.load_state_dict(state)
    return model.eval()


def mnist_fc_256x2() -> tuple[nn.Module, str]:
    path = SHARED / "artifacts/vnncomp2022-mnist_fc/onnx/mnist-net_256x2.onnx.gz"
    try:
        from curator.engines.onnx import onnx_to_torch  # the milp engineer's importer, once merged

        return onnx_to_torch(path, input_shape=(1, 28, 28)).eval(), "mnist-net_256x2.onnx"
    except Exception as exc:  # noqa: BLE001 - any import/convert failure falls back, and says so
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                              nn.Linear(256, 10)).eval()
        return model, f"256x2 MLP shape, RANDOM weights ({type(exc).__name__}: ONNX importer unavailable)"


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def run_method(net, x, y, eps, method, intermediate, batch, device):
    lbs = []
    with torch.no_grad():
        for i in range(0, len(y), batch):
            xb, yb = x[i : i + batch].to(device), y[i : i + batch].to(device)
            pred = net(xb).argmax(1)
            lb = net.margin_lower_bounds(xb, pred, "linf", eps, method, intermediate)
            if method == "crown":  # the crown verifier's bound: max(CROWN, IBP)
                lb = torch.maximum(lb, net.margin_lower_bounds(xb, pred, "linf", eps, "ibp", "ibp"))
            lbs.append(((lb.min(1).values > 0) & (pred == yb)).cpu())
    return torch.cat(lbs)


def bench_model(title, model, x, y, eps, device, methods):
    net = from_module(model, tuple(x.shape[1:])).to(device)
    model = model.to(device)
    n = len(y)

    def forward():
        with torch.no_grad():
            return torch.cat([model(x[i : i + 256].to(device)).argmax(1).cpu() for i in range(0, n, 256)])

    t_fwd, pred = timed(forward)
    clean = float((pred == y).float().mean())
    print(f"\n{title} — {n} MNIST test images, linf eps={eps}, device={device}")
    print(f"  forward baseline: {n / t_fwd:10.1f} samples/s   clean acc {100 * clean:.2f}%")
    rows = []
    for label, method, intermediate, batch in methods:
        t, cert = timed(run_method, net, x, y, eps, method, intermediate, batch, device)
        acc = float(cert.float().mean())
        rate = n / t
        print(f"  {label:22s}: {rate:10.1f} samples/s   ratio vs forward 1/{(n / t_fwd) / rate:,.0f}"
              f"   certified acc {100 * acc:.2f}%")
        rows.append((label, rate, acc))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500, help="images (the first n of the test set)")
    ap.add_argument("--full", action="store_true", help="also crown on all 10,000 Wong-Kolter images")
    ap.add_argument("--device", default="all", choices=["cpu", "cuda", "all"])
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"shared material not found at {SHARED}; nothing to benchmark")
        return 0
    devices = ["cpu"] if args.device == "cpu" else (["cuda"] if args.device == "cuda" else ["cpu"])
    if args.device == "all" and torch.cuda.is_available():
        devices.append("cuda")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; devices {devices}")
    x, y = mnist(args.n)
    methods = [("ibp", "ibp", "ibp", 256), ("crown (ibp intermediate)", "crown", "ibp", 64),
               ("crown", "crown", "crown", 32)]
    fc, fc_title = mnist_fc_256x2()
    for device in devices:
        bench_model("Wong-Kolter 2018 MNIST", wong_kolter(), x, y, 0.1, device, methods)
        for eps in (0.03, 0.05):
            bench_model(f"mnist_fc {fc_title}", fc, x.reshape(len(y), 1, 28, 28), y, eps, device, methods)
    if args.full:
        xf, yf = mnist(None)
        for device in devices:
            rows = bench_model("Wong-Kolter 2018 MNIST (full test set)", wong_kolter(), xf, yf, 0.1, device,
                               [("crown", "crown", "crown", 32)])
            print(f"  crown robust error {100 * (1 - rows[0][2]):.2f}% (published 5.8%, exact dual bound 5.82%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
