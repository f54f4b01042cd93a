"""Forward passes and wall time per certified decision: CERTIFY vs the sequential test, same alpha.

1. Replay of Cohen et al.'s real per-sample logs (../shared/artifacts/smoothing-logs): each sample's
   pA is the one its logged radius implies (radius = sigma * Phi^-1(pA)); votes are simulated as
   Bernoulli(pA) draws (binomial increments), and both procedures run on them at each claimed radius.
2. The demo model (examples/digits-mlp.safetensors) on its 120 test images, real forward passes.

Usage: python bench/bench_smoothing.py [--quick]   (prints a markdown table for docs/benchmarks.md)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import norm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from curator.core.stats import cp_lower, cp_upper  # noqa: E402
from curator.verify.cohen_log import read_log  # noqa: E402
from curator_plugins.smoothing.certify import look_alphas, look_schedule, radius_from_p  # noqa: E402

N0, N, ALPHA = 100, 100_000, 0.001
LOGS = {
    "cifar10 σ=0.12": ("cohen2019/cifar10/resnet110/noise_0.12/test/sigma_0.12", 0.12),
    "cifar10 σ=0.25": ("cohen2019/cifar10/resnet110/noise_0.25/test/sigma_0.25", 0.25),
    "cifar10 σ=0.50": ("cohen2019/cifar10/resnet110/noise_0.50/test/sigma_0.50", 0.50),
    "cifar10 σ=1.00": ("cohen2019/cifar10/resnet110/noise_1.00/test/sigma_1.00", 1.00),
    "imagenet σ=0.25": ("cohen2019/imagenet/resnet50/noise_0.25/test/sigma_0.25", 0.25),
    "imagenet σ=0.50": ("cohen2019/imagenet/resnet50/noise_0.50/test/sigma_0.50", 0.50),
    "imagenet σ=1.00": ("cohen2019/imagenet/resnet50/noise_1.00/test/sigma_1.00", 1.00),
}


def simulate_certify(p: float, r: float, sigma: float, rng) -> bool:
    n_a = rng.binomial(N, p)
    lo = cp_lower(int(n_a), N, ALPHA)
    return lo > 0.5 and radius_from_p(lo, "gaussian", sigma) >= r


def simulate_sequential(p: float, r: float, sigma: float, rng, looks, alphas) -> tuple[bool, int]:
    p_star = norm.cdf(r / sigma)
    drawn = s = 0
    for k, (m, a) in enumerate(zip(looks, alphas, strict=True)):
        s += int(rng.binomial(m - drawn, p))
        drawn = m
        lo = cp_lower(s, m, a)
        if lo > 0.5 and radius_from_p(lo, "gaussian", sigma) >= r:
            return True, N0 + m
        if cp_upper(s, m, a) < p_star or k == len(looks) - 1:
            return False, N0 + m
        # curtailment, as in the plugin: no later look could certify even with every draw a vote for cA
        if all(cp_lower(s + (mj - m), mj, aj) <= 0.5 or radius_from_p(cp_lower(s + (mj - m), mj, aj), "gaussian", sigma) < r
               for mj, aj in zip(looks[k + 1:], alphas[k + 1:], strict=True)):
            return False, N0 + m
    raise AssertionError


def replay(shared: Path, quick: bool) -> list[dict]:
    rng = np.random.default_rng(0)
    looks = look_schedule(64, 2.0, N)  # the plugin's defaults (n_first, growth)
    alphas = look_alphas(len(looks), ALPHA)
    rows_out = []
    for name, (rel, sigma) in LOGS.items():
        rows = read_log(shared / "artifacts" / "smoothing-logs" / rel)
        if quick:
            rows = rows[::5]
        for r in (0.25, 0.5, 1.0):
            if r > 4 * sigma:
                continue
            t0 = time.perf_counter()
            passes = agree = agree_log = certified = 0
            for row in rows:
                # an abstention's pA is at most about one half: replay it as exactly one half
                p = float(norm.cdf(row.radius / sigma)) if row.predict != -1 else 0.5
                c = simulate_certify(p, r, sigma, rng)
                s, used = simulate_sequential(p, r, sigma, rng, looks, alphas)
                logged = row.predict != -1 and row.radius >= r
                passes += used
                agree += c == s
                agree_log += logged == s
                certified += s
            n = len(rows)
            rows_out.append({"log": name, "r": r, "n": n, "seq_passes": passes / n, "ratio": (N0 + N) / (passes / n),
                             "agree": agree / n, "agree_log": agree_log / n, "certified": certified / n,
                             "sim_s": time.perf_counter() - t0})
    return rows_out


def demo(quick: bool) -> list[dict]:
    import torch

    from curator.api import VerifyTask
    from curator.api.registry import get_registry
    from curator.core.jsonio import read_json
    from curator.core.sampling import select_indices
    from curator.verify.datasets import load_digits_arrays
    from curator.verify.models import load_model

    reg = get_registry()
    entry = read_json(REPO / "examples" / "digits-smoothing.json")
    model = load_model(entry["model"], REPO / "examples" / "digits-mlp.safetensors", reg, "cpu")
    x, y = load_digits_arrays("test")
    idx = select_indices(entry["result"]["sample_selection"], len(x), n=30 if quick else None)
    out = []
    decisions = {}
    for mode in ("certify", "sequential"):
        params = {**entry["certification"]["params"], "mode": mode}
        task = VerifyTask(model=model, inputs=x[idx], labels=y[idx], indices=idx, norm="l2",
                          radius=entry["setting"]["radius"], params=params, num_classes=10, seed=0)
        t0 = time.perf_counter()
        res = reg.verifier("smoothing").verify(task)
        wall = time.perf_counter() - t0
        decisions[mode] = [r.status == "certified" for r in res]
        out.append({"mode": mode, "n": len(res), "passes": sum(r.extra["n_used"] for r in res) / len(res),
                    "wall_ms": 1000 * wall / len(res), "certified": sum(decisions[mode]) / len(res),
                    "batch_size": params["batch_size"], "device": "cpu", "threads": torch.get_num_threads()})
    agree = sum(a == b for a, b in zip(decisions["certify"], decisions["sequential"], strict=True)) / len(idx)
    for o in out:
        o["agree"] = agree
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="a fifth of each log, 30 demo samples")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = ap.parse_args()
    print(f"## replay of Cohen et al.'s logs (N0={N0}, N={N}, alpha={ALPHA}; CERTIFY = {N0 + N} passes/sample)")
    print("| log | r | samples | sequential passes/sample | fewer passes (×) | "
          "agree with simulated CERTIFY | agree with the log | certified |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    tot_passes = tot_n = tot_agree = 0.0
    for row in replay(args.shared, args.quick):
        print(f"| {row['log']} | {row['r']} | {row['n']} | {row['seq_passes']:.0f} | {row['ratio']:.1f} | "
              f"{100 * row['agree']:.2f}% | {100 * row['agree_log']:.2f}% | {100 * row['certified']:.1f}% |")
        tot_passes += row["seq_passes"] * row["n"]
        tot_n += row["n"]
        tot_agree += row["agree"] * row["n"]
    print(f"\noverall: {tot_passes / tot_n:.0f} passes/sample = {(N0 + N) / (tot_passes / tot_n):.1f}× fewer than "
          f"CERTIFY, agreement {100 * tot_agree / tot_n:.2f}% over {int(tot_n)} decisions\n")
    print("## demo model (digits, fc 64-128-128-10, sigma 0.25, l2 r 0.25), real forward passes")
    rows = demo(args.quick)
    print("| mode | samples | forward passes/sample | wall ms/sample | certified | batch size | device | torch threads |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for o in rows:
        print(f"| {o['mode']} | {o['n']} | {o['passes']:.0f} | {o['wall_ms']:.1f} | {100 * o['certified']:.1f}% | "
              f"{o['batch_size']} | {o['device']} | {o['threads']} |")
    c, s = rows
    print(f"\nsequential vs CERTIFY on the demo: {c['passes'] / s['passes']:.1f}× fewer forward passes, "
          f"{c['wall_ms'] / s['wall_ms']:.1f}× less wall time, decisions agree on {100 * c['agree']:.2f}% of samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
