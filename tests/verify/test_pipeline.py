"""The verify pipeline end to end on the bundled digits example (real model, real data, real plugins).

A deterministic "certify-everything" verifier and a gradient attack are registered as *third-party*
plugins through the plugin host, exactly as an outside distribution would: the pipeline must catch
the verifier's false certificates with the attack's replayed witnesses.
"""

import json

import pytest
import torch

from curator.api import Attack, SampleResult
from curator.api.registry import PluginHost
from curator.core.errors import CuratorError
from curator.core.sampling import indices_sha256, select_indices
from curator.verify.pipeline import VerifyError, VerifyOptions, resolve_model_url, verify_entry
from curator.verify.report import ReportError, check_schema, merge_reports
from methodkit import CertifyEverything, host_with
from verifykit import EXAMPLES, copy_example, opts


@pytest.fixture(scope="module")
def six(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("six")
    return verify_entry(copy_example(tmp), opts(tmp, samples=6))


def test_report_of_the_example_is_schema_valid_and_complete(six):
    check_schema(six)
    assert six["entry"]["id"] == "digits-smoothing" and six["entry"]["same_protocol"] is True
    assert six["dataset"]["indices_sha256"] == indices_sha256(select_indices({"kind": "all"}, 360, n=6))
    # 6 of the claim's 360 samples: a smoke run, which cannot confirm (docs/verdicts.md)
    assert six["smoke_run"] is True and six["minimum_n"] == 360 and six["verdict"]["status"] != "confirmed"
    assert six["protocol_floor"]["verifier"] == "smoothing" and six["protocol_floor"]["problems"] == []
    assert six["verifier"]["params"]["n0"] == 100 and six["verifier"]["params"]["noise"] == "gaussian"
    assert six["totals"]["n"] == 6 and len(six["samples"]["extra"]["p_lower"]) == 6
    assert six["environment"]["plugins"]["smoothing"]
    assert six["verdict"]["status"] in ("unconfirmed", "refuted")
    # pgd is installed but attacks the base network, which bounds nothing about a smoothed classifier
    assert six["attack"] is None and any("attack" in n for n in six["notes"])


def test_runs_without_any_attack_plugin_and_says_so(tmp_path):
    h = PluginHost()
    h.load_entry_points(only={"smoothing", "datasets", "architectures"})
    report = verify_entry(copy_example(tmp_path), opts(tmp_path, samples=2), host=h)
    check_schema(report)
    assert report["attack"] is None and any("no attack plugin 'pgd' is installed" in n for n in report["notes"])


def test_shards_merge_to_the_unsharded_run(tmp_path, six):
    entry = copy_example(tmp_path)
    a = verify_entry(entry, opts(tmp_path, samples=6, shard=(0, 2)))
    b = verify_entry(entry, opts(tmp_path, samples=6, shard=(1, 2)))
    assert a["verdict"]["status"] == "partial" and a["shard"]["run_id"] == b["shard"]["run_id"]
    merged = merge_reports([b, a])
    check_schema(merged)
    # per-sample noise depends only on (seed, index): the merge reproduces the single run exactly
    assert merged["samples"]["index"] == six["samples"]["index"]
    assert merged["samples"]["extra"]["count"] == six["samples"]["extra"]["count"]
    assert merged["totals"] == six["totals"] and merged["verdict"] == six["verdict"]
    with pytest.raises(ReportError, match="given twice"):
        merge_reports([a, a])
    with pytest.raises(ReportError, match="missing shard"):
        merge_reports([a])
    other = verify_entry(entry, opts(tmp_path, samples=6, shard=(1, 2), seed=3))
    with pytest.raises(ReportError, match="another run"):
        merge_reports([a, other])
    forged = json.loads(json.dumps(b))
    forged["samples"]["index"][0] = a["samples"]["index"][0]
    forged["shard"]["index"] = 1
    with pytest.raises(ReportError, match="overlapping"):
        merge_reports([a, forged])


def test_model_url_never_escapes_the_entry_folder(tmp_path):
    entry = tmp_path / "sub" / "e.json"
    entry.parent.mkdir()
    (tmp_path / "outside.bin").write_bytes(b"x")
    assert resolve_model_url("file://./m.safetensors", entry).endswith("/sub/m.safetensors")
    for url in ("file://./../outside.bin", "file:///etc/passwd", f"file://{tmp_path}/outside.bin", "file://host/x"):
        with pytest.raises(VerifyError):
            resolve_model_url(url, entry)
    (entry.parent / "link").symlink_to(tmp_path / "outside.bin")
    with pytest.raises(VerifyError, match="outside"):
        resolve_model_url("file://./link", entry)
    assert resolve_model_url("https://example.org/m.onnx", entry) == "https://example.org/m.onnx"


def test_hash_mismatch_and_invalid_entry_are_clear_errors(tmp_path):
    bad = copy_example(tmp_path, model__sha256="0" * 64)
    with pytest.raises(CuratorError, match="sha256"):
        verify_entry(bad, opts(tmp_path, samples=2))
    invalid = copy_example(tmp_path, setting__radius=-1)
    with pytest.raises(VerifyError, match="/setting/radius"):
        verify_entry(invalid, opts(tmp_path, samples=2))


# --------------------------------------------------------------------------- third-party plugins


class GradientAttack(Attack):
    """One normalised-gradient step to the l2 sphere on the margin, clipped to the box."""
    name = "grad-attack"
    version = "0.0.1"
    norms = ("l2",)

    def verify(self, task):
        x = task.inputs.clone().requires_grad_(True)
        logits = task.model(x)
        true = logits.gather(1, task.labels[:, None]).squeeze(1)
        other = logits.masked_fill(torch.nn.functional.one_hot(task.labels, task.num_classes).bool(), -1e9).max(1).values
        (true - other).sum().backward()
        g = x.grad.flatten(1)
        step = -(g / g.norm(dim=1, keepdim=True).clamp_min(1e-12)).view_as(x) * task.radius
        adv = (task.inputs + step).clamp(0, 1).detach()
        out = []
        with torch.no_grad():
            clean = task.model(task.inputs).argmax(1)
            pred = task.model(adv).argmax(1)
        for row, i in enumerate(task.indices):
            y = int(task.labels[row])
            if int(clean[row]) != y:
                out.append(SampleResult(i, y, int(clean[row]), "misclassified", 0.0))
            elif int(pred[row]) != y:
                out.append(SampleResult(i, y, int(pred[row]), "broken", 0.0, extra={"witness": adv[row], "margin": -1.0}))
            else:
                out.append(SampleResult(i, y, y, "not_broken", 0.0))
        return out


@pytest.fixture(scope="module")
def host():
    return host_with(CertifyEverything(), GradientAttack())


def deterministic(tmp_path, claim, radius=1.5):
    return copy_example(tmp_path, certification={"type": "deterministic", "verifier": "certify-everything", "params": {}},
                        result__certified_accuracy=claim, setting__radius=radius, setting__radius_text=str(radius))


def test_attack_refutes_an_overclaim_before_certification(tmp_path, host):
    report = verify_entry(deterministic(tmp_path, 90.0), opts(tmp_path, samples=40, attack="grad-attack"), host=host)
    check_schema(report)
    att = report["attack"]
    assert att["early_stop"] is True and att["robust_accuracy"]["upper"] < 90.0
    assert report["verdict"]["status"] == "refuted" and "attacked" in report["verdict"]["reason"]
    assert report["totals"]["n"] == 0  # the verifier never ran
    assert att["witnesses"] and len(att["witnesses"][0]["values"]) == 64


def test_a_broken_certificate_is_a_soundness_error(tmp_path, host):
    report = verify_entry(deterministic(tmp_path, 1.5), opts(tmp_path, samples=40, attack="grad-attack"), host=host)
    check_schema(report)
    assert report["soundness"], "the attack breaks samples the fake verifier certified"
    first = report["soundness"][0]
    assert report["verdict"]["status"] == "error"
    assert "certify-everything" in report["verdict"]["reason"] and str(first["index"]) in report["verdict"]["reason"]
    # the witness replays: inside the l2 ball and box, misclassified
    x = torch.tensor(first["values"]).view(1, 1, 8, 8)
    assert 0 <= float(x.min()) and float(x.max()) <= 1


def test_attack_skipped_for_smoothed_claims_and_says_why(tmp_path, host):
    report = verify_entry(copy_example(tmp_path), opts(tmp_path, samples=2, attack="grad-attack"), host=host)
    assert report["attack"] is None and any("smoothed classifier" in n for n in report["notes"])


def test_an_attack_named_as_the_claim_verifier_is_refused(tmp_path, host):
    p = copy_example(tmp_path, certification={"type": "deterministic", "verifier": "grad-attack", "params": {}})
    with pytest.raises(CuratorError):
        verify_entry(p, opts(tmp_path, samples=2), host=host)


# --------------------------------------------------------------------------- the demo (slow: about a minute each)


@pytest.mark.slow
def test_demo_claim_is_confirmed_and_overclaim_is_not(tmp_path):
    honest = verify_entry(EXAMPLES / "digits-smoothing.json", opts(tmp_path))
    assert honest["verdict"]["status"] == "confirmed", honest["verdict"]
    over = verify_entry(EXAMPLES / "digits-smoothing-overclaim.json", opts(tmp_path))
    assert over["verdict"]["status"] == "refuted", over["verdict"]
    assert honest["totals"] == over["totals"]  # same model, same protocol, same seed


@pytest.mark.slow
def test_sequential_and_certify_agree_on_the_demo(tmp_path):
    cert = verify_entry(EXAMPLES / "digits-smoothing.json", opts(tmp_path))
    seq_entry = copy_example(tmp_path, certification__params={**cert["verifier"]["params"], "mode": "sequential"})
    seq = verify_entry(seq_entry, opts(tmp_path))
    a = [s == "certified" for s in cert["samples"]["status"]]
    b = [s == "certified" for s in seq["samples"]["status"]]
    agree = sum(x == y for x, y in zip(a, b, strict=True)) / len(a)
    assert len(a) == 360 and agree >= 0.99, agree
    assert sum(seq["samples"]["extra"]["n_used"]) < sum(cert["samples"]["extra"]["n_used"]) / 10


# --------------------------------------------------------------------------- bundled crown + pgd, deterministic claims


def crown_claim(tmp_path, claim, radius):
    return copy_example(tmp_path, certification={"type": "deterministic", "verifier": "crown", "params": {}},
                        setting={"dataset": "digits", "norm": "linf", "radius": radius, "radius_text": str(radius)},
                        result__certified_accuracy=claim, result__clean_accuracy=max(claim, 90.0))


def test_bundled_pgd_cross_checks_crown_and_finds_no_unsound_certificate(tmp_path):
    report = verify_entry(crown_claim(tmp_path, 80.0, 0.02), opts(tmp_path, samples=30))
    check_schema(report)
    assert report["attack"]["name"] == "pgd" and report["soundness"] == []
    # 80% is inside the interval, but 30 samples are too few to confirm anything
    assert report["verdict"]["status"] == "unconfirmed" and "fewer than the 360" in report["verdict"]["reason"]
    # certified ≤ attacked, sample by sample: a sound verifier never certifies what pgd broke
    assert report["certified_accuracy"]["value"] <= report["attack"]["robust_accuracy"]["value"]


def test_bundled_pgd_refutes_an_overclaim_before_crown_runs(tmp_path):
    report = verify_entry(crown_claim(tmp_path, 99.0, 0.1), opts(tmp_path, samples=30))
    assert report["verdict"]["status"] == "refuted" and report["attack"]["early_stop"] is True
    assert report["totals"]["n"] == 0 and report["attack"]["witnesses"]


def test_an_onnx_claim_without_architecture_verifies_end_to_end(shared, tmp_path):
    import gzip
    import hashlib

    pytest.importorskip("onnx")
    raw = gzip.decompress((shared / "artifacts/vnncomp2022-mnist_fc/onnx/mnist-net_256x2.onnx.gz").read_bytes())
    folder = tmp_path / "claim"
    folder.mkdir()
    (folder / "net.onnx").write_bytes(raw)
    entry = {
        "schema_version": 1, "id": "onnx-claim",
        "paper": {"title": "VNN-COMP 2022 mnist_fc", "authors": [], "year": 2022, "url": "https://github.com/ChristopherBrix/vnncomp2022_benchmarks"},
        "setting": {"dataset": "mnist", "norm": "linf", "radius": 0.01, "radius_text": "0.01"},
        "result": {"certified_accuracy": 50.0, "sample_selection": {"kind": "indices", "indices": [0, 1, 2, 3]}},
        "certification": {"type": "deterministic", "verifier": "crown", "params": {}},
        "model": {"url": "file://./net.onnx", "sha256": hashlib.sha256(raw).hexdigest(), "format": "onnx",
                  "input_shape": [1, 28, 28], "num_classes": 10},
        "provenance": {"submitter": "tests", "submitted_at": "2026-12-02", "source": "tests"},
        "status": "submitted",
    }
    path = folder / "onnx-claim.json"
    path.write_text(json.dumps(entry))
    report = verify_entry(path, VerifyOptions(data_dir=shared / "artifacts/mnist", cache_dir=tmp_path / "c",
                                              progress=False, device="cpu"))
    assert report["model"]["architecture"] == "onnx" and report["samples"]["index"] == [0, 1, 2, 3]
    assert report["verdict"]["status"] in ("confirmed", "unconfirmed")
