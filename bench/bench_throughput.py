"""Forward-pass throughput on this machine, and what a re-verification run costs from it.

Randomized smoothing's cost is forward passes: CERTIFY (Cohen et al. 2019) spends n0 + n noisy
copies per image (100 + 100,000 by default), so a run is (n0 + n) × images forward passes. This
measures images/second for the models such runs use, at the batch sizes verify uses, and turns
it into hours for the two standard protocols (CIFAR-10: 500 test images, ResNet-110; ImageNet:
500 images, ResNet-50) and for the demo claim. Ratios are against the demo model, measured in
the same process. The ResNets are built here (same layer shapes as the papers' models; weights
are random because throughput does not depend on them).

Run: .venv/bin/python bench/bench_throughput.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch
from torch import nn

N0, N = 100, 100_000
PROTOCOLS = {  # name: (model, images in the protocol)
    "CIFAR-10 smoothing, ResNet-110, 500 images": ("cifar-resnet110", 500),
    "ImageNet smoothing, ResNet-50, 500 images": ("imagenet-resnet50", 500),
    "demo claim (digits MLP, 120 images, n=20,000)": ("demo-mlp", 120),
}


class Basic(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
                                  nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


class Bottleneck(nn.Module):
    def __init__(self, cin: int, mid: int, stride: int):
        super().__init__()
        cout = mid * 4
        self.body = nn.Sequential(nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
                                  nn.Conv2d(mid, mid, 3, stride, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(),
                                  nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


def cifar_resnet(depth: int) -> nn.Module:
    """He et al.'s CIFAR ResNet (6n+2 layers: 16/32/64 channels), as in Cohen et al.'s ResNet-110."""
    n = (depth - 2) // 6
    layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(n):
            layers.append(Basic(cin, cout, stride if i == 0 else 1))
            cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def imagenet_resnet50() -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                               nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for mid, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(cin, mid, stride if i == 0 else 1))
            cin = mid * 4
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000))


def demo_mlp() -> nn.Module:
    """The shape of examples/digits-smoothing.json's model: fc 64-128-128-10."""
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, 10))


MODELS = {  # name: (builder, input shape, batch)
    "demo-mlp": (demo_mlp, (1, 8, 8), 20_000),
    "cifar-resnet20": (lambda: cifar_resnet(20), (3, 32, 32), 200),
    "cifar-resnet110": (lambda: cifar_resnet(110), (3, 32, 32), 100),
    "imagenet-resnet50": (imagenet_resnet50, (3, 224, 224), 16),
}


@torch.inference_mode()
def throughput(name: str, device: str, seconds: float) -> tuple[float, float, int]:
    """Images per wall second and per CPU second (all threads) of noisy forward passes (noise drawn
    on the device, as smoothing does). On a shared machine the CPU-second rate is the steadier one."""
    build, shape, batch = MODELS[name]
    model = build().to(device).eval()
    x = torch.rand(batch, *shape, device=device)
    model(x + 0.25 * torch.randn_like(x))  # warm-up: allocator, kernels
    if device == "cuda":
        torch.cuda.synchronize()
    done, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        model(x + 0.25 * torch.randn_like(x)).argmax(1)
        done += batch
        if device == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and done >= 2 * batch:
            return done / elapsed, done / max(time.process_time() - cpu_start, 1e-9), batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter timing windows")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    seconds = 2.0 if args.quick else 6.0
    print(f"device {args.device}; torch {torch.__version__}; {os.cpu_count()} CPUs, {torch.get_num_threads()} "
          f"threads; {platform.processor() or platform.machine()}")
    rates = {}
    for name in MODELS:
        rate, per_cpu_s, batch = throughput(name, args.device, seconds)
        rates[name] = rate
        print(f"{name:<18} batch {batch:>6}: {rate:>12,.1f} images/s wall, {per_cpu_s:>12,.1f} images per CPU-second")
    base = rates["demo-mlp"]
    print("\nratio to the demo model (same process):")
    for name, rate in rates.items():
        print(f"  {name:<18} {base / rate:>10,.1f}x slower")
    print(f"\nCERTIFY, n0={N0} + n={N:,} forward passes per image, one {args.device} device:")
    for title, (name, images) in PROTOCOLS.items():
        n = 20_000 if name == "demo-mlp" else N
        passes = (N0 + n) * images
        hours = passes / rates[name] / 3600
        print(f"  {title}: {passes:,} passes, {passes / images / rates[name]:,.1f} s/image, {hours:,.2f} h "
              f"(over 8 shards: {hours / 8:,.2f} h each)")


if __name__ == "__main__":
    main()
