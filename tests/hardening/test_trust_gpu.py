"""GPU numerics: TF32 must be off while any verifier runs, and CPU and CUDA must agree.

The CPU test registers a real third-party verifier plugin that reads torch's precision flags
while the pipeline calls it. The agreement tests run only where CUDA is present.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from curator.api import SampleResult, Verifier, hookimpl
from curator.api.registry import PluginHost
from curator.verify.pipeline import VerifyOptions, verify_entry

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="no CUDA device")


def flags() -> tuple[bool, bool, str]:
    return (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
            torch.get_float32_matmul_precision())


@pytest.fixture
def tf32_on():
    """The process as a careless library caller leaves it: TF32 allowed everywhere."""
    before = flags()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.set_float32_matmul_precision("high")
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before[0], before[1]
    torch.set_float32_matmul_precision(before[2])


class PrecisionProbe(Verifier):
    """Certifies nothing; records the precision flags at each call."""
    name = "precision-probe"
    version = "0.0.1"
    description = "records torch's float32 precision flags during verify()"
    seen: list[tuple[bool, bool, str]] = []

    def verify(self, task):
        PrecisionProbe.seen.append(flags())
        with torch.no_grad():
            pred = task.model(task.inputs).argmax(1)
        return [SampleResult(i, int(y), int(p), "not_certified", 0.0) for i, y, p in
                zip(task.indices, task.labels, pred, strict=True)]


class ProbePlugin:
    @staticmethod
    @hookimpl
    def register_verifiers(register):
        register(PrecisionProbe())


def claim(tmp_path: Path, verifier: str, **cert) -> Path:
    entry = json.loads((EXAMPLES / "digits-smoothing.json").read_text())
    entry["certification"] = {"type": "deterministic", "verifier": verifier, "params": {}, **cert}
    entry["setting"] = {"dataset": "digits", "norm": "linf", "radius": 0.02, "radius_text": "0.02"}
    entry["result"] = {"certified_accuracy": 5.0, "clean_accuracy": 90.0}
    shutil.copy(EXAMPLES / "digits-mlp.safetensors", tmp_path / "digits-mlp.safetensors")
    entry["id"] = f"digits-{verifier}"
    path = tmp_path / f"digits-{verifier}.json"
    path.write_text(json.dumps(entry))
    return path


def test_the_verify_pipeline_runs_verifiers_without_tf32_and_restores_the_flags(tmp_path, tf32_on):
    host = PluginHost()
    host.load_entry_points()
    host.add_plugin(ProbePlugin(), "precision-probe", version="0.0.1")
    PrecisionProbe.seen = []
    opts = VerifyOptions(cache_dir=tmp_path / "cache", progress=False, samples=4, batch_size=2, device="cpu")
    report = verify_entry(claim(tmp_path, "precision-probe"), opts, host=host)
    assert report["totals"]["n"] == 4
    assert PrecisionProbe.seen == [(False, False, "highest")] * 2, "TF32 was allowed while a verifier ran"
    assert flags() == (True, True, "high"), "the caller's settings were not restored"


# --------------------------------------------------------------------------- CPU vs CUDA (GPU only)


def conv_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1),
                         nn.ReLU(), nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10)).eval()


@needs_cuda
@pytest.mark.parametrize("method", ["ibp", "crown"])
def test_cpu_and_cuda_bounds_agree(method, tf32_on):
    from curator.engines.bounds import from_module
    from curator.engines.numerics import strict_float32

    torch.manual_seed(1)
    x = torch.rand(16, 1, 8, 8)
    labels = conv_net()(x).argmax(1)
    out = {}
    with strict_float32():
        for device in ("cpu", "cuda"):
            net = from_module(conv_net().to(device), (1, 8, 8))
            lb = net.margin_lower_bounds(x.to(device), labels.to(device), "linf", 0.01, method=method,
                                         intermediate=method)
            out[device] = lb.double().cpu()
    finite = torch.isfinite(out["cpu"])
    assert torch.equal(finite, torch.isfinite(out["cuda"]))
    diff = (out["cpu"][finite] - out["cuda"][finite]).abs()
    scale = out["cpu"][finite].abs().clamp_min(1.0)
    assert float((diff / scale).max()) < 1e-4, f"{method}: CPU and CUDA bounds differ by {float(diff.max()):.3g}"


@needs_cuda
def test_cpu_and_cuda_smoothing_votes_agree_on_the_same_noise(tf32_on):
    from curator.engines.numerics import strict_float32

    net = conv_net()
    torch.manual_seed(2)
    x = torch.rand(1, 8, 8)
    gen = torch.Generator().manual_seed(3)
    noisy = x.unsqueeze(0) + 0.25 * torch.randn(20000, 1, 8, 8, generator=gen)
    with strict_float32(), torch.no_grad():
        cpu = torch.bincount(net(noisy).argmax(1), minlength=10)
        cuda = torch.bincount(net.to("cuda")(noisy.to("cuda")).argmax(1).cpu(), minlength=10)
    assert int((cpu - cuda).abs().sum()) <= 2, (cpu.tolist(), cuda.tolist())


@needs_cuda
@pytest.mark.parametrize("verifier", ["ibp", "crown"])
def test_cpu_and_cuda_verify_reports_agree(tmp_path, verifier, tf32_on):
    reports = {}
    for device in ("cpu", "cuda"):
        opts = VerifyOptions(cache_dir=tmp_path / "cache", progress=False, samples=40, device=device)
        reports[device] = verify_entry(claim(tmp_path, verifier), opts)
    assert reports["cpu"]["samples"]["status"] == reports["cuda"]["samples"]["status"]
    assert reports["cuda"]["environment"]["device"].startswith("cuda")
