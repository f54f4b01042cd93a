"""Cascades: curator's certificate never breaks under the cascade's real routing, the published
rule does; the real Wong et al. 2018 cascade loads and certifies a few images."""

import pytest
import torch
from torch import nn

from curator.api import VerifyTask
from curator.api.registry import get_registry
from curator.engines.cascade import Cascade, certify_cascade, find_cascade, stage_models, verify_task
from curator.engines.layers import with_normalization
from curator.verify.models import load_model

EPS = 0.08


@pytest.fixture(scope="module")
def registry():
    return get_registry()


def _stage(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(2, 12), nn.ReLU(), nn.Linear(12, 3)).eval()


def _task(model, x, radius=EPS):
    labels = model(x).argmax(1) if not isinstance(model, Cascade) else torch.zeros(len(x), dtype=torch.long)
    return VerifyTask(model=model, inputs=x, labels=labels, indices=list(range(len(x))), norm="linf",
                      radius=radius, params={}, num_classes=3)


def _routed_output(verifier, stages, z):
    """The cascade's answer at each row of z, routed by ``verifier`` at radius EPS around z itself."""
    out = stages[-1](z).argmax(1)
    decided = torch.zeros(len(z), dtype=torch.bool)
    for stage in stages[:-1]:
        certified = torch.tensor([r.status == "certified" for r in verifier.verify(_task(stage, z))])
        take = certified & ~decided
        out[take] = stage(z[take]).argmax(1)
        decided |= certified
    return out


def _ball_grid(center, n=25):
    t = torch.linspace(-EPS, EPS, n)
    g = torch.stack(torch.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
    return (center.reshape(1, 2) + g).clamp(0, 1).reshape(-1, 1, 2)


@pytest.mark.parametrize("verifier_name", ["crown", "ibp"])
def test_certified_samples_hold_under_real_routing(registry, verifier_name):
    verifier = registry.verifier(verifier_name)
    certified_total = 0
    for seed in range(4):
        stages = [_stage(3 * seed + k) for k in range(3)]
        model = Cascade(stages)
        torch.manual_seed(100 + seed)
        x = torch.rand(40, 1, 2)
        results = certify_cascade(verifier, _task(model, x))
        for i, r in enumerate(results):
            routed = _routed_output(verifier, stages, _ball_grid(x[i]))
            if r.status == "certified":
                certified_total += 1
                assert bool((routed == r.predicted).all()), (seed, i, r.extra)
    assert certified_total > 10


def _threshold_stage() -> nn.Sequential:
    """Class 0 left of x1 = 0.5, class 1 right of it (class 2 never): certified iff |x1 - 0.5| > eps."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(2, 3)).eval()
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[-1.0, 0.0], [1.0, 0.0], [0.0, 0.0]]))
        net[1].bias.copy_(torch.tensor([0.5, -0.5, -10.0]))
    return net


def _constant_stage(cls: int) -> nn.Sequential:
    net = nn.Sequential(nn.Flatten(), nn.Linear(2, 3)).eval()
    with torch.no_grad():
        net[1].weight.zero_()
        net[1].bias.copy_(torch.nn.functional.one_hot(torch.tensor(cls), 3).float() * 5)
    return net


@pytest.mark.parametrize("verifier_name", ["crown", "ibp"])
def test_the_published_rule_is_broken_where_curator_refuses(registry, verifier_name):
    # Stage 0 certifies x (margin 1.5 eps), but x' = x + eps·e1 is within eps of its boundary:
    # stage 0 does not certify x', so x' falls through to the last stage, which says class 2.
    verifier = registry.verifier(verifier_name)
    stages = [_threshold_stage(), _constant_stage(2)]
    x = torch.tensor([[[0.5 - 1.5 * EPS, 0.5]]])
    (r,) = certify_cascade(verifier, _task(Cascade(stages), x))
    assert r.extra["stage_status"] == ["certified", "certified"] and r.extra["cascade_stage"] == 0
    assert r.predicted == 0 and r.status == "not_certified"
    routed = _routed_output(verifier, stages, _ball_grid(x[0]))
    assert set(routed.tolist()) == {0, 2}  # the published "certified" sample is broken


def test_a_cascade_needs_every_earlier_stage_to_agree():
    ibp = get_registry().verifier("ibp")
    base = _stage(0)
    other = nn.Sequential(nn.Flatten(), nn.Linear(2, 3)).eval()
    with torch.no_grad():
        other[1].weight.zero_()
        other[1].bias.copy_(torch.tensor([0.0, 0.0, 5.0]))  # always class 2, certified everywhere
    x = torch.rand(20, 1, 2)
    same = certify_cascade(ibp, _task(Cascade([base, base]), x))
    single = ibp.verify(_task(base, x))
    assert [r.status for r in same] == [r.status for r in single]
    mixed = certify_cascade(ibp, _task(Cascade([other, base]), x))
    for r, s in zip(mixed, single, strict=True):
        assert r.status != "certified" or (s.status == "certified" and s.predicted == 2)
        assert r.extra["cascade_stage"] == 0 and r.predicted == 2  # routed to the constant stage


def test_normalisation_prefix_goes_to_every_stage():
    model = with_normalization(Cascade([_stage(1), _stage(2)]), [0.5], [0.25])
    prefix, cascade = find_cascade(model)
    assert len(prefix) == 1 and len(cascade.stages) == 2
    x = torch.rand(4, 1, 2)
    for built, stage in zip(stage_models(model), cascade.stages, strict=True):
        assert torch.allclose(built(x), stage((x - 0.5) / 0.25))


def test_verify_task_passes_plain_models_through(registry):
    crown = registry.verifier("crown")
    x = torch.rand(5, 1, 2)
    model = _stage(3)
    assert [r.status for r in verify_task(crown, _task(model, x))] == [r.status for r in crown.verify(_task(model, x))]


def test_smoothing_cannot_certify_a_cascade(registry):
    with pytest.raises(ValueError, match="deterministic"):
        certify_cascade(registry.verifier("smoothing"), _task(Cascade([_stage(0)]), torch.rand(2, 1, 2)))


def test_real_wong2018_cascade_loads_and_certifies_a_few_images(registry, shared, tmp_path):
    path = shared / "artifacts/models/board/wong2018-scaling-mnist_small_0_3.pth"
    if not path.is_file():
        pytest.skip("wong2018 cascade not in ../shared")
    block = {"url": "https://raw.githubusercontent.com/locuslab/convex_adversarial/x/models_scaled/mnist_small_0_3.pth",
             "format": "state_dict", "state_dict_key": ["state_dict"], "input_shape": [1, 28, 28], "num_classes": 10,
             "architecture": {"name": "cascade", "kwargs": {"stages": [{"name": "wong-kolter-small"}] * 3}}}
    model = load_model(block, path, registry)
    split = registry.dataset("mnist").load(shared / "artifacts/mnist", tmp_path, progress=False)
    x, y = split.take(list(range(8)))
    task = VerifyTask(model=model, inputs=x, labels=y, indices=list(range(8)), norm="linf", radius=0.3, params={},
                      num_classes=10)
    results = verify_task(registry.verifier("ibp"), task)
    assert len(results) == 8
    for r in results:
        assert len(r.extra["stage_status"]) == 3
        if r.status == "certified":
            assert len(set(r.extra["stage_predicted"])) == 1


def test_verify_cli_runs_a_cascade_claim_on_chosen_indices_of_an_npz_file(registry, shared, tmp_path):
    import hashlib
    import json
    import shutil

    import numpy as np
    from click.testing import CliRunner

    from curator.cli import main

    src = shared / "artifacts/models/board/wong2018-scaling-mnist_small_0_3.pth"
    if not src.is_file():
        pytest.skip("wong2018 cascade not in ../shared")
    split = registry.dataset("mnist").load(shared / "artifacts/mnist", tmp_path / "c", progress=False)
    x, y = split.take(list(range(6)))
    npz = tmp_path / "six.npz"
    np.savez(npz, x=x.numpy(), y=y.numpy())
    folder = tmp_path / "claim"
    folder.mkdir()
    shutil.copy(src, folder / "cascade.pth")
    entry = {
        "schema_version": 1, "id": "cascade-claim",
        "paper": {"title": "Scaling provable adversarial defenses", "authors": ["Eric Wong"], "year": 2018,
                  "url": "https://arxiv.org/abs/1805.12514"},
        "setting": {"dataset": "npz", "norm": "linf", "radius": 0.3, "radius_text": "0.3"},
        "result": {"certified_accuracy": 10.0, "sample_selection": {"kind": "indices", "indices": [0, 2, 3]}},
        "certification": {"type": "deterministic", "verifier": "ibp", "params": {}},
        "model": {"url": "file://./cascade.pth", "sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
                  "format": "state_dict", "state_dict_key": ["state_dict"], "input_shape": [1, 28, 28], "num_classes": 10,
                  "architecture": {"name": "cascade", "kwargs": {"stages": [{"name": "wong-kolter-small"}] * 3}}},
        "provenance": {"submitter": "tests", "submitted_at": "2026-12-02", "source": "tests"},
        "status": "submitted",
    }
    path = folder / "cascade-claim.json"
    path.write_text(json.dumps(entry))
    result = CliRunner().invoke(main, ["verify", str(path), "--data-dir", str(npz), "--quiet", "--format", "json",
                                       "--cache-dir", str(tmp_path / "c"), "--device", "cpu"])
    doc = json.loads(result.stdout)
    assert doc["samples"]["index"] == [0, 2, 3]
    assert doc["dataset"]["selection"]["kind"] == "indices"
    assert any("cascade" in n and "attack" in n for n in doc["notes"])
    assert doc["model"]["architecture"] == "cascade"
