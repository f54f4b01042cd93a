"""Complete MILP verifier: encoding exactness, bound soundness, VNN-COMP answers, the plugin."""

from __future__ import annotations

import csv
import gzip

import numpy as np
import pytest
import torch
from torch import nn

from curator.api import VerifyTask
from curator.api.registry import get_registry
from curator.engines.layers import Normalize
from curator.engines.onnx import onnx_to_torch
from curator.engines.vnnlib import read_vnnlib
from curator_plugins.milp.encoding import verify_box
from curator_plugins.milp.network import UnsupportedNetwork, extract, margin_bound, preactivation_bounds

VNN = ("artifacts", "vnncomp2022-mnist_fc")


def small_net(seed: int, d_in: int = 4, width: int = 12, classes: int = 3) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(Normalize([0.5], [0.25]), nn.Linear(d_in, width), nn.ReLU(), nn.Linear(width, width),
                         nn.ReLU(), nn.Linear(width, classes)).eval()


def replay_for(model, shape):
    def replay(x32):
        with torch.no_grad():
            return model(torch.from_numpy(x32).view((1,) + shape))[0].double().numpy()
    return replay


def margins(model, x, label):
    with torch.no_grad():
        out = model(x)
    other = out.clone()
    other[:, label] = -np.inf
    return out[:, label] - other.max(1).values


def test_extraction_is_exact_for_conv_and_normalize():
    torch.manual_seed(0)
    model = nn.Sequential(Normalize([0.1, 0.2], [0.3, 0.4]), nn.Conv2d(2, 3, 3, stride=2, padding=1), nn.ReLU(),
                          nn.Flatten(), nn.Linear(3 * 4 * 4, 7), nn.ReLU(), nn.Linear(7, 4)).eval()
    net = extract(model, (2, 8, 8))
    x = torch.rand(5, 2, 8, 8)
    with torch.no_grad():
        ref = model.double()(x.double()).numpy()
    np.testing.assert_allclose(net.forward(x.reshape(5, -1).double().numpy()), ref, atol=1e-12)
    with pytest.raises(UnsupportedNetwork, match="Sigmoid"):
        extract(nn.Sequential(nn.Linear(2, 2), nn.Sigmoid(), nn.Linear(2, 2)), (2,))


@pytest.mark.parametrize("method", ["ibp", "crown"])
def test_bounds_contain_every_sampled_point(method):
    model = small_net(1)
    net = extract(model, (4,))
    rng = np.random.default_rng(0)
    x0 = rng.random(4)
    lo, hi = np.clip(x0 - 0.2, 0, 1), np.clip(x0 + 0.2, 0, 1)
    bounds = preactivation_bounds(net, lo, hi, method)
    xs = rng.uniform(lo, hi, size=(2000, 4))
    h = xs.T
    for i, (lb, ub) in enumerate(bounds):
        z = net.weights[i] @ h + net.biases[i][:, None]
        assert np.all(z >= lb[:, None]) and np.all(z <= ub[:, None])
        h = np.maximum(z, 0)
    logits = net.forward(xs)
    label = int(np.argmax(net.forward(x0)))
    targets = [j for j in range(3) if j != label]
    lower = margin_bound(net, lo, hi, label, targets, method).lower
    assert np.all(logits[:, [label]] - logits[:, targets] >= lower)
    if method == "crown":  # CROWN intersected with IBP is never looser
        ibp = preactivation_bounds(net, lo, hi, "ibp")
        assert all(np.all(c[0] >= i[0]) and np.all(c[1] <= i[1]) for c, i in zip(bounds, ibp, strict=True))


def test_milp_agrees_with_exhaustive_sampling_on_small_nets():
    """Complete means: 'certified' only if no sampled point breaks the margin, and a
    counterexample whenever sampling finds one (the MILP must then find one too)."""
    seen = set().union(*(_agree_linf(seed) for seed in range(6)))
    assert seen == {"certified", "not_certified"}


def _agree_linf(seed):
    statuses = set()
    model = small_net(seed, d_in=2)
    net = extract(model, (2,))
    x0 = np.random.default_rng(seed).random(2).astype(np.float32)
    label = int(model(torch.from_numpy(x0)[None]).argmax())
    grid = np.stack(np.meshgrid(np.linspace(0, 1, 201), np.linspace(0, 1, 201)), -1).reshape(-1, 2)
    for eps in (0.02, 0.1, 0.3):
        lo, hi = np.clip(x0 - eps, 0, 1), np.clip(x0 + eps, 0, 1)
        res = verify_box(net, lo, hi, label, replay_for(model, (2,)), time_limit=30)
        pts = torch.from_numpy(lo + grid * (hi - lo)).float()
        sampled_min = float(margins(model, pts, label).min())
        if res.status == "certified":
            assert sampled_min > 0
        else:
            assert res.status == "not_certified"
            w = res.witness.astype(np.float64)
            assert np.all(w >= lo) and np.all(w <= hi)
            assert float(margins(model, torch.from_numpy(res.witness)[None], label)) <= 1e-4
        if sampled_min < -1e-3:
            assert res.status == "not_certified"
        statuses.add(res.status)
    return statuses


def test_degenerate_box_is_the_network_itself():
    model = small_net(3)
    net = extract(model, (4,))
    x = np.random.default_rng(3).random(4).astype(np.float32)
    out = model(torch.from_numpy(x)[None])[0]
    for label in range(3):
        res = verify_box(net, x.astype(np.float64), x.astype(np.float64), label, replay_for(model, (4,)))
        assert (res.status == "certified") == (int(out.argmax()) == label)


def _instances(shared):
    base = shared.joinpath(*VNN)
    truth = {r["instance"]: r["true_result"] for r in csv.DictReader(open(base / "true_results.csv"))}
    out = []
    for onnx_rel, vnn_rel, timeout in csv.reader(open(base / "instances.csv")):
        net = onnx_rel.split("_")[-1].removesuffix(".onnx")
        prop = vnn_rel.split("/")[-1].removesuffix(".vnnlib")
        out.append((net, prop, float(timeout), truth[f"mnist-net_{net}-{prop}"]))
    return out


_MODELS: dict = {}


def _solve(shared, net_name, prop_name, time_limit):
    base = shared.joinpath(*VNN)
    if net_name not in _MODELS:
        model = onnx_to_torch(base / "onnx" / f"mnist-net_{net_name}.onnx.gz", input_shape=(784,))
        _MODELS[net_name] = (model, extract(model, (784,)))
    model, net = _MODELS[net_name]
    prop = read_vnnlib(base / "vnnlib" / f"{prop_name}.vnnlib.gz")
    res = verify_box(net, prop.lower, prop.upper, prop.label, replay_for(model, (784,)), time_limit=time_limit)
    if res.status == "not_certified":  # replay independently of the verifier
        w = torch.from_numpy(res.witness)
        assert np.all(res.witness >= prop.lower) and np.all(res.witness <= prop.upper)
        assert float(margins(model, w[None], prop.label)) <= 1e-4
    return res


# A fast slice of the benchmark: 256x2, the three sat instances at eps 0.03 and unsat ones that need
# the MILP (CROWN alone fails) but finish in seconds.
FAST = [("prop_1_0.03", "sat"), ("prop_2_0.03", "sat"), ("prop_12_0.03", "sat"),
        ("prop_11_0.05", "unsat"), ("prop_13_0.05", "unsat"), ("prop_14_0.05", "unsat"), ("prop_0_0.03", "unsat")]


@pytest.mark.parametrize("prop_name,truth", FAST)
def test_vnncomp_256x2_fast_slice(shared, prop_name, truth):
    res = _solve(shared, "256x2", prop_name, time_limit=60)
    assert res.status == ("not_certified" if truth == "sat" else "certified")


@pytest.mark.slow
def test_vnncomp_full_sweep(shared):
    """Every instance within its listed timeout: never 'certified' on sat, never a counterexample
    on unsat; prints the per-network figures recorded in docs/benchmarks.md."""
    tally: dict = {}
    for net_name, prop_name, timeout, truth in _instances(shared):
        res = _solve(shared, net_name, prop_name, time_limit=timeout)
        if truth == "sat":
            assert res.status != "certified", (net_name, prop_name)
        if truth == "unsat":
            assert res.status != "not_certified", (net_name, prop_name)
        key = (net_name, truth)
        tally.setdefault(key, []).append((res.status, res.seconds))
    for key, rows in sorted(tally.items()):
        print(key, {s: sum(1 for r in rows if r[0] == s) for s in {r[0] for r in rows}},
              f"{sum(r[1] for r in rows):.0f}s")


def mnist_slice(shared, n):
    base = shared / "artifacts" / "mnist"
    images = np.frombuffer(gzip.open(base / "t10k-images-idx3-ubyte.gz").read()[16:], np.uint8)
    labels = np.frombuffer(gzip.open(base / "t10k-labels-idx1-ubyte.gz").read()[8:], np.uint8)
    x = torch.from_numpy(images[: n * 784].reshape(n, 1, 28, 28).astype(np.float32) / 255.0)
    return x, torch.from_numpy(labels[:n].astype(np.int64))


def _task(model, x, y, norm, radius, **params):
    return VerifyTask(model=model, inputs=x, labels=y, indices=list(range(len(y))), norm=norm, radius=radius,
                      params=params, num_classes=10, time_limit=30)


def _check_results(model, x, results, norm, radius):
    for r, xi in zip(results, x, strict=True):
        assert r.status in ("certified", "not_certified", "timeout"), r.extra
        if r.status == "not_certified":
            w = r.extra["witness"]
            d = (w.double() - xi.double()).abs()
            assert w.shape == xi.shape and float(d.max() if norm == "linf" else d.sum()) <= radius
            assert float(w.min()) >= 0 and float(w.max()) <= 1
            assert float(margins(model, w[None], r.predicted)) <= 1e-4


def test_plugin_on_mnist_images(shared):
    verifier = get_registry().verifier("milp")
    model = onnx_to_torch(shared.joinpath(*VNN, "onnx", "mnist-net_256x2.onnx.gz"), input_shape=(1, 28, 28))
    x, y = mnist_slice(shared, 4)
    small = verifier.verify(_task(model, x, y, "linf", 0.02))
    assert [r.index for r in small] == list(range(4))
    _check_results(model, x, small, "linf", 0.02)
    assert {r.status for r in small} == {"certified", "not_certified"}  # both answers occur at 0.02
    large = verifier.verify(_task(model, x, y, "linf", 0.15))
    _check_results(model, x, large, "linf", 0.15)
    assert all(r.status == "not_certified" for r in large)
    # A certificate at 0.02 is never contradicted at a smaller radius.
    for r, r2 in zip(small, verifier.verify(_task(model, x, y, "linf", 0.01)), strict=True):
        assert not (r.status == "certified" and r2.status == "not_certified")
    with pytest.raises(ValueError, match="l2"):
        verifier.verify(_task(model, x[:1], y[:1], "l2", 0.5))


def test_plugin_l1_ball(shared):
    verifier = get_registry().verifier("milp")
    model = onnx_to_torch(shared.joinpath(*VNN, "onnx", "mnist-net_256x2.onnx.gz"), input_shape=(1, 28, 28))
    x, y = mnist_slice(shared, 2)
    results = verifier.verify(_task(model, x, y, "l1", 0.5))
    assert all(r.status == "certified" for r in results)


def test_l1_ball_agrees_with_sampling():
    seen = set().union(*(_agree_l1(seed) for seed in range(4)))
    assert seen == {"certified", "not_certified"}


def _agree_l1(seed):
    statuses = set()
    model = small_net(seed, d_in=2)
    net = extract(model, (2,))
    x0 = np.random.default_rng(seed).random(2).astype(np.float32)
    label = int(model(torch.from_numpy(x0)[None]).argmax())
    rng = np.random.default_rng(seed)
    for eps in (0.05, 0.3, 0.8):
        lo, hi = np.clip(x0 - eps, 0, 1), np.clip(x0 + eps, 0, 1)
        res = verify_box(net, lo, hi, label, replay_for(model, (2,)), time_limit=30, l1_ball=(x0, eps))
        pts = rng.uniform(lo, hi, size=(40000, 2))
        pts = pts[np.abs(pts - x0).sum(1) <= eps]
        sampled_min = float(margins(model, torch.from_numpy(pts).float(), label).min())
        if res.status == "certified":
            assert sampled_min > 0
        else:
            assert res.status == "not_certified"
            w = res.witness.astype(np.float64)
            assert np.abs(w - x0).sum() <= eps and np.all(w >= 0) and np.all(w <= 1)
            assert float(margins(model, torch.from_numpy(res.witness)[None], label)) <= 1e-4
        if sampled_min < -1e-3:
            assert res.status == "not_certified"
        statuses.add(res.status)
    return statuses


def test_certified_by_ibp_implies_crown_implies_milp(shared):
    """Per sample on the same inputs: ibp certified ⇒ crown certified ⇒ milp certified, and a milp
    counterexample is never certified by the bound engine."""
    from curator.engines.bounds import from_module

    model = onnx_to_torch(shared.joinpath(*VNN, "onnx", "mnist-net_256x2.onnx.gz"), input_shape=(1, 28, 28))
    x, y = mnist_slice(shared, 8)
    bounded = from_module(model, (1, 28, 28))
    verifier = get_registry().verifier("milp")
    counts = {"ibp": 0, "crown": 0, "milp": 0}
    for eps in (0.02,):
        ibp = bounded.margin_lower_bounds(x, y, "linf", eps, method="ibp", intermediate="ibp").min(1).values > 0
        crown = bounded.margin_lower_bounds(x, y, "linf", eps, method="crown").min(1).values > 0
        milp = verifier.verify(_task(model, x, y, "linf", eps))
        for i, r in enumerate(milp):
            assert not bool(ibp[i]) or bool(crown[i])
            if crown[i]:
                assert r.status == "certified" and r.predicted == int(y[i])
            if r.status == "not_certified":
                assert not bool(crown[i])
            counts["ibp"] += int(ibp[i])
            counts["crown"] += int(crown[i])
            counts["milp"] += int(r.status == "certified" and r.predicted == int(y[i]))
    assert counts["ibp"] <= counts["crown"] <= counts["milp"] and counts["milp"] > counts["ibp"]


def test_bound_engine_never_certifies_a_sat_instance(shared):
    from curator.engines.bounds import from_module

    base = shared.joinpath(*VNN)
    sat = [(n, p) for n, p, _, truth in _instances(shared) if truth == "sat"]
    assert len(sat) == 18
    for net_name in sorted({n for n, _ in sat}):
        model = onnx_to_torch(base / "onnx" / f"mnist-net_{net_name}.onnx.gz", input_shape=(784,))
        bounded = from_module(model, (784,))
        for n, p in sat:
            if n != net_name:
                continue
            prop = read_vnnlib(base / "vnnlib" / f"{p}.vnnlib.gz")
            centre, eps = prop.linf_ball()
            xc = torch.tensor(centre, dtype=torch.float32)[None]
            for method in ("ibp", "crown"):
                lb = bounded.margin_lower_bounds(xc, torch.tensor([prop.label]), "linf", eps, method=method)
                assert float(lb.min()) <= 0, (n, p, method)


def test_counterexample_that_does_not_replay_is_an_error_and_time_limit_is_timeout(shared):
    model = small_net(2, d_in=2)
    net = extract(model, (2,))
    x0 = np.array([0.5, 0.5], dtype=np.float32)
    label = int(model(torch.from_numpy(x0)[None]).argmax())
    lo, hi = np.zeros(2), np.ones(2)
    honest = verify_box(net, lo, hi, label, replay_for(model, (2,)))
    assert honest.status == "not_certified"  # the whole square holds another class

    def lying_replay(x32):  # a model that disagrees with the MILP's network everywhere but the centre
        out = replay_for(model, (2,))(x32)
        if not np.allclose(x32, 0.5):
            out[label] = out.max() + 1.0
        return out

    res = verify_box(net, lo, hi, label, lying_replay)
    assert res.status == "error" and "does not replay" in res.message and res.witness is None

    res = _solve(shared, "256x2", "prop_10_0.05", time_limit=1.0)  # needs ~10-40 s
    assert res.status == "timeout" and res.seconds < 10


def test_the_engine_ball_around_a_box_is_the_box_when_it_is_a_clipped_ball():
    from curator_plugins.milp.network import InputSet

    rng = np.random.default_rng(5)
    x0 = rng.random(300)
    x0[:20], x0[20:40] = 0.0, 1.0  # clipped on either side
    for eps in (0.0, 0.013, 0.3):
        lo, hi = np.clip(x0 - eps, 0, 1), np.clip(x0 + eps, 0, 1)
        ball = InputSet.enclosing(lo, hi)
        got_lo, got_hi = np.maximum(ball.centre - ball.eps, 0), np.minimum(ball.centre + ball.eps, 1)
        assert np.all(got_lo <= lo) and np.all(got_hi >= hi)  # contains the box: the bounds are sound for it
        assert ball.eps - eps <= 1e-15 and np.abs(got_lo - lo).max() <= 1e-15 and np.abs(got_hi - hi).max() <= 1e-15
    lo, hi = np.array([0.1, 0.5]), np.array([0.2, 0.9])  # not a ball: the smallest one around it
    ball = InputSet.enclosing(lo, hi)
    assert ball.eps == pytest.approx(0.2) and np.all(ball.centre - ball.eps <= lo) and np.all(ball.centre + ball.eps >= hi)
    with pytest.raises(ValueError, match="0 <= lo <= hi <= 1"):
        InputSet.enclosing(np.array([-0.1]), np.array([0.2]))


@pytest.mark.parametrize("norm", ["linf", "l1"])
def test_milp_bounds_are_the_bound_engines(norm):
    """The pre-activation bounds are curator.engines.bounds' (CROWN ∩ IBP, float64), padded outwards."""
    from curator.engines.bounds import from_module

    model = small_net(4)
    net = extract(model, (4,))
    x0 = np.random.default_rng(4).random(4)
    eps = 0.2 if norm == "linf" else 0.5
    lo, hi = np.clip(x0 - eps, 0, 1), np.clip(x0 + eps, 0, 1)
    ours = preactivation_bounds(net, lo, hi, "crown", (x0, eps) if norm == "l1" else None)
    engine = from_module(model, (4,), dtype=torch.float64).crown_intermediate(torch.from_numpy(x0)[None], norm, eps)
    for (lb, ub), (el, eu) in zip(ours, engine, strict=True):
        assert np.all(lb <= el[0].numpy()) and np.all(ub >= eu[0].numpy())
        np.testing.assert_allclose(lb, el[0].numpy(), atol=1e-8)
        np.testing.assert_allclose(ub, eu[0].numpy(), atol=1e-8)
