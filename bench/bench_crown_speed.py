"""CROWN's fast paths against the dense reference CROWN, in one process on the same images.

Reference ("old"): the engine with ``patches``, ``skip_exact`` and ``tighten_ibp`` off — dense
transposed convolutions for every row, CROWN on the first layer, input-box IBP — plus the separate
IBP margin pass the ``crown`` verifier ran before. "same": patches and the IBP-exact shortcut only
(its CROWN margins must equal the reference's). "new": the default engine, as ``crown`` runs it
(tightened IBP, IBP bound from the same intervals). "alpha": new with α-CROWN. Batches alternate
between the variants so that a change in machine load hits all of them alike.

    OMP_NUM_THREADS=1 python bench/bench_crown_speed.py [--n 500] [--fc-n 100] [--alpha-iterations 20]
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from curator.engines.bounds import from_module

REPO = Path(__file__).resolve().parent.parent
FC = "artifacts/vnncomp2022-mnist_fc"


def read_idx(path: Path) -> np.ndarray:
    data = gzip.open(path).read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def mnist(shared: Path, n: int):
    root = shared / "artifacts" / "mnist"
    x = torch.tensor(read_idx(root / "t10k-images-idx3-ubyte.gz")[:n].copy()).float().div(255).unsqueeze(1)
    return x, torch.tensor(read_idx(root / "t10k-labels-idx1-ubyte.gz")[:n].copy()).long()


def wong_kolter(shared: Path) -> nn.Sequential:
    model = nn.Sequential(
        nn.Conv2d(1, 16, 4, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 4, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 100), nn.ReLU(), nn.Linear(100, 10),
    )
    state = torch.load(shared / "artifacts/models/wong-kolter-2018/mnist.pth", weights_only=True, map_location="cpu")
    model.load_state_dict(state)
    return model.eval()


def variants(model, shape, alpha: dict) -> dict:
    def engine(fast: bool):
        net = from_module(model, shape)
        net.patches = net.skip_exact = net.tighten_ibp = fast
        return net

    old, same, new = engine(False), engine(True), engine(True)
    same.tighten_ibp = False

    def run_old(x, p, eps):
        crown = old.margin_lower_bounds(x, p, "linf", eps)
        return crown, torch.maximum(crown, old.margin_lower_bounds(x, p, "linf", eps, method="ibp"))

    return {
        "old": run_old,
        "same": lambda x, p, eps: (same.margin_lower_bounds(x, p, "linf", eps),) * 2,
        "new": lambda x, p, eps: (None, new.margin_lower_bounds(x, p, "linf", eps, with_ibp=True)),
        "alpha": lambda x, p, eps: (None, new.margin_lower_bounds(x, p, "linf", eps, with_ibp=True, alpha=alpha)),
    }


def compare(title: str, model, shape, x, y, eps, alpha: dict, batch: int, names: list[str]) -> None:
    """Interleaved batches; samples/s, certified counts and the bound differences per variant."""
    runs = variants(model, shape, alpha)
    seconds = {k: 0.0 for k in names}
    certified = {k: 0 for k in names}
    crown_lb, final_lb = {k: [] for k in names}, {k: [] for k in names}
    with torch.no_grad():
        pred = model(x).argmax(1)
        for s in range(0, len(y), batch):
            xb, pb, ok = x[s : s + batch], pred[s : s + batch], pred[s : s + batch] == y[s : s + batch]
            e = eps[s : s + batch] if isinstance(eps, torch.Tensor) else eps
            for k in names:
                t = time.perf_counter()
                c, f = runs[k](xb, pb, e)
                seconds[k] += time.perf_counter() - t
                certified[k] += int(((f.min(1).values > 0) & ok).sum())
                if c is not None:
                    crown_lb[k].append(c)
                final_lb[k].append(f)
    n = len(y)
    print(f"\n## {title}: {n} images, batch {batch}, {torch.get_num_threads()} thread(s)")
    print(f"{'variant':8} {'samples/s':>10} {'x old':>7} {'certified':>10}")
    for k in names:
        print(f"{k:8} {n / seconds[k]:10.2f} {seconds['old'] / seconds[k]:7.2f} {certified[k]:>10}")

    def diff(a, b):
        a, b = torch.cat(a), torch.cat(b)
        fin = torch.isfinite(b)
        return a[fin] - b[fin]

    if "same" in names:
        print(f"max |CROWN margin same - old| = {diff(crown_lb['same'], crown_lb['old']).abs().max():.3g}")
    for k in ("new", "alpha"):
        if k in names:
            d = diff(final_lb[k], final_lb["old"])
            print(f"{k} - old final margin bound: min {d.min():.3g} (never looser if >= -1e-5), mean {d.mean():.4f}")


def vnn_props(shared: Path):
    from curator.engines.vnnlib import read_vnnlib

    out = {}
    for eps_name in ("0.03", "0.05"):
        xs, ys, es = [], [], []
        for i in range(15):
            prop = read_vnnlib(shared / FC / "vnnlib" / f"prop_{i}_{eps_name}.vnnlib.gz")
            centre, eps = prop.linf_ball()
            xs.append(torch.tensor(centre, dtype=torch.float32).reshape(1, 28, 28))
            ys.append(prop.label)
            es.append(eps)
        out[eps_name] = (torch.stack(xs), torch.tensor(ys), torch.tensor(es, dtype=torch.float32))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--n", type=int, default=500, help="Wong-Kolter test images")
    ap.add_argument("--fc-n", type=int, default=100, help="MNIST test images for the mnist_fc nets")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--alpha-iterations", type=int, default=20)
    ap.add_argument("--alpha-lr", type=float, default=0.1)
    ap.add_argument("--skip-wk", action="store_true")
    ap.add_argument("--skip-fc", action="store_true")
    a = ap.parse_args()
    if not (a.shared / "artifacts").is_dir():
        print(f"shared material not found at {a.shared}; nothing to benchmark")
        return
    alpha = {"iterations": a.alpha_iterations, "lr": a.alpha_lr}
    print(f"alpha-CROWN: {alpha}")
    all4 = ["old", "same", "new", "alpha"]
    if not a.skip_wk:
        x, y = mnist(a.shared, a.n)
        compare("Wong-Kolter 2018, linf 0.1", wong_kolter(a.shared), (1, 28, 28), x, y, 0.1, alpha, a.batch, all4)
    if a.skip_fc:
        return
    from curator.engines.onnx import onnx_to_torch

    props = vnn_props(a.shared)
    x, y = mnist(a.shared, a.fc_n)
    for width in ("256x2", "256x4", "256x6"):
        model = onnx_to_torch(a.shared / FC / "onnx" / f"mnist-net_{width}.onnx.gz", input_shape=(1, 28, 28))
        for eps_name, (px, py, pe) in props.items():
            compare(f"mnist_fc {width}, the 15 VNN-COMP props at {eps_name}", model, (1, 28, 28), px, py, pe,
                    alpha, a.batch, ["old", "new", "alpha"])
        for eps in (0.02, 0.03):
            compare(f"mnist_fc {width}, linf {eps}", model, (1, 28, 28), x, y, eps, alpha, a.batch, all4)


if __name__ == "__main__":
    main()
